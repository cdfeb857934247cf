import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, assert, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fluxFillBrick } from '../../../bricks/edit/flux-fill.ts';
import { fluxInpaintBrick } from '../../../bricks/edit/flux-inpaint.ts';
import { type BrickEnvironment, brickEnvironment } from '../../../bricks/environment.ts';
import { boxMask } from '../../../bricks/lib/pixels.ts';
import { loadModel, resetModelsForTests } from '../../../bricks/models/onnx-models.ts';
import { maskSegBrick, segmentInsideMask } from '../../../bricks/predict/mask-seg.ts';
import type { AnyBrick } from '../../../src/engine/brick.ts';
import { loadConfig } from '../../../src/config.ts';
import { Executor } from '../../../src/engine/executor.ts';
import { BrickRegistry } from '../../../src/engine/registry.ts';
import { parseWorkflow } from '../../../src/engine/workflow/parse.ts';
import { BrickUnavailableError, NeedsGpuHostError } from '../../../src/engine/errors.ts';
import type { ImageData, MaskData } from '../../../src/engine/values.ts';
import { makeImage } from '../../../src/engine/values.ts';
import { brightnessSegmenter, negativeInpainter } from './onnx-graphs.ts';
import { call, pixels, rgbAt, sameAt } from './support.ts';

let dir: string;
let env: BrickEnvironment;
let FLUX_INPAINT: AnyBrick;
let FLUX_FILL: AnyBrick;
let MASK_SEG: AnyBrick;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lego-models-'));
  env = { modelsDir: dir };
  FLUX_INPAINT = fluxInpaintBrick(env);
  FLUX_FILL = fluxFillBrick(env);
  MASK_SEG = maskSegBrick(env);
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  for (const f of ['lama.onnx', 'segment.onnx', 'flux-fill.onnx']) rmSync(join(dir, f), { force: true });
  resetModelsForTests();
});

/** A colourful test card: a diagonal gradient, so a negative is easy to tell from any fill. */
function card(w = 96, h = 80): ImageData {
  const img = makeImage(w, h, 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) img.data.set([(x * 255) / w, (y * 255) / h, 90], (y * w + x) * 3);
  return img;
}

describe('user-supplied ONNX models', () => {
  it('hands the bricks LEGO_EDIT_MODELS_DIR, or <data dir>/models when it is unset', () => {
    expect(brickEnvironment(loadConfig({ LEGO_EDIT_DATA_DIR: '/srv/lego', LEGO_EDIT_MODELS_DIR: dir })).modelsDir).toBe(dir);
    expect(brickEnvironment(loadConfig({ LEGO_EDIT_DATA_DIR: '/srv/lego' })).modelsDir).toBe(join('/srv/lego', 'models'));
  });

  it('reports a missing lama.onnx in backends() with where to drop it, and falls back to the CPU refinement', async () => {
    const list = await FLUX_INPAINT.backends!();
    const onnx = list.find((b) => b.name === 'onnx:inpaint')!;
    expect(onnx.available).toBe(false);
    expect(onnx.detail).toContain(join(dir));
    expect(onnx.detail).toContain('lama.onnx');
    expect(list.find((b) => b.name === 'opencv-wasm')?.available).toBe(true);
  });

  it('runs a generated LaMa-shaped graph for FLUX-INPAINT: masked pixels become its output, the rest stays bit-identical', async () => {
    writeFileSync(join(dir, 'lama.onnx'), negativeInpainter());
    const img = card();
    const mask = boxMask(96, 80, { x: 30, y: 20, width: 24, height: 30 });
    const { image } = await call(FLUX_INPAINT, { image: img, mask, preimage: img, score: 0.2 });
    const out = image as ImageData;
    for (const p of pixels(mask, true)) {
      const a = rgbAt(img, p);
      const b = rgbAt(out, p);
      for (let k = 0; k < 3; k++) expect(Math.abs(b[k]! - (255 - a[k]!))).toBeLessThanOrEqual(1);
    }
    const far = pixels(boxMask(96, 80, { x: 22, y: 12, width: 40, height: 46 }), false);
    expect(sameAt(img, out, far)).toBe(true);
    const onnx = (await FLUX_INPAINT.backends!()).find((b) => b.name === 'onnx:inpaint')!;
    expect(onnx.available).toBe(true);
    expect(onnx.detail).toMatch(/loaded on cpu/);
  });

  it('keys FLUX-INPAINT steps by the installed model: installing lama.onnx re-runs a step cached from the CPU variant', async () => {
    const executor = new Executor(new BrickRegistry([FLUX_INPAINT]));
    const wf = parseWorkflow(JSON.stringify({ pipeline: [{ step: 1, model: 'FLUX-INPAINT', input: { image: 'init[image]', mask: 'init[mask]', preimage: 'init[image]', score: 0.2 }, output: {} }, { result: '[step1[image]]' }] }));
    const img = card();
    const mask = boxMask(96, 80, { x: 30, y: 20, width: 24, height: 30 });
    const onCpu = await executor.run(wf, { image: img, mask });
    writeFileSync(join(dir, 'lama.onnx'), negativeInpainter());
    const onModel = await executor.run(wf, { image: img, mask });
    expect([onCpu.trace[0]!.cache, onModel.trace[0]!.cache]).toEqual(['miss', 'miss']);
    assert(onModel.status === 'ok', `the run with lama.onnx ${onModel.status}`);
    const p = 35 * 96 + 40;
    expect(rgbAt(onModel.results[0] as ImageData, p)[0]).toBe(255 - rgbAt(img, p)[0]);
    expect((await executor.run(wf, { image: img, mask })).trace[0]!.cache).toBe('hit');
  });

  it('loads a session once per process and shares it between concurrent calls', async () => {
    writeFileSync(join(dir, 'lama.onnx'), negativeInpainter());
    const [a, b] = await Promise.all([loadModel('inpaint', env), loadModel('inpaint', env)]);
    expect(a).toBeDefined();
    expect(a!.session).toBe(b!.session);
    expect(a!.provider).toBe('cpu');
    expect((await loadModel('inpaint', env))!.session).toBe(a!.session);
  });

  it('runs a generated 64×64 segmenter for MASK-SEG on the crop around the rough mask', async () => {
    writeFileSync(join(dir, 'segment.onnx'), brightnessSegmenter(64));
    const img = makeImage(120, 100, 3, new Uint8Array(120 * 100 * 3).fill(30));
    for (let y = 30; y < 70; y++) for (let x = 40; x < 80; x++) img.data.fill(230, (y * 120 + x) * 3, (y * 120 + x) * 3 + 3);
    const rough = boxMask(120, 100, { x: 25, y: 15, width: 70, height: 70 });
    const { mask, backend } = await segmentInsideMask(img, rough, undefined, env);
    expect(backend).toBe('onnx');
    const iou = overlap(mask, boxMask(120, 100, { x: 40, y: 30, width: 40, height: 40 }));
    expect(iou).toBeGreaterThan(0.8);
    expect((await MASK_SEG.backends!()).find((b) => b.name === 'onnx:segment')?.available).toBe(true);
  });

  it('FLUX-FILL runs a user graph that takes the prompt as a string input', async () => {
    writeFileSync(join(dir, 'flux-fill.onnx'), negativeInpainter({ prompt: true }));
    const img = card();
    const mask = boxMask(96, 80, { x: 10, y: 10, width: 20, height: 20 });
    const out = (await call(FLUX_FILL, { image: img, mask, prompt: 'a dog', preimage: null })).image as ImageData;
    const p = 20 * 96 + 20;
    expect(rgbAt(out, p)[0]).toBe(255 - rgbAt(img, p)[0]);
  });

  it('FLUX-FILL refuses a graph without a prompt input, and raises NeedsGpuHostError again once it is removed', async () => {
    writeFileSync(join(dir, 'flux-fill.onnx'), negativeInpainter());
    const mask = boxMask(96, 80, { x: 10, y: 10, width: 20, height: 20 });
    const err = await call(FLUX_FILL, { image: card(), mask, prompt: 'a dog', preimage: null }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrickUnavailableError);
    expect(err).not.toBeInstanceOf(NeedsGpuHostError);
    rmSync(join(dir, 'flux-fill.onnx'));
    await expect(call(FLUX_FILL, { image: card(), mask, prompt: 'a dog', preimage: null })).rejects.toBeInstanceOf(NeedsGpuHostError);
  });
});

function overlap(a: MaskData, b: MaskData): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.data.length; i++) {
    const x = a.data[i]! >= 128;
    const y = b.data[i]! >= 128;
    if (x && y) inter++;
    if (x || y) union++;
  }
  return inter / union;
}
