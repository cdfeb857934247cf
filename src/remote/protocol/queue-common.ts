/** What the queue client and the queue worker agree on: names, key layout, job shapes, failure encoding. */
import type { Redis } from 'ioredis';
import { LegoEditError } from '../../engine/errors.ts';
import { type WireError, PayloadIntegrityError, WireFormatError, isWireError } from './errors.ts';
import { type WireValues, blobRefs, sha256 } from './wire.ts';

export const QUEUE_PROTOCOL = 1;

/** One BullMQ queue per brick, so a worker takes only the bricks it serves. */
export function queueNameFor(brick: string): string {
  return `brick-${brick.toUpperCase().replace(/[^A-Z0-9_-]/g, '_')}`;
}

export function blobKey(prefix: string, hash: string): string {
  return `${prefix}:blob:${hash}`;
}

export function cancelChannel(prefix: string): string {
  return `${prefix}:cancel`;
}

export interface BrickJobData {
  readonly v: number;
  readonly brick: string;
  readonly inputs: WireValues;
  /** How the caller wants results encoded. */
  readonly encoding?: 'png' | 'raw';
  /** A new sample was asked for ("try again"): the brick draws a fresh seed. */
  readonly resample?: boolean;
}

export interface BrickJobResult {
  readonly outputs: WireValues;
  /** What the brick warned about (`ctx.warn`), for the caller's run outcome. */
  readonly warnings?: readonly string[];
}

export interface JobProgressData {
  readonly fraction?: number;
  readonly message?: string;
}

/** Job failure reasons carry a typed error, so the client can rebuild it. */
const FAILURE_MARK = 'lego-edit-error:';

export function encodeFailure(wire: WireError): string {
  return FAILURE_MARK + JSON.stringify(wire);
}

export function decodeFailure(reason: string | undefined): WireError | undefined {
  if (!reason?.startsWith(FAILURE_MARK)) return undefined;
  try {
    const parsed: unknown = JSON.parse(reason.slice(FAILURE_MARK.length));
    return isWireError(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** A Redis URL fit for logs and messages: host and port, never the password. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname && u.pathname !== '/' ? u.pathname : ''}`;
  } catch {
    return 'redis (unparsable URL)';
  }
}

/** Stores blobs under their hash with a TTL; a blob already there (a retry, the same photo) is only refreshed. */
export async function putBlobs(redis: Redis, prefix: string, header: WireValues, blobs: readonly Buffer[], ttlS: number): Promise<void> {
  const refs = blobRefs(header);
  if (refs.length === 0) return;
  const p = redis.pipeline();
  for (const r of refs) p.set(blobKey(prefix, r.sha256), blobs[r.index]!, 'EX', ttlS);
  const results = await p.exec();
  for (const [err] of results ?? []) if (err) throw err;
}

/** Fetches the blobs a header names, in index order, checking each against its hash. */
export async function getBlobs(redis: Redis, prefix: string, header: WireValues): Promise<Buffer[]> {
  const refs = blobRefs(header);
  const blobs: Buffer[] = [];
  for (const r of refs) {
    const buf = await redis.getBuffer(blobKey(prefix, r.sha256));
    if (!buf) throw new LegoEditError('blob-missing', `A payload blob expired or was evicted from Redis before it was read (${r.sha256.slice(0, 12)}…).`, { retryable: false });
    if (sha256(buf) !== r.sha256) throw new PayloadIntegrityError(`blob ${r.sha256.slice(0, 12)}`);
    blobs[r.index] = buf;
  }
  for (let i = 0; i < blobs.length; i++) if (!blobs[i]) throw new WireFormatError(`blob index ${i} is not referenced`);
  return blobs;
}
