/** What the main thread and the pool's threads send each other. */
import type { MessagePort } from 'node:worker_threads';
import type { BrickProgress } from '../brick.ts';
import type { Value } from '../values.ts';
import type { SerialisedError } from './worker-errors.ts';

/** Given to every thread at start. */
export interface PoolWorkerData {
  readonly modelsDir?: string;
  readonly logLevel: string;
  /** Absolute paths of modules whose `bricks` the threads serve too (tests, `lego-edit worker --module`). */
  readonly modules: readonly string[];
}

export type PoolTask =
  | {
      readonly type: 'run';
      readonly brick: string;
      readonly inputs: Record<string, Value | null>;
      readonly port: MessagePort;
      /** The brick's context asked for a fresh sample ("try again"). */
      readonly resample: boolean;
      /** Outputs the caller does not read: not sent back. */
      readonly leave?: readonly string[];
    }
  | { readonly type: 'warm' };

export type TaskReply =
  | { readonly ok: true; readonly outputs: Record<string, Value | null | undefined>; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly error: SerialisedError };

/** Sent as the thread begins the brick, then progress while it runs. */
export type WorkerMessage = { readonly type: 'started' } | ({ readonly type: 'progress' } & BrickProgress);

/** What a warm-up task reports: the thread's own heap and its off-heap memory (wasm, tensors). */
export interface WarmReply {
  readonly ok: true;
  readonly heapUsed: number;
  readonly external: number;
}

/** Below this a buffer is copied: transferring costs a detach and cannot take Node's pooled small Buffers. */
const MIN_TRANSFER_BYTES = 64 * 1024;

/**
 * The ArrayBuffers of pixel values that can move to the other thread without a
 * copy: those a value owns whole. A view into a larger buffer (or a shared one)
 * is left to structured cloning.
 */
export function outputTransfers(values: Record<string, Value | null | undefined>): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const v of Object.values(values)) {
    if (v === null || v === undefined || typeof v !== 'object') continue;
    const buf = v.data.buffer;
    if (!(buf instanceof ArrayBuffer) || v.data.byteOffset !== 0 || v.data.byteLength !== buf.byteLength || buf.byteLength < MIN_TRANSFER_BYTES) continue;
    out.add(buf);
  }
  return [...out];
}
