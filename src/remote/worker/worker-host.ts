/**
 * What `lego-edit worker` runs: gathers the bricks this host can serve (its
 * working built-ins, the manifest's ComfyUI and ONNX bricks, bricks from code
 * modules), loads ONNX models up front so the log says which execution
 * provider each got, and serves them over HTTP, the queue, or both.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import { brickEnvironment, modelsDirOf } from '../../../bricks/environment.ts';
import { builtinBricks } from '../../../bricks/index.ts';
import type { Config } from '../../config.ts';
import type { AnyBrick } from '../../engine/brick.ts';
import { LegoEditError, errorMessage } from '../../engine/errors.ts';
import { BrickPool } from '../../engine/pool/brick-pool.ts';
import { BrickRegistry } from '../../engine/registry.ts';
import { describeServed } from './brick-runner.ts';
import { createHttpWorkerServer } from './http-worker-server.ts';
import { isWarmable } from '../declared/onnx-brick.ts';
import { type QueueWorkerHandle, startQueueWorker } from './queue-worker.ts';
import { redactRedisUrl } from '../protocol/queue-common.ts';
import type { ServedBrick } from '../client/transport.ts';
import { declaredFromSetting } from '../declared/wiring.ts';

export interface WorkerHostOptions {
  readonly config: Config;
  readonly logger: Logger;
  /** host:port to serve HTTP on (port 0 picks one). */
  readonly listen?: string;
  /** Consume the brick queues on Redis. */
  readonly queue?: boolean;
  /** Serve only these bricks (default: every brick that works here). */
  readonly only?: readonly string[];
  /** Modules exporting `bricks: AnyBrick[]` (custom code bricks). */
  readonly modules?: readonly string[];
  readonly concurrency?: number;
  readonly lockMs?: number;
  readonly stalledMs?: number;
}

export interface WorkerHost {
  readonly httpUrl: string | undefined;
  readonly queues: readonly string[];
  readonly served: readonly ServedBrick[];
  close(): Promise<void>;
}

async function moduleBricks(path: string): Promise<AnyBrick[]> {
  const mod = (await import(pathToFileURL(resolve(path)).href)) as { bricks?: unknown; default?: unknown };
  const list = mod.bricks ?? mod.default;
  if (!Array.isArray(list)) throw new LegoEditError('worker-module', `${path} exports no \`bricks\` array`);
  return list as AnyBrick[];
}

export async function gatherBricks(opts: WorkerHostOptions): Promise<AnyBrick[]> {
  const extra = new BrickRegistry();
  if (opts.config.bricksManifest) for (const b of declaredFromSetting(opts.config.bricksManifest, opts.config, { role: 'worker', logger: opts.logger })) extra.register(b);
  for (const m of opts.modules ?? []) for (const b of await moduleBricks(m)) extra.register(b);
  const builtins = new BrickRegistry(builtinBricks(brickEnvironment(opts.config, opts.logger)));
  // Built-ins serve only where they can run here; the GPU stubs would only refuse. Checking is not free, so only what is asked for.
  const works = async (b: AnyBrick): Promise<boolean> => (b.backends ? (await b.backends()).some((s) => s.available) : true);
  if (!opts.only?.length) {
    const all = new BrickRegistry();
    for (const b of builtins.list()) if (await works(b)) all.register(b);
    for (const b of extra.list()) all.register(b);
    return all.list();
  }
  const picked: AnyBrick[] = [];
  for (const name of opts.only) {
    const b = extra.get(name) ?? builtins.get(name);
    if (!b || (!extra.has(name) && !(await works(b)))) {
      const hint = extra.suggest(name) ?? builtins.suggest(name);
      throw new LegoEditError('worker-bricks', `This worker cannot serve ${name.toUpperCase()}: not a brick that works here.${hint ? ` Did you mean ${hint}?` : ''}`);
    }
    picked.push(b);
  }
  return picked;
}

export async function startWorkerHost(opts: WorkerHostOptions): Promise<WorkerHost> {
  const { config, logger } = opts;
  if (!opts.listen && !opts.queue) throw new LegoEditError('worker-mode', 'Say how to serve: --listen <host:port> for HTTP, --queue for Redis, or both.');
  const bricks = await gatherBricks(opts);
  if (bricks.length === 0) throw new LegoEditError('worker-bricks', 'This worker has no bricks to serve.');
  for (const b of bricks) {
    if (!isWarmable(b)) continue;
    try {
      const provider = await b.warm();
      logger.info({ brick: b.name, provider }, `ONNX model for ${b.name} runs on ${provider.toUpperCase()}`);
    } catch (err) {
      logger.error({ brick: b.name, err: errorMessage(err) }, `ONNX model for ${b.name} failed to load`);
    }
  }
  const served = await Promise.all(bricks.map(describeServed));
  // The CPU-heavy bricks (built-ins, and a module's that say so) run in threads, as in the bot; GPU and declared bricks stay here.
  const pool =
    config.brickThreads === 0
      ? undefined
      : new BrickPool({ bricks, ...(config.brickThreads ? { threads: config.brickThreads } : {}), modelsDir: modelsDirOf(config), modules: opts.modules ?? [], logger });
  let httpUrl: string | undefined;
  let closeHttp: (() => Promise<void>) | undefined;
  let queue: QueueWorkerHandle | undefined;
  try {
    if (opts.listen) {
      if (!config.workerToken) throw new LegoEditError('worker-token', 'An HTTP worker needs LEGO_EDIT_WORKER_TOKEN (a shared secret the bot also sets).');
      const m = /^(.*):(\d+)$/.exec(opts.listen);
      if (!m) throw new LegoEditError('worker-listen', `--listen wants host:port, got ${opts.listen}`);
      const server = createHttpWorkerServer({
        bricks,
        token: config.workerToken,
        maxPayloadBytes: config.remoteMaxBytes,
        maxPixels: config.maxImagePixels,
        jobTimeoutMs: config.remoteJobTimeoutMs,
        encoding: config.remoteEncoding,
        logger,
        ...(pool ? { pool } : {}),
      });
      httpUrl = await server.listen(Number(m[2]), m[1] || '127.0.0.1');
      closeHttp = () => server.close();
    }
    if (opts.queue) {
      if (!config.redisUrl) throw new LegoEditError('worker-redis', 'A queue worker needs REDIS_URL.');
      try {
        queue = await startQueueWorker({
          bricks,
          redisUrl: config.redisUrl,
          prefix: config.queuePrefix,
          concurrency: opts.concurrency ?? 1,
          lockDurationMs: opts.lockMs ?? config.queueLockMs,
          stalledIntervalMs: opts.stalledMs ?? Math.max(500, Math.round((opts.lockMs ?? config.queueLockMs) / 2)),
          jobTimeoutMs: config.remoteJobTimeoutMs,
          maxPayloadBytes: config.remoteMaxBytes,
          maxPixels: config.maxImagePixels,
          blobTtlS: 3600,
          encoding: config.remoteEncoding,
          logger,
          ...(pool ? { pool } : {}),
        });
      } catch (err) {
        if (err instanceof LegoEditError) throw err;
        throw new LegoEditError('worker-redis', `Cannot start the queue worker on ${redactRedisUrl(config.redisUrl)}: ${errorMessage(err)}`);
      }
    }
  } catch (err) {
    await closeHttp?.();
    await pool?.close();
    throw err;
  }
  return {
    httpUrl,
    queues: queue?.queues ?? [],
    served,
    async close() {
      await Promise.all([closeHttp?.(), queue?.close()]);
      await pool?.close();
    },
  };
}
