import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinBricks } from '../../bricks/index.ts';
import { loadConfig } from '../../src/config.ts';
import type { ExecutorEvent } from '../../src/engine/events.ts';
import { Executor } from '../../src/engine/executor.ts';
import { BrickRegistry } from '../../src/engine/registry.ts';
import type { ImageData } from '../../src/engine/values.ts';
import { parseWorkflow } from '../../src/engine/workflow/parse.ts';
import { type RemoteWiring, wireRemoteBricks } from '../../src/remote/declared/wiring.ts';
import { solidImage } from '../support/test-bricks.ts';
import { SLOW_INVERT } from './fixtures/test-bricks.ts';
import { TEST_BRICKS_MODULE, type WorkerProcess, spawnWorker, testLogger } from './support.ts';

const TOKEN = 'e2e-secret-token';

type Step = [model: string, input: Record<string, unknown>];
function workflow(steps: Step[], result: string) {
  const pipeline = steps.map(([model, input], i) => ({ step: i + 1, model, input, output: {} }));
  return parseWorkflow(JSON.stringify({ pipeline: [...pipeline, { result: `[${result}]` }] }));
}

describe('a workflow mixing local bricks and a brick served by a worker process over HTTP', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lego-e2e-'));
  const jobLog = join(dir, 'jobs.log');
  let worker: WorkerProcess;
  let remote: RemoteWiring;
  let registry: BrickRegistry;

  beforeAll(async () => {
    writeFileSync(jobLog, '');
    worker = await spawnWorker(['--listen', '127.0.0.1:0', '--module', TEST_BRICKS_MODULE, '--bricks', 'SLOW-INVERT'], {
      LEGO_EDIT_WORKER_TOKEN: TOKEN,
      LEGO_TEST_JOB_LOG: jobLog,
      LEGO_EDIT_DATA_DIR: dir,
    });
    // The bot learns of the remote brick from a manifest, as a user would declare it.
    const manifest = join(dir, 'bricks.yaml');
    writeFileSync(
      manifest,
      [
        'bricks:',
        '  - name: SLOW-INVERT',
        '    kind: edit',
        '    description: Invert the colours, slowly (test brick)',
        '    inputs: { image: Image, ms: { type: Float, optional: true, default: 200 }, tag: { type: Float, optional: true, default: 0 } }',
        '    outputs: { image: Image }',
        '    backend: { type: http }',
      ].join('\n'),
    );
    const config = loadConfig({ LEGO_EDIT_DATA_DIR: dir, LEGO_EDIT_WORKER_URL: worker.ready.http!, LEGO_EDIT_WORKER_TOKEN: TOKEN, LEGO_EDIT_BRICKS: manifest });
    registry = new BrickRegistry(builtinBricks());
    remote = wireRemoteBricks(registry, config, testLogger);
  });

  afterAll(async () => {
    await remote?.close();
    await worker?.stop();
  });

  it('reports the worker’s bricks: the declared one is served, GPU built-ins now point at the worker', async () => {
    expect(worker.ready.bricks).toEqual(['SLOW-INVERT']);
    expect(remote.declaredBricks).toEqual(['SLOW-INVERT']);
    expect(remote.remoteBricks).toContain('FLUX-FILL');
    expect(registry.catalogue()).toContain('SLOW-INVERT (Invert the colours, slowly (test brick))');
    const status = await registry.status();
    const slow = status.find((s) => s.brick.name === 'SLOW-INVERT')!;
    expect(slow.active?.name).toBe('http-worker');
    const fill = status.find((s) => s.brick.name === 'FLUX-FILL')!;
    expect(fill.active).toBeUndefined();
    expect(fill.backends[0]!.detail).toMatch(/no worker at http:\/\/127\.0\.0\.1:\d+ serves FLUX-FILL/);
  });

  it('computes the same result as running the brick in-process, with remote progress and a cache that spans the boundary', async () => {
    const image = solidImage(24, 16, [40, 120, 200]);
    const steps: Step[] = [
      ['ADJUST', { image: 'init[image]', brightness: '1.2' }],
      ['SLOW-INVERT', { image: 'step1[image]', ms: '80' }],
      ['GRAYSCALE', { image: 'step2[image]' }],
    ];
    const executor = new Executor(registry, { concurrency: 2 });
    const events: ExecutorEvent[] = [];
    const first = await executor.run(workflow(steps, 'step3[image]'), { image }, { onEvent: (e) => events.push(e) });
    expect(first.status).toBe('ok');

    const local = await new Executor(new BrickRegistry([...builtinBricks(), SLOW_INVERT])).run(workflow(steps, 'step3[image]'), { image });
    if (first.status !== 'ok' || local.status !== 'ok') throw new Error('runs failed');
    expect(Buffer.from((first.results[0] as ImageData).data).equals(Buffer.from((local.results[0] as ImageData).data))).toBe(true);

    const progress = events.filter((e): e is Extract<ExecutorEvent, { type: 'step-progress' }> => e.type === 'step-progress');
    expect(progress.map((p) => [p.step, p.fraction])).toEqual([
      [2, 0.25],
      [2, 0.5],
      [2, 0.75],
      [2, 1],
    ]);

    // Same workflow again: every step from the cache, nothing sent to the worker.
    const again = await executor.run(workflow(steps, 'step3[image]'), { image });
    expect(again.trace.map((t) => t.cache)).toEqual(['hit', 'hit', 'hit']);
    // A revision after the remote step reuses it too.
    const revised = await executor.run(workflow([...steps.slice(0, 2), ['ADJUST', { image: 'step2[image]', contrast: '1.5' }]], 'step3[image]'), { image });
    expect(revised.trace.map((t) => t.cache)).toEqual(['hit', 'hit', 'miss']);
    expect(readFileSync(jobLog, 'utf8').trim().split('\n').filter((l) => l.includes('done'))).toHaveLength(1);
  });

  it('fails a step with a clear message when a GPU brick is not served, and never hangs', async () => {
    // A GPU-only built-in (its local variant refuses every request); its required inputs filled with plausible values.
    const name = 'FLUX-FILL';
    expect(remote.remoteBricks).toContain(name);
    const brick = registry.get(name)!;
    const input: Record<string, string> = {};
    for (const [k, p] of Object.entries(brick.inputs)) {
      if (p.optional || p.default !== undefined) continue;
      input[k] = p.type === 'Image' ? 'init[image]' : p.type === 'Mask' ? 'init[mask]' : p.type === 'Str' ? 'a red hat' : '1';
    }
    const out = Object.keys(brick.outputs)[0]!;
    const wf = parseWorkflow(JSON.stringify({ pipeline: [{ step: 1, model: name, input, output: {} }, { result: `[step1[${out}]]` }] }));
    const image = solidImage(8, 8, [1, 2, 3]);
    const mask = { kind: 'mask' as const, width: 8, height: 8, data: new Uint8Array(64).fill(255) };
    const outcome = await new Executor(registry).run(wf, { image, mask });
    expect(outcome.status).toBe('failed');
    if (outcome.status === 'failed') expect(outcome.error.message).toContain(`does not serve the brick ${name}`);
  });
});
