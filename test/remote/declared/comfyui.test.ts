import { Writable } from 'node:stream';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyBrick, BrickProgress } from '../../../src/engine/brick.ts';
import { CancelledError } from '../../../src/engine/errors.ts';
import type { ImageData, MaskData } from '../../../src/engine/values.ts';
import { makeMask } from '../../../src/engine/values.ts';
import { ComfyUIExecutionError, ComfyUIRejectedError, comfyuiBrick } from '../../../src/remote/declared/comfyui.ts';
import { declaredBricks } from '../../../src/remote/declared/wiring.ts';
import { loadConfig } from '../../../src/config.ts';
import { type FakeComfyUI, type FakeComfyUIOptions, startFakeComfyUI } from '../../fakes/comfyui-server.ts';
import { describeWithObjectInfo, objectInfo } from '../../support/comfyui.ts';
import { repoRoot } from '../../support/shared.ts';
import { solidImage } from '../../support/test-bricks.ts';
import { testLogger } from '../support.ts';

const image = solidImage(20, 10, [10, 20, 30]);
const mask: MaskData = { kind: 'mask', width: 20, height: 10, data: new Uint8Array(200).fill(255) };
/** The left half of a 20×10 picture. */
const leftHalf = makeMask(20, 10, Uint8Array.from({ length: 200 }, (_, p) => (p % 20 < 10 ? 255 : 0)));

function ctx(signal = AbortSignal.timeout(10_000), extra: { resample?: boolean; logger?: typeof testLogger } = {}) {
  const progress: BrickProgress[] = [];
  return { progress, ctx: { signal, logger: extra.logger ?? testLogger, progress: (p: BrickProgress) => progress.push(p), ...(extra.resample ? { resample: true } : {}) } };
}

/** A logger whose lines land in `lines`, to check what the operator is told. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino({ level: 'debug' }, stream) };
}

const shape = (name: string, inputs: AnyBrick['inputs'] = { image: { type: 'Image' }, prompt: { type: 'Str' } }) => ({
  name,
  kind: 'edit' as const,
  description: 'test',
  version: '1',
  inputs,
  outputs: { image: { type: 'Image' as const } },
});

/** A masked "generation": LoadImage, LoadImageMask on `channel`, a sampler, SaveImage. */
const maskedTemplate = (channel: string) => ({
  '1': { class_type: 'LoadImage', inputs: { image: '{{image}}' } },
  '2': { class_type: 'LoadImageMask', inputs: { image: '{{mask}}', channel } },
  '3': { class_type: 'KSampler', inputs: { seed: '{{seed}}', steps: 2 } },
  '4': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 't' } },
});

const at = (img: ImageData, x: number, y: number) => [...img.data.slice((y * img.width + x) * img.channels, (y * img.width + x) * img.channels + 3)];

describe('ComfyUI-backed bricks (against a fake ComfyUI)', () => {
  let comfy: FakeComfyUI;
  const others: FakeComfyUI[] = [];
  const another = async (o: FakeComfyUIOptions) => {
    const c = await startFakeComfyUI(o);
    others.push(c);
    return c;
  };
  beforeAll(async () => {
    comfy = await startFakeComfyUI();
  });
  afterAll(async () => {
    await comfy.close();
    for (const c of others) await c.close();
  });

  it('runs the pack’s FLUX-FILL: uploads inputs, fills placeholders, maps progress, fetches the output', async () => {
    const config = loadConfig({ LEGO_EDIT_DATA_DIR: '/nonexistent', COMFYUI_URL: comfy.url });
    const bricks = declaredBricks(join(repoRoot, 'examples/comfyui-pack/current/bricks.yaml'), config, { role: 'worker', logger: testLogger });
    const brick = bricks.find((b) => b.name === 'FLUX-FILL')!;
    const { progress, ctx: c } = ctx();
    const out = (await brick.run({ image, mask, prompt: 'a red balloon' } as never, c)) as unknown as { image: ImageData };
    expect([out.image.width, out.image.height]).toEqual([20, 10]);
    expect(at(out.image, 0, 0)).toEqual([245, 235, 225]);
    const prompt = comfy.prompts.at(-1)!;
    expect(prompt['20']!.inputs.text).toBe('a red balloon');
    expect(String(prompt['10']!.inputs.image)).toMatch(/^lego-edit-image-[0-9a-f]+\.png$/);
    expect(String(prompt['11']!.inputs.image)).toMatch(/^lego-edit-mask-[0-9a-f]+\.png$/);
    expect(typeof prompt['30']!.inputs.seed).toBe('number');
    expect(comfy.uploads.has(String(prompt['11']!.inputs.image))).toBe(true);
    const fractions = progress.map((p) => p.fraction);
    expect(fractions).toContain(0.5);
    expect(fractions.at(-1)).toBe(1);
    // Same inputs, same seed: reruns reproduce the picture.
    await brick.run({ image, mask, prompt: 'a red balloon' } as never, ctx().ctx);
    expect(comfy.prompts.at(-1)!['30']!.inputs.seed).toBe(prompt['30']!.inputs.seed);
  });

  it('reads the history only once ComfyUI says `executing` with node null, which comes after the history is written', async () => {
    const late = await another({ historyDelayMs: 40 });
    const brick = comfyuiBrick(shape('LATE', { image: { type: 'Image' }, mask: { type: 'Mask' } }), { url: late.url, template: maskedTemplate('red'), outputs: { image: { node: '4' } }, timeoutMs: 10_000 });
    const out = (await brick.run({ image, mask } as never, ctx().ctx)) as unknown as { image: ImageData };
    expect(at(out.image, 5, 5)).toEqual([245, 235, 225]);
  });

  it('draws a fresh seed for "try again", so ComfyUI does not answer from its cache', async () => {
    const brick = comfyuiBrick(shape('SEEDED', { image: { type: 'Image' }, mask: { type: 'Mask' } }), { url: comfy.url, template: maskedTemplate('red'), outputs: { image: { node: '4' } }, timeoutMs: 10_000 });
    const seeds = new Set<unknown>();
    for (let i = 0; i < 3; i++) {
      await brick.run({ image, mask } as never, ctx(undefined, { resample: true }).ctx);
      seeds.add(comfy.prompts.at(-1)!['3']!.inputs.seed);
    }
    expect(seeds.size).toBe(3);
  });

  it('stands in for an absent optional mask with the whole image, never sending "{{mask}}"', async () => {
    const brick = comfyuiBrick(shape('OPTIONAL-MASK', { image: { type: 'Image' }, mask: { type: 'Mask', optional: true } }), {
      url: comfy.url,
      template: maskedTemplate('red'),
      outputs: { image: { node: '4' } },
      timeoutMs: 10_000,
    });
    const out = (await brick.run({ image, mask: null } as never, ctx().ctx)) as unknown as { image: ImageData };
    expect(JSON.stringify(comfy.prompts.at(-1))).not.toContain('{{');
    expect(comfy.uploads.has(String(comfy.prompts.at(-1)!['2']!.inputs.image))).toBe(true);
    expect(at(out.image, 15, 5)).toEqual([245, 235, 225]);
  });

  it('refuses to send a workflow that would still hold a placeholder', async () => {
    const brick = comfyuiBrick(shape('HOLE', { image: { type: 'Image' }, strength: { type: 'Float', optional: true } }), {
      url: comfy.url,
      template: { '1': { class_type: 'LoadImage', inputs: { image: '{{image}}' } }, '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: '{{strength}}' } } },
      outputs: { image: { node: '2' } },
      timeoutMs: 10_000,
    });
    const sent = comfy.prompts.length;
    await expect(brick.run({ image, strength: null } as never, ctx().ctx)).rejects.toThrow(/no value for \{\{strength\}\}/);
    expect(comfy.prompts.length).toBe(sent);
  });

  it.each(['alpha', 'red', 'green', 'blue'])('uploads a mask so that LoadImageMask reads it from any channel (%s; alpha is ComfyUI’s default)', async (channel) => {
    const brick = comfyuiBrick(shape(`MASK-${channel}`, { image: { type: 'Image' }, mask: { type: 'Mask' } }), { url: comfy.url, template: maskedTemplate(channel), outputs: { image: { node: '4' } }, timeoutMs: 10_000 });
    const out = (await brick.run({ image, mask: leftHalf } as never, ctx().ctx)) as unknown as { image: ImageData };
    expect(at(out.image, 2, 5)).toEqual([245, 235, 225]);
    expect(at(out.image, 17, 5)).toEqual([10, 20, 30]);
  });

  it('maps execution_error to a typed error naming the node (out of memory is retryable)', async () => {
    const brick = comfyuiBrick(shape('FAILING'), {
      url: comfy.url,
      template: { '1': { class_type: 'LoadImage', inputs: { image: '{{image}}' } }, '2': { class_type: 'FailNode', inputs: {} } },
      outputs: { image: { node: '3' } },
      timeoutMs: 10_000,
    });
    const err = await brick.run({ image, prompt: 'x' } as never, ctx().ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ComfyUIExecutionError);
    expect((err as Error).message).toMatch(/FAILING: ComfyUI failed in FailNode: .*out of memory/);
    expect((err as ComfyUIExecutionError).retryable).toBe(true);
  });

  it('interrupts the prompt on ComfyUI when the step is cancelled', async () => {
    const brick = comfyuiBrick(shape('SLOW'), {
      url: comfy.url,
      template: { '1': { class_type: 'LoadImage', inputs: { image: '{{image}}' } }, '2': { class_type: 'SlowNode', inputs: { steps: 100, stepMs: 50 } } },
      outputs: { image: { node: '3' } },
      timeoutMs: 30_000,
    });
    const ac = new AbortController();
    const { progress, ctx: c } = ctx(ac.signal);
    const run = brick.run({ image, prompt: 'x' } as never, c);
    while (!progress.some((p) => (p.fraction ?? 0) > 0)) await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    await expect(run).rejects.toBeInstanceOf(CancelledError);
    expect((comfy.interrupts.at(-1) as { prompt_id?: string }).prompt_id).toBe(comfy.promptIds.at(-1));
  });

  it('names its prompt itself, so a cancel while POST /prompt is in flight still stops it on the server', async () => {
    const slowAnswer = await another({ promptDelayMs: 400 });
    const brick = comfyuiBrick(shape('ORPHAN'), {
      url: slowAnswer.url,
      template: { '1': { class_type: 'LoadImage', inputs: { image: '{{image}}' } }, '2': { class_type: 'SlowNode', inputs: { steps: 200, stepMs: 20 } } },
      outputs: { image: { node: '3' } },
      timeoutMs: 30_000,
    });
    const ac = new AbortController();
    const run = brick.run({ image, prompt: 'x' } as never, ctx(ac.signal).ctx);
    while (slowAnswer.promptIds.length === 0) await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    await expect(run).rejects.toBeInstanceOf(CancelledError);
    const id = slowAnswer.promptIds[0]!;
    expect(slowAnswer.interrupts).toContainEqual({ prompt_id: id });
    expect(slowAnswer.queueRequests).toContainEqual({ delete: [id] });
    for (let i = 0; i < 100 && !slowAnswer.outcomes.has(id); i++) await new Promise((r) => setTimeout(r, 20));
    expect(['interrupted', 'deleted']).toContain(slowAnswer.outcomes.get(id));
  });

  it('reports a rejected workflow with ComfyUI’s own message', async () => {
    const brick = comfyuiBrick(shape('BROKEN'), { url: comfy.url, template: { '1': { inputs: {} } }, outputs: { image: { node: '1' } }, timeoutMs: 5_000 });
    await expect(brick.run({ image, prompt: 'x' } as never, ctx().ctx)).rejects.toThrow(/ComfyUI rejected the workflow \(Cannot execute because a node is missing the class_type property/);
  });

  it('says when ComfyUI cannot be reached, as an unavailable backend and a retryable error', async () => {
    const brick = comfyuiBrick(shape('NOWHERE'), { url: 'http://127.0.0.1:9', template: {}, outputs: { image: { node: '1' } }, timeoutMs: 5_000 });
    expect((await brick.backends!())[0]).toMatchObject({ name: 'comfyui', available: false });
    const err = await brick.run({ image, prompt: 'x' } as never, ctx().ctx).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('comfyui-unavailable');
    expect((err as { retryable?: boolean }).retryable).toBe(true);
  });

  it('carries the manifest’s time limit for the executor', () => {
    const brick = comfyuiBrick(shape('PATIENT'), { url: comfy.url, template: {}, outputs: { image: { node: '1' } }, timeoutMs: 600_000 });
    expect(brick.timeoutMs).toBe(600_000);
  });
});

describeWithObjectInfo('ComfyUI node_errors (against the fake validating with the real /object_info)', () => {
  let comfy: FakeComfyUI;
  beforeAll(async () => {
    comfy = await startFakeComfyUI({ objectInfo: objectInfo(), models: { vae: ['ae.safetensors'] } });
  });
  afterAll(() => comfy.close());

  it('logs each refused node and input for the operator and gives the user one friendly line', async () => {
    const brick = comfyuiBrick(shape('FLUX-X'), {
      url: comfy.url,
      template: {
        '1': { class_type: 'UNETLoader', inputs: { unet_name: 'flux1-dev-kontext_fp8_scaled.safetensors', weight_dtype: 'default' } },
        '2': { class_type: 'LoadImage', inputs: { image: '{{image}}' } },
        '3': { class_type: 'VAELoader', inputs: { vae_name: 'ae.safetensors' } },
        '4': { class_type: 'VAEEncode', inputs: { pixels: ['2', 0], vae: ['1', 0] } },
        '5': { class_type: 'VAEDecode', inputs: { samples: ['4', 0], vae: ['3', 0] } },
        '6': { class_type: 'SaveImage', inputs: { images: ['5', 0] } },
      },
      outputs: { image: { node: '6' } },
      timeoutMs: 5_000,
    });
    const { lines, logger } = capturingLogger();
    const err = (await brick.run({ image, prompt: 'x' } as never, ctx(undefined, { logger }).ctx).catch((e: unknown) => e)) as ComfyUIRejectedError;
    expect(err).toBeInstanceOf(ComfyUIRejectedError);
    expect(err.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ node: '4', classType: 'VAEEncode', input: 'vae', type: 'return_type_mismatch' }),
        expect.objectContaining({ node: '6', classType: 'SaveImage', input: 'filename_prefix', type: 'required_input_missing' }),
      ]),
    );
    expect(err.userMessage).not.toMatch(/\n|node \d/);
    expect(err.userMessage).toMatch(/^FLUX-X cannot run on the GPU host/);
    const logged = lines.filter((l) => l.level === 50).map((l) => `${String(l.node)}:${String(l.input)}`);
    expect(logged).toEqual(expect.arrayContaining(['4:vae', '6:filename_prefix']));
  });

  it('says a missing model file is a set-up problem, naming the file to the operator', async () => {
    const brick = comfyuiBrick(shape('FLUX-Y'), {
      url: comfy.url,
      template: {
        '1': { class_type: 'VAELoader', inputs: { vae_name: 'flux-vae-missing.safetensors' } },
        '2': { class_type: 'LoadImage', inputs: { image: '{{image}}' } },
        '3': { class_type: 'VAEEncode', inputs: { pixels: ['2', 0], vae: ['1', 0] } },
        '4': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['1', 0] } },
        '5': { class_type: 'SaveImage', inputs: { images: ['4', 0], filename_prefix: 'x' } },
      },
      outputs: { image: { node: '5' } },
      timeoutMs: 5_000,
    });
    const err = (await brick.run({ image, prompt: 'x' } as never, ctx().ctx).catch((e: unknown) => e)) as ComfyUIRejectedError;
    expect(err.problems).toEqual([expect.objectContaining({ node: '1', input: 'vae_name', type: 'value_not_in_list' })]);
    expect(err.message).toContain('flux-vae-missing.safetensors');
    expect(err.userMessage).toBe('FLUX-Y is not set up on the GPU host yet (a model file it needs is missing there); the operator has been told which.');
  });
});
