import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLUX_RCM } from '../../../bricks/edit/flux-rcm.ts';
import { FLUX_STYLE } from '../../../bricks/edit/flux-style.ts';
import { builtinBricks } from '../../../bricks/index.ts';
import { loadConfig } from '../../../src/config.ts';
import { BrickUnavailableError, NeedsGpuHostError } from '../../../src/engine/errors.ts';
import type { ExecutorEvent } from '../../../src/engine/events.ts';
import { Executor } from '../../../src/engine/executor.ts';
import { BrickRegistry } from '../../../src/engine/registry.ts';
import type { ImageData, MaskData } from '../../../src/engine/values.ts';
import { makeMask } from '../../../src/engine/values.ts';
import { parseWorkflow } from '../../../src/engine/workflow/parse.ts';
import { type HttpWorkerServer, createHttpWorkerServer } from '../../../src/remote/worker/http-worker-server.ts';
import { decideRoute, offersGpuHost, routeText, withGpuHost } from '../../../src/remote/client/gpu-host.ts';
import type { BrickTransport } from '../../../src/remote/client/transport.ts';
import type { AnyBrick } from '../../../src/engine/brick.ts';
import type { Value } from '../../../src/engine/values.ts';
import { type RemoteWiring, wireRemoteBricks } from '../../../src/remote/declared/wiring.ts';
import { call } from '../../bricks/edit/support.ts';
import { solidImage } from '../../support/test-bricks.ts';
import { standInStyle } from '../fixtures/gpu-stand-ins.ts';
import { type WorkerProcess, spawnWorker, testLogger } from '../support.ts';

const TOKEN = 'gpu-host-test-token';
const STAND_INS = fileURLToPath(new URL('../fixtures/gpu-stand-ins.ts', import.meta.url));

function oneStep(model: string, input: Record<string, string>) {
  return parseWorkflow(JSON.stringify({ pipeline: [{ step: 1, model, input, output: {} }, { result: '[step1[image]]' }] }));
}

const bytes = (img: ImageData): Buffer => Buffer.from(img.data);
const image = solidImage(24, 16, [40, 120, 200]);

describe('mixed CPU/GPU bricks with an HTTP worker serving a generative FLUX-STYLE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lego-gpu-host-'));
  const jobLog = join(dir, 'jobs.log');
  let worker: WorkerProcess;
  let wiring: RemoteWiring;
  let registry: BrickRegistry;
  const jobs = (): string[] => readFileSync(jobLog, 'utf8').split('\n').filter(Boolean);

  beforeAll(async () => {
    writeFileSync(jobLog, '');
    worker = await spawnWorker(['--listen', '127.0.0.1:0', '--module', STAND_INS, '--bricks', 'FLUX-STYLE'], {
      LEGO_EDIT_WORKER_TOKEN: TOKEN,
      LEGO_TEST_JOB_LOG: jobLog,
      LEGO_EDIT_DATA_DIR: dir,
    });
    registry = new BrickRegistry(builtinBricks());
    wiring = wireRemoteBricks(registry, loadConfig({ LEGO_EDIT_DATA_DIR: dir, LEGO_EDIT_WORKER_URL: worker.ready.http!, LEGO_EDIT_WORKER_TOKEN: TOKEN }), testLogger);
  });

  afterAll(async () => {
    await wiring?.close();
    await worker?.stop();
  });

  it('sends "Ghibli", which the CPU variant cannot render, to the worker under the same name, with its progress', async () => {
    expect(worker.ready.bricks).toEqual(['FLUX-STYLE']);
    const events: ExecutorEvent[] = [];
    const out = await new Executor(registry).run(oneStep('FLUX-STYLE', { image: 'init[image]', prompt: 'a street', style: 'Ghibli' }), { image }, { onEvent: (e) => events.push(e) });
    if (out.status !== 'ok') throw new Error(`run failed: ${JSON.stringify(out)}`);
    expect(bytes(out.results[0] as ImageData).equals(bytes(standInStyle(image)))).toBe(true);
    expect(jobs()).toEqual([`${worker.ready.pid} style Ghibli`]);
    const progress = events.flatMap((e) => (e.type === 'step-progress' ? [e.fraction] : []));
    expect(progress).toEqual([0.5, 1]);
  });

  it('keys its steps by the GPU host, so results of the unwired brick or of another host are never reused', () => {
    const wired = registry.get('FLUX-STYLE')!;
    expect(FLUX_STYLE.backendKey).toBeUndefined();
    expect(wired.backendKey!()).toBe(`local+gpu-host:http:${worker.ready.http!}`);
  });

  it('keeps "sepia", which the CPU variant renders, local: same pixels as the built-in, nothing sent', async () => {
    const before = jobs().length;
    const out = await new Executor(registry).run(oneStep('FLUX-STYLE', { image: 'init[image]', prompt: 'a street', style: 'sepia' }), { image });
    if (out.status !== 'ok') throw new Error(`run failed: ${JSON.stringify(out)}`);
    const local = (await call(FLUX_STYLE, { image, mask: null, prompt: 'a street', style: 'sepia' })) as { image: ImageData };
    expect(bytes(out.results[0] as ImageData).equals(bytes(local.image))).toBe(true);
    expect(bytes(local.image).equals(bytes(standInStyle(image)))).toBe(false);
    expect(jobs()).toHaveLength(before);
  });

  it('lists the configured host as the GPU backend: serving FLUX-STYLE now, not serving FLUX-ENV', async () => {
    expect(wiring.remoteBricks).toEqual(expect.arrayContaining(['FLUX-STYLE', 'FLUX-ENV', 'FLUX-CBG', 'FLUX-RCM', 'FLUX-FILL', 'FLUX-POSE']));
    const status = await registry.status();
    const style = status.find((s) => s.brick.name === 'FLUX-STYLE')!;
    expect(style.backends.map((b) => [b.name, b.available])).toEqual([
      ['cpu-filters', true],
      ['http-worker', true],
    ]);
    expect(style.backends[1]!.detail).toMatch(/^generative styles: http:\/\/127\.0\.0\.1:\d+ \(stand-in-model/);
    const env = status.find((s) => s.brick.name === 'FLUX-ENV')!;
    expect(env.backends[1]).toMatchObject({ name: 'http-worker', available: false });
    expect(env.backends[1]!.detail).toMatch(/^generative weather and seasons: no worker at http:\/\/127\.0\.0\.1:\d+ serves FLUX-ENV now$/);
    expect(JSON.stringify(status)).not.toMatch(/no GPU host configured/);
  });

  it('fails "snow" for FLUX-ENV, which this worker does not serve, naming the worker instead of asking for one', async () => {
    const out = await new Executor(registry).run(oneStep('FLUX-ENV', { image: 'init[image]', prompt: 'snow' }), { image });
    expect(out.status).toBe('failed');
    if (out.status === 'failed') {
      expect(out.error.message).toMatch(/http:\/\/127\.0\.0\.1:\d+ does not serve the brick FLUX-ENV/);
      expect(out.error.message).not.toMatch(/LEGO_EDIT_WORKER_URL/);
    }
  });
});

describe('mixed CPU/GPU bricks where the worker has only the CPU variant', () => {
  let server: HttpWorkerServer;
  let registry: BrickRegistry;
  let wiring: RemoteWiring;
  const mask: MaskData = makeMask(24, 16, new Uint8Array(24 * 16).fill(255));

  beforeAll(async () => {
    server = createHttpWorkerServer({ bricks: [FLUX_RCM], token: TOKEN, maxPayloadBytes: 1 << 20, jobTimeoutMs: 5_000, encoding: 'png', logger: testLogger });
    const url = await server.listen(0);
    registry = new BrickRegistry(builtinBricks());
    wiring = wireRemoteBricks(registry, loadConfig({ LEGO_EDIT_DATA_DIR: mkdtempSync(join(tmpdir(), 'lego-gpu-host-')), LEGO_EDIT_WORKER_URL: url, LEGO_EDIT_WORKER_TOKEN: TOKEN }), testLogger);
  });
  afterAll(async () => {
    await wiring?.close();
    await server?.close();
  });

  it('says the GPU host cannot do it either and how to fix that, and does not offer a retry', async () => {
    const out = await new Executor(registry).run(oneStep('FLUX-RCM', { image: 'init[image]', mask: 'init[mask]', prompt: 'wooden' }), { image, mask });
    expect(out.status).toBe('failed');
    if (out.status !== 'failed') return;
    const cause = out.error.cause;
    expect(cause).toBeInstanceOf(BrickUnavailableError);
    expect((cause as BrickUnavailableError).retryable).toBe(false);
    expect(out.error.message).toMatch(/The material or pattern "wood\w*" needs a GPU host, and the GPU host \(http http:\/\/127\.0\.0\.1:\d+\) serves only the CPU variant of FLUX-RCM/);
    expect(out.error.message).toMatch(/serve a generative FLUX-RCM/);
  });

  it('still recolours "red" locally', async () => {
    const out = await new Executor(registry).run(oneStep('FLUX-RCM', { image: 'init[image]', mask: 'init[mask]', prompt: 'red' }), { image, mask });
    expect(out.status).toBe('ok');
  });
});

describe('mixed CPU/GPU bricks with no transport configured', () => {
  it('leave the built-ins as they are: "Ghibli" asks for a GPU host, and the backend line says none is configured', async () => {
    const registry = new BrickRegistry(builtinBricks());
    const wiring = wireRemoteBricks(registry, loadConfig({ LEGO_EDIT_DATA_DIR: mkdtempSync(join(tmpdir(), 'lego-gpu-host-')) }), testLogger);
    expect(wiring.remoteBricks).toEqual([]);
    expect(registry.get('FLUX-STYLE')).toBe(FLUX_STYLE);
    const out = await new Executor(registry).run(oneStep('FLUX-STYLE', { image: 'init[image]', prompt: 'a street', style: 'Ghibli' }), { image });
    expect(out.status === 'failed' && out.error.cause).toBeInstanceOf(NeedsGpuHostError);
    const style = (await registry.status()).find((s) => s.brick.name === 'FLUX-STYLE')!;
    expect(style.backends[1]).toEqual({ name: 'gpu-host', available: false, detail: 'generative styles: no GPU host configured (LEGO_EDIT_WORKER_URL or REDIS_URL)' });
  });
});

describe('routing decided before anything runs', () => {
  /** A transport that answers with the photo and records which styles it was sent. */
  const recording = (sent: string[]): BrickTransport => ({
    kind: 'http',
    target: 'test',
    call: async (_brick, inputs) => {
      sent.push(String(inputs.style));
      return { image: inputs.image as Value };
    },
    served: async () => [],
    close: async () => {},
  });

  it('asks the brick what its CPU variant can do: "Ghibli" goes to the GPU without running the CPU variant, "sepia" stays on the CPU, and the log says which and why', async () => {
    let cpuRuns = 0;
    const local: AnyBrick = { ...FLUX_STYLE, run: (inputs, ctx) => (cpuRuns++, FLUX_STYLE.run(inputs, ctx)) };
    const sent: string[] = [];
    const lines: { brick?: string; backend?: string; why?: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) });
    const brick = withGpuHost(local, recording(sent), 'cpu-first');
    const ctx = { signal: AbortSignal.timeout(10_000), logger, progress: () => {} };
    await brick.run({ image, mask: null, prompt: 'a street', style: 'Ghibli' } as never, ctx);
    expect({ cpuRuns, sent }).toEqual({ cpuRuns: 0, sent: ['Ghibli'] });
    await brick.run({ image, mask: null, prompt: 'a street', style: 'sepia' } as never, ctx);
    expect({ cpuRuns, sent }).toEqual({ cpuRuns: 1, sent: ['Ghibli'] });
    expect(lines.filter((l) => l.brick === 'FLUX-STYLE').map((l) => [l.backend, l.why])).toEqual([
      ['gpu', 'cpu-first: The "Ghibli" style (generative style transfer) needs the GPU'],
      ['cpu', 'cpu-first: the CPU variant can do this'],
    ]);
  });

  it('routes explicitly configured bricks one way whatever the inputs', () => {
    expect(decideRoute(FLUX_STYLE, 'cpu', { style: 'Ghibli' } as never)).toEqual({ backend: 'cpu', why: 'routed cpu' });
    expect(decideRoute(FLUX_STYLE, 'gpu', { style: 'sepia' } as never)).toEqual({ backend: 'gpu', why: 'routed gpu' });
  });

  it('has every built-in whose CPU variant refuses some requests say which, before running, and names the rule for `lego-edit bricks`', () => {
    const cpuFirst = builtinBricks().filter((b) => offersGpuHost(b) && (b.gpuRoute ?? 'cpu-first') === 'cpu-first');
    expect(cpuFirst.map((b) => b.name).sort()).toEqual(['FLUX-CBG', 'FLUX-ENV', 'FLUX-FILL', 'FLUX-POSE', 'FLUX-RCM', 'FLUX-STYLE']);
    expect(cpuFirst.filter((b) => !b.gpuNeed).map((b) => b.name)).toEqual([]);
    expect(routeText(withGpuHost(FLUX_STYLE, recording([]), 'cpu-first'))).toMatch(/^cpu-first — the CPU variant runs what it can do/);
    expect(routeText(FLUX_STYLE)).toBeUndefined();
  });
});
