import { readFileSync, readdirSync } from 'node:fs';
import { getPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterAll, assert, describe, expect, it } from 'vitest';
import { FASTINPAINT } from '../../../bricks/edit/fastinpaint.ts';
import { FLUX_RCM } from '../../../bricks/edit/flux-rcm.ts';
import type { AnyBrick } from '../../../src/engine/brick.ts';
import { NeedsGpuHostError } from '../../../src/engine/errors.ts';
import type { ExecutorEvent } from '../../../src/engine/events.ts';
import { Executor, StepFailedError } from '../../../src/engine/executor.ts';
import { BrickPool } from '../../../src/engine/pool/brick-pool.ts';
import { BrickWorkerCrashedError } from '../../../src/engine/pool/worker-errors.ts';
import { BrickRegistry } from '../../../src/engine/registry.ts';
import type { ImageData } from '../../../src/engine/values.ts';
import { makeImage } from '../../../src/engine/values.ts';
import { parseWorkflow } from '../../../src/engine/workflow/parse.ts';
import { rectMask } from '../../support/pixels.ts';
import { withGpuHost } from '../../../src/remote/client/gpu-host.ts';
import type { BrickTransport } from '../../../src/remote/client/transport.ts';
import { COUNTER_CELL, CRASH, INVERT, SPIN, THREAD_CELL, VIEWS, WASM_ABORT, WHERE } from './pool-bricks.ts';

const MODULE = fileURLToPath(new URL('./pool-bricks.ts', import.meta.url));
const bricks: AnyBrick[] = [FLUX_RCM, FASTINPAINT, SPIN, CRASH, WASM_ABORT, INVERT, WHERE, VIEWS];
const pool = new BrickPool({ bricks, threads: 2, modules: [MODULE] });
const pooled = new Executor(new BrickRegistry(bricks), { pool });
const onMain = new Executor(new BrickRegistry(bricks), { cacheBytes: 0 });
afterAll(() => pool.close());

function workflow(model: string, input: Record<string, unknown>) {
  return parseWorkflow(JSON.stringify({ pipeline: [{ step: 1, model, input, output: {} }, { result: '[step1[image]]' }] }));
}

/** A photo-like gradient: every pixel differs from its neighbours, so any difference between runs shows. */
function gradient(width: number, height: number): ImageData {
  const img = makeImage(width, height, 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      img.data[i] = (x * 255) / width;
      img.data[i + 1] = (y * 255) / height;
      img.data[i + 2] = ((x + y) * 7) % 256;
    }
  return img;
}

/** An image whose pixels are shared with the pool's threads (a SharedArrayBuffer is passed, not copied). */
function sharedImage(): { image: ImageData; cells: Int32Array } {
  const buffer = new SharedArrayBuffer(16 * 16 * 3);
  return { image: makeImage(16, 16, 3, new Uint8Array(buffer)), cells: new Int32Array(buffer) };
}

const photo = gradient(120, 80);
const mask = rectMask(120, 80, 40, 20, 30, 30);

async function result(executor: Executor, model: string, input: Record<string, unknown>): Promise<ImageData> {
  const outcome = await executor.run(workflow(model, input), { image: photo, mask });
  assert(outcome.status === 'ok', outcome.status === 'failed' ? outcome.error.message : outcome.status);
  return outcome.results[0] as ImageData;
}

describe('BrickPool', () => {
  it('serves only the CPU-heavy bricks it was given, not a stand-in under the same name', () => {
    expect(pool.serves(FLUX_RCM)).toBe(true);
    expect(pool.serves({ ...FLUX_RCM })).toBe(false);
    expect(new BrickPool({ bricks: [{ ...FLUX_RCM, cpuHeavy: false }] }).serves(FLUX_RCM)).toBe(false);
  });

  it.each([
    ['FLUX-RCM', { image: 'init[image]', mask: 'init[mask]', prompt: 'light blue' }],
    ['FASTINPAINT', { image: 'init[image]', mask: 'init[mask]' }],
  ])('gives %s the same pixels in a worker thread as on the main thread', async (model, input) => {
    const [inPool, inMain] = await Promise.all([result(pooled, model, input), result(onMain, model, input)]);
    expect(inPool.width).toBe(inMain.width);
    expect(Buffer.from(inPool.data).equals(Buffer.from(inMain.data))).toBe(true);
    // The edit did something, so equality is not two untouched copies of the input.
    expect(Buffer.from(inPool.data).equals(Buffer.from(photo.data))).toBe(false);
  });

  it.runIf(process.platform === 'linux')('runs its threads below the main thread\'s priority, and leaves the main thread\'s as it was', async () => {
    await pool.warm();
    const nice = (stat: string): number => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    const tasks = readdirSync('/proc/self/task').map((tid) => ({ tid: Number(tid), nice: nice(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')) }));
    expect(tasks.find((t) => t.tid === process.pid)!.nice).toBe(getPriority());
    expect(tasks.filter((t) => t.nice > getPriority()).length).toBeGreaterThanOrEqual(pool.threads);
  });

  it("returns a brick's error as the same class, code and user message as on the main thread", async () => {
    const input = { image: 'init[image]', mask: 'init[mask]', prompt: 'make it wooden' };
    const [inPool, inMain] = await Promise.all([pooled.run(workflow('FLUX-RCM', input), { image: photo, mask }), onMain.run(workflow('FLUX-RCM', input), { image: photo, mask })]);
    assert(inPool.status === 'failed' && inMain.status === 'failed');
    expect(inPool.error.cause).toBeInstanceOf(NeedsGpuHostError);
    expect(inPool.error.planFixable).toBe(true);
    expect(inPool.error.code).toBe(inMain.error.code);
    expect(inPool.error.userMessage).toBe(inMain.error.userMessage);
  });

  it('leaves in its thread a picture the run reads nowhere, keeps masks, and runs the step again for a later run that reads it', async () => {
    const executor = new Executor(new BrickRegistry(bricks), { pool });
    const reading = (output: string) => parseWorkflow(JSON.stringify({ pipeline: [{ step: 1, model: 'VIEWS', input: { image: 'init[image]' }, output: {} }, { result: `[step1[${output}]]` }] }));
    const first = await executor.run(reading('image'), { image: photo });
    assert(first.status === 'ok', first.status);
    expect(Object.keys(first.outputs!.get(1)!).sort()).toEqual(['image', 'mask']);
    expect((first.results[0] as ImageData).data[0]).toBe(255 - photo.data[0]!);
    const second = await executor.run(reading('view'), { image: photo });
    assert(second.status === 'ok', second.status === 'failed' ? second.error.message : second.status);
    expect(second.trace[0]!.cache).toBe('miss');
    expect(Buffer.from((second.results[0] as ImageData).data).equals(Buffer.from(photo.data))).toBe(true);
    const third = await executor.run(reading('view'), { image: photo });
    assert(third.status === 'ok');
    expect(third.trace[0]!.cache).toBe('hit');
  });

  it("passes a worker's warnings and progress on to the run", async () => {
    const events: ExecutorEvent[] = [];
    const outcome = await pooled.run(workflow('INVERT', { image: 'init[image]' }), { image: photo }, { onEvent: (e) => events.push(e) });
    assert(outcome.status === 'ok');
    expect(outcome.warnings.map((w) => w.message).join()).toContain('inverted in a worker thread');
    expect((outcome.results[0] as ImageData).data[0]).toBe(255 - photo.data[0]!);
    expect(events.some((e) => e.type === 'step-progress' && e.message === 'inverted')).toBe(true);
  });

  it('stops a cancelled brick in its thread, and the pool goes on with a fresh thread', async () => {
    const { image, cells } = sharedImage();
    const cancel = new AbortController();
    const running = pooled.run(workflow('SPIN', { image: 'init[image]' }), { image }, { signal: cancel.signal });
    while (Atomics.load(cells, COUNTER_CELL) === 0) await new Promise((r) => setTimeout(r, 10));
    const spinner = Atomics.load(cells, THREAD_CELL);
    expect(pool.threadIds()).toContain(spinner);
    cancel.abort();
    expect((await running).status).toBe('cancelled');
    // The loop never yields, so only a terminated thread stops counting.
    await waitFor(() => !pool.threadIds().includes(spinner));
    // The thread leaves the pool's list first and is terminated a moment later, so wait (up to 2 s) for the
    // count to hold still before checking that it stays still.
    let last = Atomics.load(cells, COUNTER_CELL);
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 20));
      const now = Atomics.load(cells, COUNTER_CELL);
      if (now === last) break;
      last = now;
    }
    const after = Atomics.load(cells, COUNTER_CELL);
    await new Promise((r) => setTimeout(r, 300));
    expect(Atomics.load(cells, COUNTER_CELL)).toBe(after);
    expect(Buffer.from((await result(pooled, 'INVERT', { image: 'init[image]' })).data)[0]).toBe(255 - photo.data[0]!);
  });

  it.each([
    ['CRASH', 'a thread that dies mid-step'],
    ['WASM-ABORT', 'a WebAssembly abort'],
  ])('fails only the step of %s (%s) with a typed error; other runs finish', async (model) => {
    const [crashed, other] = await Promise.all([
      pooled.run(workflow(model, { image: 'init[image]' }), { image: photo }),
      pooled.run(workflow('INVERT', { image: 'init[image]' }), { image: photo }),
    ]);
    assert(crashed.status === 'failed');
    expect(crashed.error).toBeInstanceOf(StepFailedError);
    expect(crashed.error.cause).toBeInstanceOf(BrickWorkerCrashedError);
    expect(crashed.error.code).toBe('brick-worker-crashed');
    expect(crashed.error.userMessage).toContain(model);
    expect(other.status).toBe('ok');
    // The pool is whole again: as many threads as it was given, and they work.
    await waitFor(() => pool.threadIds().length === 2);
    expect((await result(pooled, 'INVERT', { image: 'init[image]' })).data[0]).toBe(255 - photo.data[0]!);
  });
});

describe('a thread on its way out', () => {
  it('gives a brick that reached a thread after its WebAssembly abort to a fresh thread, which runs it', async () => {
    const single = new BrickPool({ bricks, threads: 1, modules: [MODULE] });
    try {
      const executor = new Executor(new BrickRegistry(bricks), { pool: single, cacheBytes: 0 });
      // One thread: the queued INVERT is handed to the aborted thread before it exits.
      const [aborted, queued] = await Promise.all([
        executor.run(workflow('WASM-ABORT', { image: 'init[image]' }), { image: photo }),
        executor.run(workflow('INVERT', { image: 'init[image]' }), { image: photo }),
      ]);
      expect(aborted.status).toBe('failed');
      assert(queued.status === 'ok', queued.status === 'failed' ? queued.error.message : queued.status);
      expect((queued.results[0] as ImageData).data[0]).toBe(255 - photo.data[0]!);
    } finally {
      await single.close();
    }
  });
});

describe('a built-in wrapped for a GPU host', () => {
  /** A GPU host that must not be called: every request here is one the CPU variant does. */
  const unused: BrickTransport = {
    kind: 'http',
    target: 'test',
    call: async () => {
      throw new Error('the GPU host was called');
    },
    served: async () => [],
    close: async () => {},
  };

  it('runs its CPU variant in the pool, not on the event loop, when the route chooses the CPU', async () => {
    const wrapped = withGpuHost(WHERE, unused, 'cpu');
    expect(pool.serves(wrapped)).toBe(false);
    const executor = new Executor(new BrickRegistry([wrapped]), { pool, cacheBytes: 0 });
    const wf = parseWorkflow(JSON.stringify({ pipeline: [{ step: 1, model: 'WHERE', input: { image: 'init[image]' }, output: {} }, { result: '[step1[thread]]' }] }));
    const outcome = await executor.run(wf, { image: photo });
    assert(outcome.status === 'ok', outcome.status === 'failed' ? outcome.error.message : outcome.status);
    // 0 is the main thread.
    expect(outcome.results[0]).toBeGreaterThan(0);
  });
});

async function waitFor(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 20));
  expect(ok()).toBe(true);
}
