/**
 * Where a step's brick runs, for every place that runs one (the Executor,
 * `lego-edit worker`): in the worker-thread pool when the pool serves it (the
 * CPU-heavy built-ins), else in this thread. The context's `runBrick` does the
 * same for a brick that a wrapper stands in for (GPU routing's CPU variant).
 */
import type { AnyBrick, BrickContext } from './brick.ts';
import { CancelledError } from './errors.ts';
import type { BrickPool } from './pool/brick-pool.ts';
import type { Value } from './values.ts';

/** Runs `brick` where it belongs; `leave` names Image outputs the pool may keep in its thread (nothing reads them). */
export function runBrickWhereServed(
  pool: BrickPool | undefined,
  brick: AnyBrick,
  args: Record<string, Value | null>,
  ctx: Omit<BrickContext, 'runBrick'>,
  leave: readonly string[] = [],
): Promise<Record<string, Value>> {
  const full: BrickContext = { ...ctx, runBrick: (b, inputs) => runBrickWhereServed(pool, b, inputs, ctx) };
  return pool?.serves(brick) ? pool.run(brick, args, full, { leave }) : (brick.run(args as never, full) as Promise<Record<string, Value>>);
}

/**
 * Runs `fn` with a signal that aborts on `cancel` or after `limitMs`, and
 * never waits past either, even for work that ignores its signal: it rejects
 * with `timedOut()` when the time ran out, CancelledError when cancelled.
 */
export async function withDeadline<T>(cancel: AbortSignal, limitMs: number, timedOut: () => Error, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const timeout = AbortSignal.timeout(limitMs);
  const signal = AbortSignal.any([cancel, timeout]);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(timeout.aborted && !cancel.aborted ? timedOut() : new CancelledError());
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([fn(signal), aborted]);
  } finally {
    // Node holds a timeout-linked signal, and through this listener everything the work reached (a run's inputs,
    // every step's pixels), until the listener goes or the timer fires: minutes after the work ended, megabytes a turn.
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
