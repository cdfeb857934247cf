/**
 * ONNX bricks declared in a manifest, run for real on generated graphs: the
 * shipped LaMa example and declarations covering the other pre- and
 * post-processing choices, through the manifest loader, the registry and the
 * executor, as the bot runs them.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import { Executor, type RunInputs } from '../../../src/engine/executor.ts';
import { BrickRegistry } from '../../../src/engine/registry.ts';
import type { ImageData, MaskData, Value } from '../../../src/engine/values.ts';
import { makeImage, makeMask } from '../../../src/engine/values.ts';
import { parseWorkflow } from '../../../src/engine/workflow/parse.ts';
import { type RemoteWiring, wireRemoteBricks } from '../../../src/remote/declared/wiring.ts';
import { brightnessSegmenter, negativeInpainter } from '../../bricks/edit/onnx-graphs.ts';
import { repoRoot } from '../../support/shared.ts';
import { testLogger } from '../support.ts';

function wire(manifest: string, modelsDir: string): { registry: BrickRegistry; wiring: RemoteWiring } {
  const registry = new BrickRegistry();
  const config = loadConfig({ LEGO_EDIT_DATA_DIR: mkdtempSync(join(tmpdir(), 'lego-onnx-data-')), LEGO_EDIT_MODELS_DIR: modelsDir, LEGO_EDIT_BRICKS: manifest });
  return { registry, wiring: wireRemoteBricks(registry, config, testLogger) };
}

async function runOne(registry: BrickRegistry, model: string, input: Record<string, string>, init: RunInputs, output: string): Promise<Value> {
  const wf = parseWorkflow(JSON.stringify({ pipeline: [{ step: 1, model, input, output: {} }, { result: `[step1[${output}]]` }] }));
  const out = await new Executor(registry).run(wf, init);
  if (out.status !== 'ok') throw new Error(`${model} failed: ${out.status === 'failed' ? out.error.message : out.status}`);
  return out.results[0]!;
}

/** Every pixel different from its neighbours, so a misplaced or resized pixel shows. */
function card(w: number, h: number, channels: 3 | 4): ImageData {
  const img = makeImage(w, h, channels);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * channels;
      img.data.set([(x * 7 + y) % 256, (y * 5 + 3 * x) % 256, (x * y) % 256], i);
      if (channels === 4) img.data[i + 3] = (x + 2 * y) % 256;
    }
  }
  return img;
}

function boxMask(w: number, h: number, box: { x0: number; y0: number; x1: number; y1: number }): MaskData {
  const data = new Uint8Array(w * h);
  for (let y = box.y0; y < box.y1; y++) for (let x = box.x0; x < box.x1; x++) data[y * w + x] = 255;
  return makeMask(w, h, data);
}

describe('ONNX bricks declared in a manifest, on generated graphs', () => {
  const models = mkdtempSync(join(tmpdir(), 'lego-onnx-models-'));
  const wirings: RemoteWiring[] = [];

  beforeAll(() => {
    // The shipped LaMa manifest's contract: image in 0..1, mask in {0,1}, output in 0..255. The negative graph computes 1 − image.
    writeFileSync(join(models, 'lama_fp32.onnx'), negativeInpainter());
    writeFileSync(join(models, 'negative.onnx'), negativeInpainter());
    writeFileSync(join(models, 'brightness64.onnx'), brightnessSegmenter(64));
  });
  afterAll(async () => {
    await Promise.all(wirings.map((w) => w.close()));
  });

  it('runs the shipped LaMa example: inside the mask the model’s output, outside the original bit for bit', async () => {
    const { registry, wiring } = wire(join(repoRoot, 'examples/bricks/lama.onnx.yaml'), models);
    wirings.push(wiring);
    expect(wiring.declaredBricks).toEqual(['INPAINT']);
    // 512×512 is the example's model size, so no resampling blurs what the model wrote.
    const image = card(512, 512, 3);
    const mask = boxMask(512, 512, { x0: 100, y0: 60, x1: 300, y1: 200 });
    const out = (await runOne(registry, 'INPAINT', { image: 'init[image]', mask: 'init[mask]' }, { image, mask }, 'image')) as ImageData;
    expect([out.width, out.height, out.channels]).toEqual([512, 512, 3]);
    let inside = 0;
    for (let p = 0; p < mask.data.length; p++) {
      for (let ch = 0; ch < 3; ch++) {
        const v = image.data[p * 3 + ch]!;
        const got = out.data[p * 3 + ch]!;
        // rgb-01 in, 1 − x from the model, rgb-255 out (no scaling): 1 where the input was dark, 0 where bright.
        if (mask.data[p]) expect(got, `pixel ${p} channel ${ch}`).toBe(v <= 127 ? 1 : 0);
        else if (got !== v) expect.fail(`pixel ${p} channel ${ch} outside the mask changed: ${v} → ${got}`);
      }
      if (mask.data[p]) inside++;
    }
    expect(inside).toBe(200 * 140);
    const status = (await registry.status()).find((s) => s.brick.name === 'INPAINT')!;
    expect(status.active).toMatchObject({ name: 'onnx:lama_fp32.onnx', available: true, detail: expect.stringMatching(/^(cpu|cuda)$/) });
  });

  it('resizes to the model size and back, scales rgb-01 output, and composites an RGBA image keeping its alpha', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lego-onnx-manifest-'));
    const manifest = join(dir, 'bricks.yaml');
    writeFileSync(
      manifest,
      [
        'bricks:',
        '  - name: NEGATE-INSIDE',
        '    kind: edit',
        '    description: Negative of the masked region (test graph)',
        '    inputs: { image: Image, mask: Mask }',
        '    outputs: { image: Image }',
        '    backend:',
        '      type: onnx',
        '      model: negative.onnx',
        '      size: [32, 32]',
        '      inputs: { image: { tensor: image, preprocess: rgb-01 }, mask: { tensor: mask, preprocess: mask-01 } }',
        '      outputs: { image: { tensor: output, postprocess: rgb-01 } }',
        '      compositeInside: mask',
      ].join('\n'),
    );
    const { registry, wiring } = wire(manifest, models);
    wirings.push(wiring);
    // A flat colour survives resampling to 32×32 and back, so the model's pixels are known exactly (±1 for rounding).
    const w = 40;
    const h = 30;
    const image = makeImage(w, h, 4);
    for (let p = 0; p < w * h; p++) image.data.set([30, 140, 220, (p * 13) % 256], p * 4);
    const mask = boxMask(w, h, { x0: 5, y0: 4, x1: 25, y1: 20 });
    const out = (await runOne(registry, 'NEGATE-INSIDE', { image: 'init[image]', mask: 'init[mask]' }, { image, mask }, 'image')) as ImageData;
    expect([out.width, out.height, out.channels]).toEqual([w, h, 4]);
    for (let p = 0; p < w * h; p++) {
      const px = [...out.data.subarray(p * 4, p * 4 + 4)];
      const orig = [...image.data.subarray(p * 4, p * 4 + 4)];
      if (mask.data[p]) {
        for (const [ch, want] of [225, 115, 35].entries()) expect(Math.abs(px[ch]! - want), `pixel ${p} channel ${ch}: ${px}`).toBeLessThanOrEqual(1);
        expect(px[3]).toBe(orig[3]);
      } else if (px.some((v, i) => v !== orig[i])) expect.fail(`pixel ${p} outside the mask changed: ${orig} → ${px}`);
    }
  });

  it('runs predict bricks whose masks come from the model: mask-01 on rgb-01 input, mask-sigmoid on rgb-imagenet input', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lego-onnx-manifest-'));
    const manifest = join(dir, 'bricks.json');
    const declare = (name: string, preprocess: string, postprocess: string) => ({
      name,
      kind: 'predict',
      description: `Bright regions (${preprocess}, ${postprocess})`,
      inputs: { image: 'Image' },
      outputs: { mask: 'Mask' },
      backend: { type: 'onnx', model: 'brightness64.onnx', size: [64, 64], inputs: { image: { tensor: 'input', preprocess } }, outputs: { mask: { tensor: 'mask', postprocess } } },
    });
    writeFileSync(manifest, JSON.stringify({ bricks: [declare('BRIGHT', 'rgb-01', 'mask-01'), declare('BRIGHT-SIGMOID', 'rgb-imagenet', 'mask-sigmoid')] }));
    const { registry, wiring } = wire(manifest, models);
    wirings.push(wiring);
    // Left half dark, right half bright, at twice the model's width.
    const w = 128;
    const h = 64;
    const image = makeImage(w, h, 3);
    for (let p = 0; p < w * h; p++) image.data.fill(p % w < w / 2 ? 20 : 230, p * 3, p * 3 + 3);
    for (const name of ['BRIGHT', 'BRIGHT-SIGMOID']) {
      const mask = (await runOne(registry, name, { image: 'init[image]' }, { image }, 'mask')) as MaskData;
      expect([mask.kind, mask.width, mask.height], name).toEqual(['mask', w, h]);
      // Away from the edge, where resampling rings, the halves are all 0 and all 255.
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          if (Math.abs(x - w / 2) < 6) continue;
          const want = x < w / 2 ? 0 : 255;
          if (mask.data[y * w + x] !== want) expect.fail(`${name}: (${x}, ${y}) is ${mask.data[y * w + x]}, expected ${want}`);
        }
      }
    }
  });
});
