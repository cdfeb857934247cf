import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { type Server, type Socket, createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { AnyBrick } from '../../../src/engine/brick.ts';
import { CancelledError } from '../../../src/engine/errors.ts';
import type { ExecutorEvent } from '../../../src/engine/events.ts';
import { Executor } from '../../../src/engine/executor.ts';
import { BrickRegistry } from '../../../src/engine/registry.ts';
import type { ImageData } from '../../../src/engine/values.ts';
import { parseWorkflow } from '../../../src/engine/workflow/parse.ts';
import { QueueUnavailableError, RemoteBrickError, WorkerUnavailableError } from '../../../src/remote/protocol/errors.ts';
import { QueueTransport, type QueueTransportOptions } from '../../../src/remote/client/queue-client.ts';
import { startQueueWorker } from '../../../src/remote/worker/queue-worker.ts';
import { remoteBrick, withCallPriority } from '../../../src/remote/client/transport.ts';
import { REDIS_URL, describeWithRedis } from '../../support/services.ts';
import { solidImage } from '../../support/test-bricks.ts';
import { REFUSE, SLEEP, SLOW_INVERT, WARN_INVERT } from '../fixtures/test-bricks.ts';
import { TEST_BRICKS_MODULE, type WorkerProcess, spawnWorker, testLogger, uniquePrefix } from '../support.ts';

const describe = await describeWithRedis();

const transports: QueueTransport[] = [];
function client(prefix: string, over: Partial<QueueTransportOptions> = {}): QueueTransport {
  const t = new QueueTransport({
    redisUrl: REDIS_URL,
    prefix,
    attempts: 3,
    backoffMs: 100,
    noWorkerTimeoutMs: 5_000,
    maxPayloadBytes: 16 << 20,
    blobTtlS: 600,
    encoding: 'png',
    pollMs: 200,
    logger: testLogger,
    ...over,
  });
  transports.push(t);
  return t;
}

function inProcessWorker(prefix: string, bricks: AnyBrick[], over: { concurrency?: number; onJob?: Parameters<typeof startQueueWorker>[0]['onJob'] } = {}) {
  return startQueueWorker({
    bricks,
    redisUrl: REDIS_URL,
    prefix,
    concurrency: over.concurrency ?? 1,
    lockDurationMs: 2_000,
    stalledIntervalMs: 1_000,
    jobTimeoutMs: 10_000,
    maxPayloadBytes: 16 << 20,
    blobTtlS: 600,
    encoding: 'png',
    logger: testLogger,
    ...(over.onJob ? { onJob: over.onJob } : {}),
  });
}

afterAll(async () => {
  await Promise.all(transports.map((t) => t.close()));
});

const image = solidImage(16, 16, [10, 100, 250]);

function invertWorkflow(tag: number, ms: number) {
  return parseWorkflow(JSON.stringify({ pipeline: [{ step: 1, model: 'SLOW-INVERT', input: { image: 'init[image]', ms: String(ms), tag: String(tag) }, output: {} }, { result: '[step1[image]]' }] }));
}

describe('BullMQ brick queue', () => {
  it('three worker processes, one SIGKILLed mid-job: every job still completes exactly once from the executor’s point of view', { timeout: 90_000 }, async () => {
    const prefix = uniquePrefix('kill');
    const dir = mkdtempSync(join(tmpdir(), 'lego-queue-'));
    const jobLog = join(dir, 'jobs.log');
    writeFileSync(jobLog, '');
    const env = { REDIS_URL, LEGO_EDIT_QUEUE_PREFIX: prefix, LEGO_TEST_JOB_LOG: jobLog, LEGO_EDIT_DATA_DIR: dir };
    const args = ['--queue', '--module', TEST_BRICKS_MODULE, '--bricks', 'SLOW-INVERT', '--lock-ms', '1500', '--stalled-ms', '500'];
    const workers: WorkerProcess[] = await Promise.all([spawnWorker(args, env), spawnWorker(args, env), spawnWorker(args, env)]);
    try {
      const registry = new BrickRegistry([remoteBrick(SLOW_INVERT, client(prefix))]);
      const executor = new Executor(registry, { cacheBytes: 0 });
      const finished = new Map<number, number>();
      const runs = Array.from({ length: 6 }, (_, i) =>
        executor.run(invertWorkflow(i + 1, 1_200), { image }, {
          onEvent: (e: ExecutorEvent) => {
            if (e.type === 'step-finished') finished.set(i, (finished.get(i) ?? 0) + 1);
          },
        }),
      );
      // Wait until some worker is mid-job, then kill it without a chance to clean up.
      let victim: WorkerProcess | undefined;
      for (let t = 0; t < 100 && !victim; t++) {
        await new Promise((r) => setTimeout(r, 100));
        const started = readFileSync(jobLog, 'utf8').split('\n').filter((l) => l.includes(' start '));
        victim = workers.find((w) => started.some((l) => l.startsWith(`${w.ready.pid} `)));
      }
      expect(victim).toBeDefined();
      await victim!.stop('SIGKILL');

      const outcomes = await Promise.all(runs);
      for (const o of outcomes) {
        expect(o.status).toBe('ok');
        if (o.status === 'ok') expect([...(o.results[0] as ImageData).data.slice(0, 3)]).toEqual([245, 155, 5]);
      }
      expect([...finished.values()]).toEqual([1, 1, 1, 1, 1, 1]);
      const lines = readFileSync(jobLog, 'utf8').trim().split('\n');
      // The victim started a job it never finished; survivors finished each tag once.
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${victim!.ready.pid} start`)));
      expect(lines.filter((l) => l.startsWith(`${victim!.ready.pid} done`)).length).toBeLessThan(lines.filter((l) => l.startsWith(`${victim!.ready.pid} start`)).length);
      const done = lines.filter((l) => l.includes(' done ')).map((l) => l.split(' ')[2]);
      expect(done.sort()).toEqual(['1', '2', '3', '4', '5', '6']);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
  });

  it('all three worker processes SIGKILLed mid-job: the run fails with WorkerUnavailableError within a bounded time, saying what happened', { timeout: 90_000 }, async () => {
    const prefix = uniquePrefix('killall');
    const dir = mkdtempSync(join(tmpdir(), 'lego-queue-'));
    const jobLog = join(dir, 'jobs.log');
    writeFileSync(jobLog, '');
    const env = { REDIS_URL, LEGO_EDIT_QUEUE_PREFIX: prefix, LEGO_TEST_JOB_LOG: jobLog, LEGO_EDIT_DATA_DIR: dir };
    const args = ['--queue', '--module', TEST_BRICKS_MODULE, '--bricks', 'SLOW-INVERT', '--lock-ms', '1500', '--stalled-ms', '500'];
    const workers: WorkerProcess[] = await Promise.all([spawnWorker(args, env), spawnWorker(args, env), spawnWorker(args, env)]);
    const noWorkerMs = 1_500;
    try {
      const executor = new Executor(new BrickRegistry([remoteBrick(SLOW_INVERT, client(prefix, { noWorkerTimeoutMs: noWorkerMs }))]), { cacheBytes: 0 });
      // Jobs far longer than the test: only the failure path can end these runs in time.
      const runs = [1, 2, 3].map((tag) => executor.run(invertWorkflow(tag, 60_000), { image }));
      const busy = (): Set<string> => new Set(readFileSync(jobLog, 'utf8').split('\n').filter((l) => l.includes(' start ')).map((l) => l.split(' ')[0]!));
      for (let t = 0; t < 150 && busy().size < workers.length; t++) await new Promise((r) => setTimeout(r, 100));
      expect(busy().size).toBe(3);
      await Promise.all(workers.map((w) => w.stop('SIGKILL')));

      const t0 = performance.now();
      const outcomes = await Promise.all(runs);
      expect(performance.now() - t0).toBeLessThan(noWorkerMs + 8_000);
      for (const o of outcomes) {
        expect(o.status).toBe('failed');
        if (o.status !== 'failed') continue;
        expect(o.error.cause).toBeInstanceOf(WorkerUnavailableError);
        expect(o.error.message).toMatch(/SLOW-INVERT was running when every GPU worker serving it went away; no worker is left to take the job over \(none for 2 s\)/);
        expect(o.error.message).toMatch(/lego-edit worker --queue/);
      }
      expect(readFileSync(jobLog, 'utf8')).not.toMatch(/ done /);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
  });

  it('carries a remote step’s progress to the executor’s step-progress events, in order, before the step finishes', async () => {
    const prefix = uniquePrefix('progress');
    const worker = await inProcessWorker(prefix, [SLOW_INVERT]);
    try {
      const executor = new Executor(new BrickRegistry([remoteBrick(SLOW_INVERT, client(prefix))]), { cacheBytes: 0 });
      const events: ExecutorEvent[] = [];
      const out = await executor.run(invertWorkflow(1, 600), { image }, { onEvent: (e) => events.push(e) });
      expect(out.status).toBe('ok');
      const progress = events.flatMap((e) => (e.type === 'step-progress' ? [[e.step, e.brick, e.fraction, e.message]] : []));
      expect(progress).toEqual([
        [1, 'SLOW-INVERT', 0.25, 'quarter 1'],
        [1, 'SLOW-INVERT', 0.5, 'quarter 2'],
        [1, 'SLOW-INVERT', 0.75, 'quarter 3'],
        [1, 'SLOW-INVERT', 1, 'quarter 4'],
      ]);
      const finished = events.findIndex((e) => e.type === 'step-finished');
      expect(events.findLastIndex((e) => e.type === 'step-progress')).toBeLessThan(finished);
    } finally {
      await worker.close();
    }
  });

  it('brings a brick’s warnings back with its outputs, into the run outcome', async () => {
    const prefix = uniquePrefix('warn');
    const worker = await inProcessWorker(prefix, [WARN_INVERT]);
    try {
      const executor = new Executor(new BrickRegistry([remoteBrick(WARN_INVERT, client(prefix))]), { cacheBytes: 0 });
      const workflow = parseWorkflow(JSON.stringify({ pipeline: [{ step: 1, model: 'WARN-INVERT', input: { image: 'init[image]' }, output: {} }, { result: '[step1[image]]' }] }));
      const out = await executor.run(workflow, { image });
      expect(out.status).toBe('ok');
      if (out.status !== 'ok') return;
      expect(out.warnings.map((w) => w.message)).toEqual(['Step 1 (WARN-INVERT): inverted the colours; this is only a test']);
    } finally {
      await worker.close();
    }
  });

  it('fails with a clear message within a bounded time when no worker serves the brick', async () => {
    const t = client(uniquePrefix('none'), { noWorkerTimeoutMs: 1_000 });
    const t0 = performance.now();
    const err = await t.call('SLOW-INVERT', { image }, { signal: AbortSignal.timeout(20_000) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerUnavailableError);
    expect((err as Error).message).toMatch(/No GPU worker is serving SLOW-INVERT/);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it('reports Redis down at start-up at once, naming the host but no password', async () => {
    const t = client('x', { redisUrl: 'redis://:hunter2secret@127.0.0.1:1', connectTimeoutMs: 1_000 });
    const t0 = performance.now();
    const err = await t.call('SLEEP', { image }, { signal: AbortSignal.timeout(20_000) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueUnavailableError);
    expect((err as Error).message).toMatch(/redis:\/\/127\.0\.0\.1:1 cannot be reached/);
    expect((err as Error).message).not.toContain('hunter2');
    expect(performance.now() - t0).toBeLessThan(3_000);
  });

  it('a worker started with Redis down exits with one clear line instead of hanging', async () => {
    const err = await spawnWorker(['--queue', '--module', TEST_BRICKS_MODULE, '--bricks', 'SLEEP'], { REDIS_URL: 'redis://:hunter2secret@127.0.0.1:1' }, 30_000).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/exited \(1\)/);
    expect((err as Error).message).toMatch(/Redis at redis:\/\/127\.0\.0\.1:1 cannot be reached/);
    expect((err as Error).message).not.toContain('hunter2');
  });

  it('fails the call within a bounded time when Redis goes away mid-job', async () => {
    const prefix = uniquePrefix('down');
    const worker = await inProcessWorker(prefix, [SLOW_INVERT]);
    // The bot reaches Redis through a proxy we can cut; the worker stays connected directly.
    const sockets = new Set<Socket>();
    const target = new URL(REDIS_URL);
    const proxy: Server = createServer((s) => {
      const up = connect(Number(target.port || 6379), target.hostname);
      sockets.add(s).add(up);
      s.pipe(up).pipe(s);
      s.on('error', () => up.destroy());
      up.on('error', () => s.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    const port = (proxy.address() as { port: number }).port;
    try {
      const t = client(prefix, { redisUrl: `redis://127.0.0.1:${port}`, redisDownTimeoutMs: 1_500, connectTimeoutMs: 500 });
      const call = t.call('SLOW-INVERT', { image, ms: 8_000 }, { signal: AbortSignal.timeout(30_000) }).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 800));
      const t0 = performance.now();
      proxy.close();
      for (const s of sockets) s.destroy();
      const err = await call;
      expect(err).toBeInstanceOf(QueueUnavailableError);
      expect((err as Error).message).toMatch(/Lost the brick queue's Redis/);
      expect(performance.now() - t0).toBeLessThan(6_000);
    } finally {
      proxy.close();
      await worker.close();
    }
  });

  it('does not retry a failure no retry can fix, and rebuilds its typed error', async () => {
    const prefix = uniquePrefix('refuse');
    let starts = 0;
    const worker = await inProcessWorker(prefix, [REFUSE], { onJob: (e) => void (e.phase === 'start' && starts++) });
    try {
      const err = await client(prefix).call('REFUSE', { image }, { signal: AbortSignal.timeout(10_000) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteBrickError);
      expect((err as RemoteBrickError).code).toBe('brick-input');
      expect(starts).toBe(1);
    } finally {
      await worker.close();
    }
  });

  it('runs interactive jobs before queued batch jobs', async () => {
    const prefix = uniquePrefix('prio');
    let started = 0;
    const worker = await inProcessWorker(prefix, [SLEEP], { onJob: (e) => void (e.phase === 'start' && started++) });
    try {
      const t = client(prefix);
      const done: string[] = [];
      const call = (label: string, priority: 'batch' | 'interactive') =>
        withCallPriority(priority, () => t.call('SLEEP', { image, ms: 300 }, { signal: AbortSignal.timeout(20_000) })).then(() => void done.push(label));
      const batch = [call('b1', 'batch'), call('b2', 'batch'), call('b3', 'batch'), call('b4', 'batch')];
      // Once the first batch job runs (the rest wait behind it), add an interactive one.
      while (started === 0) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 50));
      const interactive = call('i1', 'interactive');
      await Promise.all([...batch, interactive]);
      // One batch job was already running (which one depends on the order the four concurrent adds
      // reached Redis); the interactive job overtakes the three batch jobs still waiting.
      expect(done[0]).toMatch(/^b/);
      expect(done[1]).toBe('i1');
      expect([...done].sort()).toEqual(['b1', 'b2', 'b3', 'b4', 'i1']);
    } finally {
      await worker.close();
    }
  });

  it('cancels a running job on its worker when the turn is cancelled', async () => {
    const prefix = uniquePrefix('cancel');
    const phases: string[] = [];
    const worker = await inProcessWorker(prefix, [SLOW_INVERT], { onJob: (e) => void phases.push(e.phase) });
    try {
      const ac = new AbortController();
      const call = client(prefix).call('SLOW-INVERT', { image, ms: 5_000 }, { signal: ac.signal });
      while (!phases.includes('start')) await new Promise((r) => setTimeout(r, 50));
      ac.abort();
      await expect(call).rejects.toBeInstanceOf(CancelledError);
      for (let i = 0; i < 40 && !phases.includes('failed'); i++) await new Promise((r) => setTimeout(r, 50));
      expect(phases).toEqual(['start', 'failed']);
    } finally {
      await worker.close();
    }
  });
});
