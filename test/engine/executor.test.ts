import { getEventListeners } from 'node:events';
import { pino, type Logger } from 'pino';
import { assert, describe, expect, it } from 'vitest';
import { FASTINPAINT } from '../../bricks/edit/fastinpaint.ts';
import { functionBricks } from '../../bricks/index.ts';
import { MASK_SEG, ROUGH_MASK_KEPT } from '../../bricks/predict/mask-seg.ts';
import { RES } from '../../bricks/predict/res.ts';
import type { ExecutorEvent } from '../../src/engine/events.ts';
import { BrickWarning, EmptyMaskError, Executor, StepFailedError } from '../../src/engine/executor.ts';
import { BrickFailedError, BrickOutputError, CancelledError, MissingOutputError, StepTimeoutError } from '../../src/engine/errors.ts';
import { BrickRegistry } from '../../src/engine/registry.ts';
import type { ImageData, MaskData } from '../../src/engine/values.ts';
import { makeImage, makeMask } from '../../src/engine/values.ts';
import { defineBrick, port } from '../../src/engine/brick.ts';
import { WorkflowValidationError } from '../../src/engine/workflow/validate.ts';
import { parseWorkflow } from '../../src/engine/workflow/parse.ts';
import { rectMask } from '../support/pixels.ts';
import { FAIL, FIND_NOTHING, STUBBORN, delayBrick, newLog, solidImage } from '../support/test-bricks.ts';

function setup(options: ConstructorParameters<typeof Executor>[1] = {}) {
  const log = newLog();
  const registry = new BrickRegistry([...functionBricks, RES, MASK_SEG, FASTINPAINT, delayBrick(log), STUBBORN, FAIL, FIND_NOTHING]);
  return { log, executor: new Executor(registry, { concurrency: 4, ...options }) };
}

type Step = [model: string, input: Record<string, unknown>];
function workflow(steps: Step[], results: string[]) {
  const pipeline = steps.map(([model, input], i) => ({ step: i + 1, model, input, output: {} }));
  return parseWorkflow(JSON.stringify({ pipeline: [...pipeline, { result: `[${results.join(', ')}]` }] }));
}

const image = solidImage(8, 8, [10, 20, 30]);

function record() {
  const events: ExecutorEvent[] = [];
  return { events, onEvent: (e: ExecutorEvent) => events.push(e) };
}

describe('Executor', () => {
  it('runs independent branches concurrently: both start before either finishes', async () => {
    const { executor } = setup();
    const { events, onEvent } = record();
    const wf = workflow(
      [
        ['DELAY', { image: 'init[image]', ms: 60, tag: 1 }],
        ['DELAY', { image: 'init[image]', ms: 60, tag: 2 }],
        ['COMPOSE', { image1: 'step1[image]', image2: 'step2[image]' }],
      ],
      ['step3[image]'],
    );
    const outcome = await executor.run(wf, { image }, { onEvent });
    expect(outcome.status).toBe('ok');
    const order = events.filter((e) => e.type === 'step-started' || e.type === 'step-finished').map((e) => `${e.type === 'step-started' ? 'start' : 'end'}${'step' in e ? e.step : ''}`);
    expect(order.slice(0, 2).sort()).toEqual(['start1', 'start2']);
    expect(order.slice(-2)).toEqual(['start3', 'end3']);
    const t = outcome.trace;
    expect(Math.max(t[0]!.startSeq!, t[1]!.startSeq!)).toBeLessThan(Math.min(t[0]!.finishSeq!, t[1]!.finishSeq!));
  });

  it('orders steps by their references, not by their position in the list', async () => {
    const { executor, log } = setup();
    const wf = parseWorkflow(
      JSON.stringify({
        pipeline: [
          { step: 2, model: 'DELAY', input: { image: 'step1[image]', ms: 0, tag: 5 }, output: {} },
          { step: 1, model: 'DELAY', input: { image: 'init[image]', ms: 0, tag: 1 }, output: {} },
          { result: '[step2[image]]' },
        ],
      }),
    );
    const outcome = await executor.run(wf, { image });
    expect(outcome.status).toBe('ok');
    expect(log.calls).toEqual(['DELAY:1', 'DELAY:5']);
    if (outcome.status === 'ok') expect((outcome.results[0] as ImageData).data[0]).toBe(16);
  });

  it('keeps no more steps running than the concurrency limit', async () => {
    const { executor } = setup({ concurrency: 1 });
    const { events, onEvent } = record();
    const wf = workflow(
      [
        ['DELAY', { image: 'init[image]', ms: 10, tag: 1 }],
        ['DELAY', { image: 'init[image]', ms: 10, tag: 2 }],
        ['COMPOSE', { image1: 'step1[image]', image2: 'step2[image]' }],
      ],
      ['step3[image]'],
    );
    await executor.run(wf, { image }, { onEvent });
    let running = 0;
    let peak = 0;
    for (const e of events) {
      if (e.type === 'step-started') peak = Math.max(peak, ++running);
      if (e.type === 'step-finished') running--;
    }
    expect(peak).toBe(1);
  });

  it('re-runs only the steps downstream of a changed literal', async () => {
    const { executor, log } = setup();
    const steps = (lastTag: number): Step[] => [
      ['DELAY', { image: 'init[image]', ms: 0, tag: 1 }],
      ['DELAY', { image: 'step1[image]', ms: 0, tag: 2 }],
      ['DELAY', { image: 'init[image]', ms: 0, tag: 3 }],
      ['COMPOSE', { image1: 'step2[image]', image2: 'step3[image]' }],
      ['DELAY', { image: 'step4[image]', ms: 0, tag: lastTag }],
    ];
    const first = await executor.run(workflow(steps(4), ['step5[image]']), { image });
    expect(first.trace.map((t) => t.cache)).toEqual(['miss', 'miss', 'miss', 'miss', 'miss']);
    log.calls.length = 0;
    const revised = await executor.run(workflow(steps(9), ['step5[image]']), { image });
    expect(revised.trace.map((t) => t.cache)).toEqual(['hit', 'hit', 'hit', 'hit', 'miss']);
    expect(log.calls).toEqual(['DELAY:9']);
    assert(revised.status === 'ok', `the revised run ${revised.status}`);
    expect((revised.results[0] as ImageData).data[0]).toBe(10 + 3 + 9);
  });

  it('keys a step by the backend its brick runs on: the same step on another backend runs again, and each keeps its own entry', async () => {
    let backend = 'cpu';
    const ran: string[] = [];
    const TINT = defineBrick({
      name: 'TINT',
      kind: 'function',
      description: 'Brightens by an amount that depends on its backend',
      inputs: { image: port.image() },
      outputs: { image: port.image() },
      version: '1',
      backendKey: () => backend,
      async run({ image: img }) {
        ran.push(backend);
        const out = makeImage(img.width, img.height, img.channels);
        out.data.set(img.data.map((v) => v + (backend === 'cpu' ? 1 : 2)));
        return { image: out };
      },
    });
    const executor = new Executor(new BrickRegistry([TINT]));
    const wf = workflow([['TINT', { image: 'init[image]' }]], ['step1[image]']);
    const onCpu = await executor.run(wf, { image });
    backend = 'onnx:lama';
    const onModel = await executor.run(wf, { image });
    backend = 'cpu';
    const backOnCpu = await executor.run(wf, { image });
    expect([onCpu, onModel, backOnCpu].map((o) => o.trace[0]!.cache)).toEqual(['miss', 'miss', 'hit']);
    expect(ran).toEqual(['cpu', 'onnx:lama']);
    expect(executor.cache.size).toBe(2);
    assert(onModel.status === 'ok' && backOnCpu.status === 'ok');
    expect((onModel.results[0] as ImageData).data[0]).toBe(10 + 2);
    expect((backOnCpu.results[0] as ImageData).data[0]).toBe(10 + 1);
  });

  it('runs every step afresh when told not to reuse the cache, and keeps the fresh outputs', async () => {
    const { executor, log } = setup();
    const wf = workflow([['DELAY', { image: 'init[image]', ms: 0, tag: 1 }], ['DELAY', { image: 'step1[image]', ms: 0, tag: 2 }]], ['step2[image]']);
    await executor.run(wf, { image });
    log.calls.length = 0;
    const rerun = await executor.run(wf, { image }, { reuseCache: false });
    expect(rerun.trace.map((t) => t.cache)).toEqual(['miss', 'miss']);
    expect(log.calls).toEqual(['DELAY:1', 'DELAY:2']);
    const after = await executor.run(wf, { image });
    expect(after.trace.map((t) => t.cache)).toEqual(['hit', 'hit']);
  });

  it('invalidates every step when the input image changes', async () => {
    const { executor } = setup();
    const wf = workflow([['DELAY', { image: 'init[image]', ms: 0 }]], ['step1[image]']);
    await executor.run(wf, { image });
    const other = await executor.run(wf, { image: solidImage(8, 8, [11, 20, 30]) });
    expect(other.trace[0]!.cache).toBe('miss');
  });

  it('treats "2.0" and 2 as the same literal for caching', async () => {
    const { executor } = setup();
    await executor.run(workflow([['RESIZE', { image: 'init[image]', ratio: 2 }]], ['step1[image]']), { image });
    const again = await executor.run(workflow([['RESIZE', { image: 'init[image]', ratio: '2.0' }]], ['step1[image]']), { image });
    expect(again.trace[0]!.cache).toBe('hit');
  });

  it('evicts least recently used outputs beyond its byte bound', async () => {
    const { executor } = setup({ cacheBytes: 8 * 8 * 3 * 2 });
    for (const tag of [1, 2, 3]) await executor.run(workflow([['DELAY', { image: 'init[image]', ms: 0, tag }]], ['step1[image]']), { image });
    expect(executor.cache.size).toBe(2);
    const first = await executor.run(workflow([['DELAY', { image: 'init[image]', ms: 0, tag: 1 }]], ['step1[image]']), { image });
    expect(first.trace[0]!.cache).toBe('miss');
  });

  it('stops scheduling and aborts running bricks when cancelled', async () => {
    const { executor, log } = setup();
    const controller = new AbortController();
    const wf = workflow(
      [
        ['DELAY', { image: 'init[image]', ms: 5000, tag: 1 }],
        ['DELAY', { image: 'step1[image]', ms: 0, tag: 2 }],
      ],
      ['step2[image]'],
    );
    const { events, onEvent } = record();
    const pending = executor.run(wf, { image }, { signal: controller.signal, onEvent });
    setTimeout(() => controller.abort(new CancelledError()), 20);
    const outcome = await pending;
    expect(outcome.status).toBe('cancelled');
    expect(log.aborted).toEqual(['DELAY:1']);
    expect(log.calls).not.toContain('DELAY:2');
    expect(outcome.trace.map((t) => t.status)).toEqual(['cancelled', 'cancelled']);
    expect(events.at(-1)).toMatchObject({ type: 'done', status: 'cancelled' });
  });

  it('returns at once when cancelled even if a brick ignores its signal', async () => {
    const { executor } = setup();
    const controller = new AbortController();
    const pending = executor.run(workflow([['STUBBORN', { image: 'init[image]' }]], ['step1[image]']), { image }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    expect((await pending).status).toBe('cancelled');
  });

  it('fails a step that outlives its timeout with a retryable timeout error', async () => {
    const { executor } = setup({ stepTimeoutMs: 50 });
    const outcome = await executor.run(workflow([['STUBBORN', { image: 'init[image]' }]], ['step1[image]']), { image });
    expect(outcome.status).toBe('failed');
    if (outcome.status !== 'failed') return;
    expect(outcome.error).toBeInstanceOf(StepFailedError);
    expect(outcome.error.cause).toBeInstanceOf(StepTimeoutError);
    expect(outcome.error.retryable).toBe(true);
    expect(outcome.error.message).toMatch(/Step 1 \(STUBBORN\).*50 ms/);
  });

  it('gives a brick that declares its own time limit that limit instead of the default step timeout', async () => {
    const slow = defineBrick({
      name: 'SLOW-GPU',
      kind: 'edit',
      description: 'takes 150 ms',
      inputs: { image: port.image() },
      outputs: { image: port.image() },
      version: '1',
      timeoutMs: 5_000,
      run: async ({ image: img }) => {
        await new Promise((r) => setTimeout(r, 150));
        return { image: img };
      },
    });
    const executor = new Executor(new BrickRegistry([slow]), { stepTimeoutMs: 50 });
    const outcome = await executor.run(workflow([['SLOW-GPU', { image: 'init[image]' }]], ['step1[image]']), { image });
    expect(outcome.status).toBe('ok');
  });

  it('leaves no listener on a finished step’s signal, so the run’s pixels are not held until the step timeout fires', async () => {
    const signals: AbortSignal[] = [];
    const keeper = defineBrick({
      name: 'KEEPER',
      kind: 'edit',
      description: 'remembers its signal',
      inputs: { image: port.image() },
      outputs: { image: port.image() },
      version: '1',
      run: async ({ image: img }, ctx) => {
        signals.push(ctx.signal);
        return { image: img };
      },
    });
    const executor = new Executor(new BrickRegistry([keeper]));
    const outcome = await executor.run(workflow([['KEEPER', { image: 'init[image]' }], ['KEEPER', { image: 'step1[image]' }]], ['step2[image]']), { image });
    expect(outcome.status).toBe('ok');
    expect(signals).toHaveLength(2);
    // Node keeps a signal tied to a timeout, and all its listener reaches, alive while an 'abort' listener is attached.
    for (const s of signals) expect(getEventListeners(s, 'abort')).toEqual([]);
  });

  it('tells bricks to draw a new sample when the run does not reuse the cache ("try again"), and only then', async () => {
    const seen: (boolean | undefined)[] = [];
    const sampler = defineBrick({
      name: 'SAMPLER',
      kind: 'edit',
      description: 'records ctx.resample',
      inputs: { image: port.image() },
      outputs: { image: port.image() },
      version: '1',
      run: async ({ image: img }, ctx) => {
        seen.push(ctx.resample);
        return { image: img };
      },
    });
    const executor = new Executor(new BrickRegistry([sampler]));
    const wf = workflow([['SAMPLER', { image: 'init[image]' }]], ['step1[image]']);
    await executor.run(wf, { image });
    await executor.run(wf, { image }, { reuseCache: false });
    expect(seen).toEqual([undefined, true]);
  });

  it('names the failed step, brick, inputs and cause, and cancels the other branches', async () => {
    const { executor, log } = setup();
    const { events, onEvent } = record();
    const wf = workflow(
      [
        ['DELAY', { image: 'init[image]', ms: 5000, tag: 1 }],
        ['FAIL', { image: 'init[image]', why: 'out of memory' }],
        ['COMPOSE', { image1: 'step1[image]', image2: 'step2[image]' }],
      ],
      ['step3[image]'],
    );
    const outcome = await executor.run(wf, { image }, { onEvent });
    expect(outcome.status).toBe('failed');
    if (outcome.status !== 'failed') return;
    expect(outcome.error.message).toBe('Step 2 (FAIL) failed: out of memory [inputs: image=init[image] (Image 8x8), why="out of memory"]');
    expect(log.aborted).toEqual(['DELAY:1']);
    expect(outcome.trace.map((t) => t.status)).toEqual(['cancelled', 'failed', 'pending']);
    expect(events.filter((e) => e.type === 'step-failed')).toHaveLength(1);
  });

  it('reports an empty mask from a predict brick as its own outcome instead of editing nothing', async () => {
    const { executor } = setup();
    const wf = workflow(
      [
        ['FIND-NOTHING', { image: 'init[image]', prompt: 'unicorn' }],
        ['GRAYSCALE', { image: 'init[image]', mask: 'step1[mask]' }],
      ],
      ['step2[image]'],
    );
    const { events, onEvent } = record();
    const outcome = await executor.run(wf, { image }, { onEvent });
    expect(outcome.status).toBe('failed');
    if (outcome.status !== 'failed') return;
    expect(outcome.error).toBeInstanceOf(EmptyMaskError);
    expect(outcome.error.code).toBe('empty-mask');
    expect(outcome.error.message).toMatch(/Step 1 \(FIND-NOTHING\) found nothing for "unicorn"/);
    expect(outcome.trace[0]!.emptyMasks).toEqual(['mask']);
    expect(events.find((e) => e.type === 'step-finished')).toMatchObject({ emptyMasks: ['mask'] });
  });

  it('can be told to only warn about empty masks', async () => {
    const { executor } = setup({ emptyMask: 'warn' });
    const wf = workflow(
      [
        ['FIND-NOTHING', { image: 'init[image]', prompt: 'unicorn' }],
        ['GRAYSCALE', { image: 'init[image]', mask: 'step1[mask]' }],
      ],
      ['step2[image]'],
    );
    const outcome = await executor.run(wf, { image });
    expect(outcome.status).toBe('ok');
    if (outcome.status === 'ok') expect(outcome.warnings.map((w) => w.code)).toEqual(['empty-mask']);
  });

  it('refuses an invalid workflow before running anything', async () => {
    const { executor, log } = setup();
    const outcome = await executor.run(workflow([['DELAY', { image: 'init[mask]' }]], ['step1[image]']), { image });
    expect(outcome.status).toBe('failed');
    if (outcome.status === 'failed') expect(outcome.error).toBeInstanceOf(WorkflowValidationError);
    expect(log.calls).toEqual([]);
  });

  it('skips steps no result depends on', async () => {
    const { executor, log } = setup();
    const outcome = await executor.run(
      workflow(
        [
          ['DELAY', { image: 'init[image]', ms: 0, tag: 1 }],
          ['DELAY', { image: 'init[image]', ms: 0, tag: 2 }],
        ],
        ['step2[image]'],
      ),
      { image },
    );
    expect(log.calls).toEqual(['DELAY:2']);
    expect(outcome.trace.map((t) => t.status)).toEqual(['unused', 'ok']);
  });

  it('returns several results in the order the workflow lists them', async () => {
    const { executor } = setup();
    const outcome = await executor.run(
      workflow(
        [
          ['DELAY', { image: 'init[image]', ms: 0, tag: 1 }],
          ['DELAY', { image: 'init[image]', ms: 0, tag: 2 }],
        ],
        ['step2[image]', 'step1[image]', 'init[image]'],
      ),
      { image },
    );
    expect(outcome.status).toBe('ok');
    if (outcome.status === 'ok') expect(outcome.results.map((r) => (r as ImageData).data[0])).toEqual([12, 11, 10]);
  });
});

describe('Executor: outputs a step leaves out', () => {
  // INVERSE given masks returns a mask and no image.
  const someMask = rectMask(8, 8, 2, 2, 4, 4);

  it('fails the step that left out an output a result needs, naming the step, brick and output, and still reports done', async () => {
    const { executor } = setup();
    const { events, onEvent } = record();
    const outcome = await executor.run(workflow([['INVERSE', { mask2: 'init[mask]' }]], ['step1[image]']), { image, mask: someMask }, { onEvent });
    expect(outcome.status).toBe('failed');
    if (outcome.status !== 'failed') return;
    expect(outcome.error).toBeInstanceOf(StepFailedError);
    expect(outcome.error).toMatchObject({ step: 1, brick: 'INVERSE', code: 'missing-output' });
    expect(outcome.error.cause).toBeInstanceOf(MissingOutputError);
    expect(outcome.error.message).toBe('Step 1 (INVERSE) failed: INVERSE returned no "image" output (needed by the result). [inputs: mask2=init[mask] (Mask 8x8)]');
    expect(outcome.trace.map((t) => t.status)).toEqual(['failed']);
    expect(events.filter((e) => e.type === 'step-finished')).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: 'done', status: 'failed' });
  });

  it('blames the step that left an output out, not the later step that reads it', async () => {
    const { executor } = setup();
    const wf = workflow(
      [
        ['INVERSE', { mask2: 'init[mask]' }],
        ['GRAYSCALE', { image: 'step1[image]' }],
      ],
      ['step2[image]'],
    );
    const outcome = await executor.run(wf, { image, mask: someMask });
    expect(outcome.status).toBe('failed');
    if (outcome.status !== 'failed') return;
    expect(outcome.error).toMatchObject({ step: 1, brick: 'INVERSE' });
    expect(outcome.error.message).toMatch(/INVERSE returned no "image" output \(needed by step 2 \(GRAYSCALE\)\)/);
    expect(outcome.trace.map((t) => t.status)).toEqual(['failed', 'pending']);
  });

  it('checks cached outputs against what this run reads, not what the run that cached them read', async () => {
    const { executor } = setup();
    const first = await executor.run(workflow([['INVERSE', { mask2: 'init[mask]' }]], ['step1[mask]']), { image, mask: someMask });
    expect(first.status).toBe('ok');
    const second = await executor.run(workflow([['INVERSE', { mask2: 'init[mask]' }]], ['step1[image]']), { image, mask: someMask });
    expect(second.trace[0]!.cache).toBe('hit');
    expect(second.status).toBe('failed');
    if (second.status === 'failed') expect(second.error.code).toBe('missing-output');
  });
});

describe('Executor: empty masks', () => {
  const noMask = makeMask(8, 8);

  it('quotes the whole prompt of a segmenter that found nothing', async () => {
    const { executor } = setup();
    const wf = workflow(
      [
        ['FIND-NOTHING', { image: 'init[image]', prompt: 'the left sheep' }],
        ['GRAYSCALE', { image: 'init[image]', mask: 'step1[mask]' }],
      ],
      ['step2[image]'],
    );
    const outcome = await executor.run(wf, { image });
    expect(outcome.status).toBe('failed');
    if (outcome.status !== 'failed') return;
    expect(outcome.error.message).toBe('Step 1 (FIND-NOTHING) found nothing for "the left sheep": its mask is empty, so the edit would change nothing.');
  });

  it('stops before an edit brick gets the user\'s empty mask, naming init[mask]', async () => {
    const { executor } = setup();
    const { events, onEvent } = record();
    const outcome = await executor.run(workflow([['FASTINPAINT', { image: 'init[image]', mask: 'init[mask]' }]], ['step1[image]']), { image, mask: noMask }, { onEvent });
    expect(outcome.status).toBe('failed');
    if (outcome.status !== 'failed') return;
    expect(outcome.error).toBeInstanceOf(EmptyMaskError);
    expect(outcome.error).toMatchObject({ code: 'empty-mask', source: { kind: 'init', name: 'mask' }, step: undefined });
    expect(outcome.error.message).toBe('The mask you gave (init[mask]) is empty, so step 1 (FASTINPAINT) would change nothing.');
    expect(events.filter((e) => e.type === 'step-started')).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: 'done', status: 'failed' });
  });

  it('names the function step whose empty mask a later step would edit with', async () => {
    const { executor } = setup();
    // The user's mask minus itself: nothing is left.
    const wf = workflow(
      [
        ['INVERSE', { mask1: 'init[mask]', mask2: 'init[mask]' }],
        ['GRAYSCALE', { image: 'init[image]', mask: 'step1[mask]' }],
      ],
      ['step2[image]'],
    );
    const outcome = await executor.run(wf, { image, mask: rectMask(8, 8, 2, 2, 4, 4) });
    expect(outcome.status).toBe('failed');
    if (outcome.status !== 'failed') return;
    expect(outcome.error).toMatchObject({ code: 'empty-mask', step: 1, brick: 'INVERSE' });
    expect(outcome.error.message).toBe('Step 1 (INVERSE) produced an empty mask (step1[mask]), so step 2 (GRAYSCALE) would change nothing.');
    expect(outcome.trace.map((t) => t.status)).toEqual(['ok', 'failed']);
  });

  it('passes an empty mask through mask algebra (the box of nothing is nothing) and stops at the step that would edit with it', async () => {
    const { executor } = setup();
    const noneLeft = [['INVERSE', { mask1: 'init[mask]', mask2: 'init[mask]' }], ['BBOX', { mask: 'step1[mask]' }]] satisfies Step[];
    const boxed = await executor.run(workflow(noneLeft, ['step2[mask]']), { image, mask: rectMask(8, 8, 2, 2, 4, 4) });
    expect(boxed.status).toBe('ok');
    if (boxed.status === 'ok') expect((boxed.results[0] as MaskData).data).toEqual(new Uint8Array(64));
    const edited = await executor.run(workflow([...noneLeft, ['GRAYSCALE', { image: 'init[image]', mask: 'step2[mask]' }]], ['step3[image]']), { image, mask: rectMask(8, 8, 2, 2, 4, 4) });
    expect(edited.status).toBe('failed');
    if (edited.status !== 'failed') return;
    expect(edited.error.message).toBe('Step 2 (BBOX) produced an empty mask (step2[mask]), so step 3 (GRAYSCALE) would change nothing.');
  });

  it('edits the whole image when an optional mask is left out', async () => {
    const { executor } = setup();
    const outcome = await executor.run(workflow([['GRAYSCALE', { image: 'init[image]' }]], ['step1[image]']), { image });
    expect(outcome.status).toBe('ok');
    if (outcome.status !== 'ok') return;
    const out = outcome.results[0] as ImageData;
    for (let i = 0; i < out.data.length; i += 3) expect([out.data[i + 1], out.data[i + 2]]).toEqual([out.data[i], out.data[i]]);
  });

  it('when told only to warn, runs the edit on the user\'s empty mask and warns once however many steps use it', async () => {
    const { executor } = setup({ emptyMask: 'warn' });
    const wf = workflow(
      [
        ['FASTINPAINT', { image: 'init[image]', mask: 'init[mask]' }],
        ['GRAYSCALE', { image: 'step1[image]', mask: 'init[mask]' }],
      ],
      ['step2[image]'],
    );
    const outcome = await executor.run(wf, { image, mask: noMask });
    expect(outcome.status).toBe('ok');
    if (outcome.status !== 'ok') return;
    expect(outcome.warnings.map((w) => w.message)).toEqual(['The mask you gave (init[mask]) is empty, so step 1 (FASTINPAINT) would change nothing.']);
    expect((outcome.results[0] as ImageData).data).toEqual(image.data);
  });

  it('stops "extract" of something the segmenter cannot find instead of returning an empty cut-out', async () => {
    const { executor } = setup();
    const outcome = await executor.run(workflow([['RES', { image: 'init[image]', prompt: 'a unicorn' }]], ['step1[image]']), { image });
    expect(outcome.status).toBe('failed');
    if (outcome.status !== 'failed') return;
    expect(outcome.error).toMatchObject({ code: 'empty-mask', step: 1, brick: 'RES' });
    expect(outcome.error.message).toBe('Step 1 (RES) found nothing for "a unicorn": its mask is empty, so its image would be an empty cut-out.');
    expect(outcome.trace[0]!.emptyMasks).toEqual(['mask']);
  });
});

describe('Executor: warnings from bricks', () => {
  // On a flat grey photo GrabCut has no colour to tell object from background, so MASK-SEG keeps the rough mask.
  const flat = solidImage(80, 60, [120, 120, 120]);
  const rough = rectMask(80, 60, 20, 15, 40, 30);
  const wf = workflow([['MASK-SEG', { image: 'init[image]', mask: 'init[mask]' }]], ['step1[mask]']);

  it('adds what a brick warned about to the outcome, and says it again when the step comes from the cache', async () => {
    const { executor } = setup();
    for (const cache of ['miss', 'hit']) {
      const outcome = await executor.run(wf, { image: flat, mask: rough });
      expect(outcome.status).toBe('ok');
      if (outcome.status !== 'ok') return;
      expect(outcome.trace[0]!.cache).toBe(cache);
      expect((outcome.results[0] as MaskData).data).toEqual(rough.data);
      expect(outcome.warnings).toHaveLength(1);
      expect(outcome.warnings[0]).toBeInstanceOf(BrickWarning);
      expect(outcome.warnings[0]!.message).toBe(`Step 1 (MASK-SEG): ${ROUGH_MASK_KEPT}`);
    }
  });
});

describe('Executor: bricks that break their declaration or throw untyped errors', () => {
  /** A brick whose run returns `out` (or throws it when `throws`), declaring one Image and one Mask output. */
  const rogue = (name: string, run: () => unknown) =>
    defineBrick({
      name,
      kind: 'function',
      description: 'Misbehaves on purpose',
      inputs: { image: port.image() },
      outputs: { image: port.image(), mask: port.mask() },
      version: '1',
      run: async () => run() as never,
    });
  const good = () => ({ image: solidImage(2, 2, [1, 2, 3]), mask: makeMask(2, 2) });

  function runRogue(brick: ReturnType<typeof rogue>, logger?: Logger) {
    const executor = new Executor(new BrickRegistry([brick, ...functionBricks]), { concurrency: 2, ...(logger ? { logger } : {}) });
    return executor.run(workflow([[brick.name, { image: 'init[image]' }], ['GRAYSCALE', { image: 'step1[image]' }]], ['step2[image]']), { image });
  }

  it.each([
    ['leaves out a required output', () => ({ image: solidImage(2, 2, [1, 2, 3]) }), 'ROGUE returned a bad "mask" output: it is missing.'],
    ['returns a Mask for an Image output', () => ({ ...good(), image: makeMask(2, 2) }), 'ROGUE returned a bad "image" output: expected Image, got Mask.'],
    [
      'returns pixels that do not match their size',
      () => ({ ...good(), mask: { kind: 'mask', width: undefined, height: undefined, data: new Uint8Array(4) } }),
      'ROGUE returned a bad "mask" output: size undefinedxundefined is not at least 1x1.',
    ],
    ['returns nothing at all', () => undefined, 'ROGUE returned a bad "image" output: it returned undefined instead of its outputs.'],
  ])('fails the step itself, with a typed brick-output error, when a brick %s', async (_what, run, cause) => {
    const outcome = await runRogue(rogue('ROGUE', run));
    expect(outcome.status).toBe('failed');
    if (outcome.status !== 'failed') return;
    expect(outcome.error).toMatchObject({ step: 1, brick: 'ROGUE', code: 'brick-output' });
    expect(outcome.error.cause).toBeInstanceOf(BrickOutputError);
    expect((outcome.error.cause as Error).message).toBe(cause);
    expect(outcome.trace.map((t) => t.status)).toEqual(['failed', 'pending']);
  });

  it.each([
    ['a library TypeError', () => { throw new TypeError("Cannot read properties of undefined (reading 'width')"); }, "Cannot read properties of undefined (reading 'width')", true],
    ['a bare number, as Emscripten modules throw', () => { throw 6626216; }, 'number 6626216', false],
    ['a string', () => { throw 'extract_area: bad extract area'; }, 'extract_area: bad extract area', false],
  ])('turns %s into a typed BrickFailedError naming the step, logs it (with its stack), and shows the user no stack', async (_what, run, detail, hasStack) => {
    const lines: string[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => void lines.push(line) });
    const outcome = await runRogue(rogue('ROGUE', run), logger);
    expect(outcome.status).toBe('failed');
    if (outcome.status !== 'failed') return;
    expect(outcome.error).toMatchObject({ step: 1, brick: 'ROGUE', code: 'step-failed' });
    expect(outcome.error.cause).toBeInstanceOf(BrickFailedError);
    expect(outcome.error.userMessage).toBe(`Step 1 (ROGUE): it failed unexpectedly (${detail})`);
    expect(outcome.error.userMessage).not.toMatch(/\n\s+at /);
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; step: number; brick: string; err?: { stack?: string } });
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ msg: 'brick failed with an untyped error', step: 1, brick: 'ROGUE' });
    if (hasStack) expect(logged[0]!.err?.stack).toMatch(/TypeError: Cannot read properties[\s\S]*\n\s+at /);
  });
});
