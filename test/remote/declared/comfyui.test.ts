import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrickProgress } from '../../../src/engine/brick.ts';
import { CancelledError } from '../../../src/engine/errors.ts';
import type { ImageData, MaskData } from '../../../src/engine/values.ts';
import { ComfyUIExecutionError, comfyuiBrick } from '../../../src/remote/declared/comfyui.ts';
import { declaredBricks } from '../../../src/remote/declared/wiring.ts';
import { loadConfig } from '../../../src/config.ts';
import { type FakeComfyUI, startFakeComfyUI } from '../../fakes/comfyui-server.ts';
import { repoRoot } from '../../support/shared.ts';
import { solidImage } from '../../support/test-bricks.ts';
import { testLogger } from '../support.ts';

const image = solidImage(20, 10, [10, 20, 30]);
const mask: MaskData = { kind: 'mask', width: 20, height: 10, data: new Uint8Array(200).fill(255) };

function ctx(signal = AbortSignal.timeout(10_000)) {
  const progress: BrickProgress[] = [];
  return { progress, ctx: { signal, logger: testLogger, progress: (p: BrickProgress) => progress.push(p) } };
}

describe('ComfyUI-backed bricks (against a fake ComfyUI)', () => {
  let comfy: FakeComfyUI;
  beforeAll(async () => {
    comfy = await startFakeComfyUI();
  });
  afterAll(() => comfy.close());

  const shape = (name: string) => ({
    name,
    kind: 'edit' as const,
    description: 'test',
    version: '1',
    inputs: { image: { type: 'Image' as const }, prompt: { type: 'Str' as const } },
    outputs: { image: { type: 'Image' as const } },
  });

  it('runs the shipped FLUX-Fill example: uploads inputs, fills placeholders, maps progress, fetches the output', async () => {
    const config = loadConfig({ LEGO_EDIT_DATA_DIR: '/nonexistent', COMFYUI_URL: comfy.url });
    const [brick] = declaredBricks(join(repoRoot, 'examples/bricks/flux-fill.comfyui.yaml'), config, { role: 'worker', logger: testLogger });
    expect(brick!.name).toBe('FLUX-FILL');
    expect((await brick!.backends!())[0]).toMatchObject({ name: 'comfyui', available: true });
    const { progress, ctx: c } = ctx();
    const out = (await brick!.run({ image, mask, prompt: 'a red balloon' } as never, c)) as unknown as { image: ImageData };
    expect([out.image.width, out.image.height]).toEqual([20, 10]);
    expect([...out.image.data.slice(0, 3)]).toEqual([245, 235, 225]);
    const prompt = comfy.prompts.at(-1)!;
    expect(prompt['6']!.inputs.text).toBe('a red balloon');
    expect(String(prompt['4']!.inputs.image)).toMatch(/^lego-edit-[0-9a-f]+\.png$/);
    expect(prompt['4']!.inputs.image).not.toBe(prompt['5']!.inputs.image);
    expect(typeof prompt['11']!.inputs.seed).toBe('number');
    expect(comfy.uploads.has(String(prompt['5']!.inputs.image))).toBe(true);
    const fractions = progress.map((p) => p.fraction);
    expect(fractions).toContain(0.5);
    expect(fractions.at(-1)).toBe(1);
    // Same inputs, same seed: reruns reproduce the picture.
    await brick!.run({ image, mask, prompt: 'a red balloon' } as never, ctx().ctx);
    expect(comfy.prompts.at(-1)!['11']!.inputs.seed).toBe(prompt['11']!.inputs.seed);
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
    expect(comfy.interrupts.length).toBeGreaterThan(0);
    expect((comfy.interrupts.at(-1) as { prompt_id?: string }).prompt_id).toBeTruthy();
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
});
