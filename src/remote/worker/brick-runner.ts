/**
 * The worker side of a remote call, shared by the HTTP server and the queue
 * worker: check what arrived against the brick's ports (the bot validated
 * already, but a worker must not trust the network), run it with a deadline,
 * and check what it returned as the bot's Executor does.
 */
import type { Logger } from 'pino';
import type { AnyBrick, BackendStatus, BrickProgress } from '../../engine/brick.ts';
import { isRequired, literalSchema } from '../../engine/brick.ts';
import { BrickInputError, LegoEditError } from '../../engine/errors.ts';
import type { Value } from '../../engine/values.ts';
import { typeOfValue } from '../../engine/values.ts';
import { checkedOutputs } from '../../engine/brick-outputs.ts';
import { runBrickWhereServed, withDeadline } from '../../engine/run-brick.ts';
import { fitToInputs } from '../client/full-size.ts';
import type { ServedBrick } from '../client/transport.ts';
import type { BrickPool } from '../../engine/pool/brick-pool.ts';

export class BrickTimeoutError extends LegoEditError {
  constructor(brick: string, ms: number) {
    super('remote-timeout', `${brick} took longer than ${ms} ms on the worker and was stopped.`, { retryable: true });
  }
}

export function checkInputs(brick: AnyBrick, values: Record<string, Value | null>): Record<string, Value | null> {
  const out: Record<string, Value | null> = {};
  for (const name of Object.keys(values)) {
    if (!(name in brick.inputs)) throw new BrickInputError(brick.name, `unknown input "${name}"`);
  }
  for (const [name, spec] of Object.entries(brick.inputs)) {
    let v = values[name] ?? null;
    if (v === null) {
      if (spec.default !== undefined) v = spec.default;
      else if (isRequired(spec)) throw new BrickInputError(brick.name, `input "${name}" is required`);
    }
    if (v !== null && typeOfValue(v) !== spec.type) throw new BrickInputError(brick.name, `input "${name}" is ${typeOfValue(v)}, expected ${spec.type}`);
    if (v !== null && (spec.type === 'Str' || spec.type === 'Float')) {
      const parsed = literalSchema(spec)?.safeParse(v);
      if (parsed && !parsed.success) throw new BrickInputError(brick.name, `input "${name}": ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      if (parsed?.success) v = parsed.data;
    }
    out[name] = v;
  }
  return out;
}

export interface ServeOptions {
  readonly signal: AbortSignal;
  readonly onProgress: (p: BrickProgress) => void;
  readonly logger: Logger;
  readonly timeoutMs: number;
  /** The caller asked for a fresh sample ("try again"). */
  readonly resample?: boolean;
  /** Worker threads for the CPU-heavy bricks, as the bot's Executor has; without one they run on the main thread. */
  readonly pool?: BrickPool;
}

/** What a served brick returned, and what it warned about on the way (sent back with the outputs). */
export interface ServedResult {
  readonly outputs: Record<string, Value>;
  readonly warnings: readonly string[];
}

/** Runs a served brick; never waits past its deadline or a cancellation, even for a brick that ignores its signal. */
export async function runServedBrick(brick: AnyBrick, inputs: Record<string, Value | null>, opts: ServeOptions): Promise<ServedResult> {
  const args = checkInputs(brick, inputs);
  // A brick that declares its own limit (a manifest's timeoutMs for a slow GPU workflow) gets it.
  const limitMs = brick.timeoutMs ?? opts.timeoutMs;
  const warnings: string[] = [];
  const warn = (message: string): void => void warnings.push(message);
  const out = await withDeadline(opts.signal, limitMs, () => new BrickTimeoutError(brick.name, limitMs), (signal) =>
    runBrickWhereServed(opts.pool, brick, args, { signal, progress: opts.onProgress, logger: opts.logger, warn, ...(opts.resample ? { resample: true } : {}) }),
  );
  // The Executor's own check: a malformed value fails here as this brick's `brick-output`, not in the encoder.
  const checked = checkedOutputs(brick, out);
  // Whatever size the brick's model worked at, the bot gets its picture's size back, untouched outside the mask.
  const result = await fitToInputs(brick, args, checked, 'off-size');
  return { outputs: result, warnings };
}

/** The name of the backend a served brick will use here, for the worker's list. */
export async function describeServed(brick: AnyBrick): Promise<ServedBrick> {
  let active: BackendStatus | undefined = { name: 'in-process', available: true };
  if (brick.backends) active = (await brick.backends()).find((b) => b.available);
  return { name: brick.name, version: brick.version, backend: active ? `${active.name}${active.detail ? ` (${active.detail})` : ''}` : 'unavailable' };
}
