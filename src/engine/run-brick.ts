/**
 * Where a step's brick runs, for every place that runs one (the Executor,
 * `lego-edit worker`): in the worker-thread pool when the pool serves it (the
 * CPU-heavy built-ins), else in this thread. The context's `runBrick` does the
 * same for a brick that a wrapper stands in for (GPU routing's CPU variant).
 */
import type { AnyBrick, BrickContext } from './brick.ts';
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
