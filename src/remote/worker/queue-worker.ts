/**
 * The worker side of the queue transport: one BullMQ Worker per served brick.
 * BullMQ gives the fault handling: a worker that dies loses its job lock, and
 * the stalled-job check of any surviving worker puts the job back in the
 * queue. Failures that cannot succeed on retry are thrown as
 * UnrecoverableError so BullMQ does not spend attempts on them.
 */
import { UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AnyBrick } from '../../engine/brick.ts';
import { errorMessage } from '../../engine/errors.ts';
import type { BrickPool } from '../../engine/pool/brick-pool.ts';
import { runServedBrick } from './brick-runner.ts';
import { toWireError } from '../protocol/errors.ts';
import {
  type BrickJobData,
  type BrickJobResult,
  type JobProgressData,
  QUEUE_PROTOCOL,
  cancelChannel,
  encodeFailure,
  getBlobs,
  putBlobs,
  queueNameFor,
  redactRedisUrl,
} from '../protocol/queue-common.ts';
import { type PixelEncoding, decodeValues, encodeValues } from '../protocol/wire.ts';

export interface QueueWorkerOptions {
  readonly bricks: readonly AnyBrick[];
  /** Threads for the CPU-heavy bricks, so a job's inference does not stall lock renewal and progress. */
  readonly pool?: BrickPool;
  readonly redisUrl: string;
  readonly prefix: string;
  /** Jobs one process runs at once, per brick. */
  readonly concurrency: number;
  /** How long a job's lock lasts without renewal: the time until a dead worker's job is given to another. */
  readonly lockDurationMs: number;
  /** How often this worker looks for stalled jobs of dead workers. */
  readonly stalledIntervalMs: number;
  readonly jobTimeoutMs: number;
  readonly maxPayloadBytes: number;
  readonly maxPixels?: number;
  readonly blobTtlS: number;
  readonly encoding: PixelEncoding;
  readonly logger: Logger;
  /** Called when a job starts and ends, for tests and metrics. */
  readonly onJob?: (e: { brick: string; jobId: string; phase: 'start' | 'done' | 'failed' }) => void;
}

export interface QueueWorkerHandle {
  readonly queues: readonly string[];
  close(): Promise<void>;
}

function connectionOptions(url: string) {
  return {
    url,
    // Workers keep retrying Redis in the background: a restarted Redis resumes service without a restart here.
    maxRetriesPerRequest: null,
    connectTimeout: 5_000,
    retryStrategy: (times: number) => Math.min(times * 250, 3_000),
  };
}

/** Checks Redis answers before starting, so a wrong URL fails at start-up with one clear line. */
export async function pingRedis(url: string, timeoutMs: number): Promise<void> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: timeoutMs, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    await r.ping();
  } catch (err) {
    throw new Error(`Redis at ${redactRedisUrl(url)} cannot be reached (${(err as { code?: string }).code ?? errorMessage(err)}).`, { cause: err });
  } finally {
    r.disconnect();
  }
}

export async function startQueueWorker(opts: QueueWorkerOptions): Promise<QueueWorkerHandle> {
  const log = opts.logger;
  const where = redactRedisUrl(opts.redisUrl);
  await pingRedis(opts.redisUrl, 5_000);
  const blobs = new Redis(opts.redisUrl, { maxRetriesPerRequest: 2, connectTimeout: 5_000 });
  blobs.on('error', (err) => log.debug({ err: errorMessage(err) }, 'redis blob connection error'));
  const limits = { maxBytes: opts.maxPayloadBytes, ...(opts.maxPixels !== undefined ? { maxPixels: opts.maxPixels } : {}) };

  const workers: Worker[] = [];
  for (const brick of opts.bricks) {
    const queueName = queueNameFor(brick.name);
    const worker = new Worker<BrickJobData, BrickJobResult>(
      queueName,
      async (job, _token, signal) => {
        const jobLog = log.child({ brick: brick.name, jobId: job.id, attempt: job.attemptsMade + 1 });
        opts.onJob?.({ brick: brick.name, jobId: job.id ?? '', phase: 'start' });
        try {
          if (job.data.v !== QUEUE_PROTOCOL) throw new UnrecoverableError(encodeFailure({ code: 'wire-format', message: `job protocol ${job.data.v}, this worker speaks ${QUEUE_PROTOCOL}`, retryable: false }));
          const inputs = await decodeValues(job.data.inputs, await getBlobs(blobs, opts.prefix, job.data.inputs), limits);
          let lastSent = 0;
          const { outputs, warnings } = await runServedBrick(brick, inputs, {
            signal: signal ?? new AbortController().signal,
            logger: jobLog,
            timeoutMs: opts.jobTimeoutMs,
            ...(job.data.resample === true ? { resample: true } : {}),
            ...(opts.pool ? { pool: opts.pool } : {}),
            onProgress: (p) => {
              // Progress goes through Redis streams; a brick reporting per pixel row must not flood them.
              const now = performance.now();
              if (now - lastSent < 100 && p.fraction !== 1) return;
              lastSent = now;
              const data: JobProgressData = { ...(p.fraction !== undefined ? { fraction: p.fraction } : {}), ...(p.message !== undefined ? { message: p.message } : {}) };
              job.updateProgress(data as object).catch((err: unknown) => jobLog.debug({ err: errorMessage(err) }, 'progress update failed'));
            },
          });
          const encoded = await encodeValues(outputs, job.data.encoding === 'raw' || job.data.encoding === 'png' ? job.data.encoding : opts.encoding, limits);
          await putBlobs(blobs, opts.prefix, encoded.header, encoded.blobs, opts.blobTtlS);
          opts.onJob?.({ brick: brick.name, jobId: job.id ?? '', phase: 'done' });
          return { outputs: encoded.header, ...(warnings.length ? { warnings: [...warnings] } : {}) };
        } catch (err) {
          opts.onJob?.({ brick: brick.name, jobId: job.id ?? '', phase: 'failed' });
          if (err instanceof UnrecoverableError) throw err;
          const wire = toWireError(err);
          jobLog.warn({ code: wire.code, err: wire.message, retryable: wire.retryable }, 'job failed');
          throw wire.retryable ? new Error(encodeFailure(wire)) : new UnrecoverableError(encodeFailure(wire));
        }
      },
      {
        connection: connectionOptions(opts.redisUrl),
        prefix: opts.prefix,
        concurrency: opts.concurrency,
        lockDuration: opts.lockDurationMs,
        stalledInterval: opts.stalledIntervalMs,
        // One death is bad luck; a job that kills two workers is probably the cause.
        maxStalledCount: 2,
        removeOnComplete: { age: 600, count: 1000 },
        removeOnFail: { age: 24 * 3600, count: 1000 },
      },
    );
    worker.on('error', (err) => log.warn({ queue: queueName, err: errorMessage(err) }, `queue worker error (${where})`));
    workers.push(worker);
  }
  await Promise.all(workers.map((w) => w.waitUntilReady()));

  // Cancellation of a running job arrives as a message; the worker holding it aborts its signal.
  const sub = new Redis(opts.redisUrl, { maxRetriesPerRequest: null, connectTimeout: 5_000 });
  sub.on('error', (err) => log.debug({ err: errorMessage(err) }, 'redis subscriber error'));
  await sub.subscribe(cancelChannel(opts.prefix));
  sub.on('message', (_channel: string, jobId: string) => {
    for (const w of workers) if (w.cancelJob(jobId, 'cancelled by the bot')) log.info({ jobId }, 'job cancelled');
  });

  log.info({ redis: where, prefix: opts.prefix, bricks: opts.bricks.map((b) => b.name) }, 'queue worker started');
  return {
    queues: workers.map((w) => w.name),
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      sub.disconnect();
      blobs.disconnect();
    },
  };
}
