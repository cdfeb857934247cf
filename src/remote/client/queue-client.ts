/**
 * The bot's side of the queue transport: enqueue a brick job on BullMQ, follow
 * it through QueueEvents (progress, completion, failure), and fetch the result
 * blobs. A watchdog polls the job and the queue's live workers, so a lost event,
 * a queue nobody serves or Redis going away ends the call within a bounded time
 * instead of leaving a turn hanging.
 */
import { randomUUID } from 'node:crypto';
import type * as BullMQ from 'bullmq';
import type { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { CancelledError, LegoEditError, errorMessage } from '../../engine/errors.ts';
import type { Value } from '../../engine/values.ts';
import { QueueUnavailableError, WorkerUnavailableError, fromWireError } from '../protocol/errors.ts';
import {
  type BrickJobData,
  type BrickJobResult,
  type JobProgressData,
  QUEUE_PROTOCOL,
  cancelChannel,
  decodeFailure,
  getBlobs,
  putBlobs,
  queueNameFor,
  redactRedisUrl,
} from '../protocol/queue-common.ts';
import { type BrickTransport, type CallOptions, type ServedBrick, currentCallPriority, receivedWarnings } from './transport.ts';
import { type PixelEncoding, decodeValues, encodeValues } from '../protocol/wire.ts';

export interface QueueTransportOptions {
  readonly redisUrl: string;
  readonly prefix: string;
  /** Tries per job, counting the first; retryable failures and dead workers use them up. */
  readonly attempts: number;
  /** First retry delay; doubles each time. */
  readonly backoffMs: number;
  /** How long a job may wait with no live worker on its queue before the call fails. */
  readonly noWorkerTimeoutMs: number;
  /** How long Redis may be unreachable mid-call before the call fails. */
  readonly redisDownTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly maxPayloadBytes: number;
  readonly maxPixels?: number;
  readonly blobTtlS: number;
  readonly encoding: PixelEncoding;
  /** Connections close after this long with no call in flight, so a CLI run can exit. */
  readonly idleCloseMs?: number;
  /** Watchdog period. */
  readonly pollMs?: number;
  readonly logger: Logger;
}

const PRIORITY = { interactive: 1, batch: 100 } as const;

interface Waiter {
  readonly onProgress?: (p: JobProgressData) => void;
  readonly settle: (outcome: { ok: true; result: BrickJobResult } | { ok: false; error: LegoEditError }) => void;
}

interface Connected {
  /** BullMQ, imported on the first call: a quarter of a second that a bot without a brick queue never pays at start-up. */
  readonly bullmq: typeof BullMQ;
  readonly redis: Redis;
  readonly queues: Map<string, Queue<BrickJobData, BrickJobResult>>;
  readonly events: Map<string, Promise<QueueEvents>>;
}

export class QueueTransport implements BrickTransport {
  readonly kind = 'queue';
  readonly target: string;
  readonly #opts: QueueTransportOptions;
  readonly #log: Logger;
  readonly #waiters = new Map<string, Waiter>();
  #conn: Promise<Connected> | undefined;
  #inFlight = 0;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(opts: QueueTransportOptions) {
    this.#opts = opts;
    this.#log = opts.logger;
    this.target = `${redactRedisUrl(opts.redisUrl)} (prefix ${opts.prefix})`;
  }

  #connect(): Promise<Connected> {
    this.#conn ??= (async () => {
      const [bullmq, { Redis }] = await Promise.all([import('bullmq'), import('ioredis')]);
      const redis = new Redis(this.#opts.redisUrl, {
        lazyConnect: true,
        // Fail commands at once while disconnected; the watchdog decides when that ends the call.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: this.#opts.connectTimeoutMs ?? 3_000,
        retryStrategy: (times) => Math.min(times * 200, 2_000),
      });
      redis.on('error', (err) => this.#log.debug({ err: errorMessage(err) }, 'redis connection error'));
      try {
        await redis.connect();
        await redis.ping();
      } catch (err) {
        redis.disconnect();
        throw new QueueUnavailableError(`The brick queue's Redis at ${redactRedisUrl(this.#opts.redisUrl)} cannot be reached (${(err as { code?: string }).code ?? errorMessage(err)}).`, {
          cause: err,
        });
      }
      return { bullmq, redis, queues: new Map(), events: new Map() };
    })();
    this.#conn.catch(() => {
      this.#conn = undefined;
    });
    return this.#conn;
  }

  #queue(c: Connected, brick: string): Queue<BrickJobData, BrickJobResult> {
    const name = queueNameFor(brick);
    let q = c.queues.get(name);
    if (!q) {
      q = new c.bullmq.Queue<BrickJobData, BrickJobResult>(name, { connection: c.redis, prefix: this.#opts.prefix, streams: { events: { maxLen: 2_000 } } });
      q.on('error', (err) => this.#log.debug({ err: errorMessage(err) }, 'queue error'));
      c.queues.set(name, q);
    }
    return q;
  }

  #events(c: Connected, brick: string): Promise<QueueEvents> {
    const name = queueNameFor(brick);
    let p = c.events.get(name);
    if (!p) {
      const ev = new c.bullmq.QueueEvents(name, {
        connection: { url: this.#opts.redisUrl, maxRetriesPerRequest: null, connectTimeout: this.#opts.connectTimeoutMs ?? 3_000, retryStrategy: (t: number) => Math.min(t * 200, 2_000) },
        prefix: this.#opts.prefix,
        blockingTimeout: 1_000,
      });
      ev.on('error', (err) => this.#log.debug({ err: errorMessage(err) }, 'queue events error'));
      ev.on('progress', ({ jobId, data }) => {
        if (typeof data === 'object' && data !== null) this.#waiters.get(jobId)?.onProgress?.(data as JobProgressData);
      });
      ev.on('completed', ({ jobId, returnvalue }) => {
        const result = (typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as BrickJobResult;
        this.#waiters.get(jobId)?.settle({ ok: true, result });
      });
      ev.on('failed', ({ jobId, failedReason }) => {
        const w = this.#waiters.get(jobId);
        if (w) w.settle({ ok: false, error: this.#failure(brick, failedReason) });
      });
      ev.on('stalled', ({ jobId }) => {
        if (this.#waiters.has(jobId)) this.#log.warn({ brick, jobId }, 'job stalled (its worker died or hung); BullMQ will hand it to another worker');
      });
      p = ev.waitUntilReady().then(() => ev);
      c.events.set(name, p);
    }
    return p;
  }

  #failure(brick: string, reason: string | undefined): LegoEditError {
    const wire = decodeFailure(reason);
    if (wire) return fromWireError(brick, wire);
    if (reason && /stalled more than allowable limit/i.test(reason)) {
      return new WorkerUnavailableError(`${brick}: its workers kept dying while running it; the job was given up.`, { retryable: false });
    }
    return new WorkerUnavailableError(`${brick} failed on the queue: ${reason ?? 'no reason given'}`, { retryable: false });
  }

  async served(): Promise<ServedBrick[]> {
    const c = await this.#connect();
    // A worker names its Redis connections after its queues; list those with a live worker.
    const keys = new Set<string>();
    let cursor = '0';
    do {
      const [next, batch] = await c.redis.scan(cursor, 'MATCH', `${this.#opts.prefix}:brick-*:meta`, 'COUNT', 200);
      cursor = next;
      for (const k of batch) keys.add(k.slice(this.#opts.prefix.length + 1, -':meta'.length));
    } while (cursor !== '0');
    const out: ServedBrick[] = [];
    for (const name of keys) {
      const q = new c.bullmq.Queue(name, { connection: c.redis, prefix: this.#opts.prefix });
      const n = await q.getWorkersCount();
      await q.close();
      if (n > 0) out.push({ name: name.slice('brick-'.length), version: '?', backend: `${n} queue worker${n === 1 ? '' : 's'}` });
    }
    this.#armIdle();
    return out;
  }

  async call(brick: string, inputs: Record<string, Value | null>, options: CallOptions): Promise<Record<string, Value>> {
    this.#inFlight++;
    clearTimeout(this.#idleTimer);
    try {
      return await this.#call(brick, inputs, options);
    } finally {
      this.#inFlight--;
      this.#armIdle();
    }
  }

  async #call(brick: string, inputs: Record<string, Value | null>, options: CallOptions): Promise<Record<string, Value>> {
    if (options.signal.aborted) throw new CancelledError();
    const limits = { maxBytes: this.#opts.maxPayloadBytes, ...(this.#opts.maxPixels !== undefined ? { maxPixels: this.#opts.maxPixels } : {}) };
    const c = await this.#connect();
    const encoded = await encodeValues(inputs, this.#opts.encoding, limits);
    const queue = this.#queue(c, brick);
    const jobId = randomUUID();
    let settle!: Waiter['settle'];
    const done = new Promise<BrickJobResult>((resolve, reject) => {
      let finished = false;
      settle = (o) => {
        if (finished) return;
        finished = true;
        if (o.ok) resolve(o.result);
        else reject(o.error);
      };
    });
    const progress = options.onProgress;
    this.#waiters.set(jobId, { ...(progress ? { onProgress: (p: JobProgressData) => progress(p) } : {}), settle });
    const onAbort = (): void => {
      settle({ ok: false, error: new CancelledError() });
      void this.#cancel(c, queue, jobId);
    };
    options.signal.addEventListener('abort', onAbort, { once: true });
    let watchdog: NodeJS.Timeout | undefined;
    try {
      await putBlobs(c.redis, this.#opts.prefix, encoded.header, encoded.blobs, this.#opts.blobTtlS);
      await this.#events(c, brick);
      await queue.add(
        brick,
        { v: QUEUE_PROTOCOL, brick, inputs: encoded.header, encoding: this.#opts.encoding, ...(options.resample ? { resample: true } : {}) },
        {
          jobId,
          attempts: this.#opts.attempts,
          backoff: { type: 'exponential', delay: this.#opts.backoffMs },
          priority: PRIORITY[options.priority ?? currentCallPriority()],
          removeOnComplete: { age: 600, count: 1000 },
          removeOnFail: { age: 24 * 3600, count: 1000 },
        },
      );
      watchdog = this.#watch(c, queue, brick, jobId, settle);
      const result = await done;
      const blobs = await getBlobs(c.redis, this.#opts.prefix, result.outputs);
      const outputs = (await decodeValues(result.outputs, blobs, limits)) as Record<string, Value>;
      for (const w of receivedWarnings(result.warnings)) options.onWarning?.(w);
      return outputs;
    } catch (err) {
      if (options.signal.aborted) throw new CancelledError();
      if (err instanceof LegoEditError) throw err;
      throw new QueueUnavailableError(`The brick queue failed: ${errorMessage(err)}`, { cause: err });
    } finally {
      clearInterval(watchdog);
      options.signal.removeEventListener('abort', onAbort);
      this.#waiters.delete(jobId);
    }
  }

  /** Polls what events may have missed: a finished job, a queue with no live worker, Redis gone. */
  #watch(c: Connected, queue: Queue<BrickJobData, BrickJobResult>, brick: string, jobId: string, settle: Waiter['settle']): NodeJS.Timeout {
    let noWorkerSince: number | undefined;
    let redisDownSince: number | undefined;
    let busy = false;
    const tick = async (): Promise<void> => {
      const now = performance.now();
      try {
        const state = await queue.getJobState(jobId);
        redisDownSince = undefined;
        if (state === 'completed' || state === 'failed') {
          const job = await queue.getJob(jobId);
          if (state === 'completed' && job?.returnvalue) settle({ ok: true, result: job.returnvalue });
          else if (state === 'failed') settle({ ok: false, error: this.#failure(brick, job?.failedReason) });
          return;
        }
        if (state === 'unknown') {
          settle({ ok: false, error: new WorkerUnavailableError(`${brick}: its job vanished from the queue (removed or expired).`, { retryable: true }) });
          return;
        }
        const workers = await queue.getWorkersCount();
        if (workers > 0) noWorkerSince = undefined;
        else {
          noWorkerSince ??= now;
          if (now - noWorkerSince >= this.#opts.noWorkerTimeoutMs) {
            const none = `none for ${Math.round(this.#opts.noWorkerTimeoutMs / 1000)} s`;
            const start = 'Start one with `lego-edit worker --queue` on a GPU host.';
            // An active job with no worker left means the workers died under it: say so, it is not a configuration gap.
            const message =
              state === 'active'
                ? `${brick} was running when every GPU worker serving it went away; no worker is left to take the job over (${none}). ${start}`
                : `No GPU worker is serving ${brick} on the queue (${none}). ${start}`;
            settle({ ok: false, error: new WorkerUnavailableError(message) });
            // Nobody waits for it any more; a worker started later must not run it for nothing (fails while its dead owner's lock lasts).
            await queue.remove(jobId).catch(() => 0);
          }
        }
      } catch (err) {
        redisDownSince ??= now;
        if (now - redisDownSince >= (this.#opts.redisDownTimeoutMs ?? 5_000)) {
          settle({ ok: false, error: new QueueUnavailableError(`Lost the brick queue's Redis at ${redactRedisUrl(this.#opts.redisUrl)} while running ${brick} (${errorMessage(err)}).`, { cause: err }) });
        }
      }
    };
    return setInterval(() => {
      if (busy) return;
      busy = true;
      void tick().finally(() => {
        busy = false;
      });
    }, this.#opts.pollMs ?? 500);
  }

  async #cancel(c: Connected, queue: Queue<BrickJobData, BrickJobResult>, jobId: string): Promise<void> {
    try {
      // A waiting job is simply removed; a running one is locked, so ask its worker to abort it.
      const removed = await queue.remove(jobId);
      if (!removed) await c.redis.publish(cancelChannel(this.#opts.prefix), jobId);
    } catch (err) {
      this.#log.debug({ jobId, err: errorMessage(err) }, 'cancel failed');
    }
  }

  #armIdle(): void {
    clearTimeout(this.#idleTimer);
    if (this.#inFlight > 0 || !this.#conn) return;
    this.#idleTimer = setTimeout(() => {
      if (this.#inFlight === 0) void this.close();
    }, this.#opts.idleCloseMs ?? 2_000);
  }

  async close(): Promise<void> {
    clearTimeout(this.#idleTimer);
    const pending = this.#conn;
    this.#conn = undefined;
    if (!pending) return;
    let c: Connected;
    try {
      c = await pending;
    } catch {
      return;
    }
    const bounded = <T>(p: Promise<T>): Promise<unknown> => Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, 2_000).unref())]);
    await Promise.all([...c.queues.values()].map((q) => bounded(q.close())));
    await Promise.all([...c.events.values()].map((p) => bounded(p.then((ev) => ev.close()))));
    c.redis.disconnect();
  }
}
