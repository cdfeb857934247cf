import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrickProgress } from '../../../src/engine/brick.ts';
import type { ImageData, MaskData } from '../../../src/engine/values.ts';
import { makeImage, makeMask } from '../../../src/engine/values.ts';
import { defineBrick } from '../../../src/engine/brick.ts';
import { compositeInside, fitToInputs, innerFeather } from '../../../src/remote/client/full-size.ts';
import { HttpTransport } from '../../../src/remote/client/http-client.ts';
import { remoteBrick } from '../../../src/remote/client/transport.ts';
import { createHttpWorkerServer } from '../../../src/remote/worker/http-worker-server.ts';
import { runServedBrick } from '../../../src/remote/worker/brick-runner.ts';
import { comfyuiBrick } from '../../../src/remote/declared/comfyui.ts';
import { type FakeComfyUI, startFakeComfyUI } from '../../fakes/comfyui-server.ts';
import { testLogger } from '../support.ts';

/** A 427×288 picture with structure (a diagonal gradient), so resampling and drift show. */
function photo(width = 427, height = 288): ImageData {
  const img = makeImage(width, height, 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      img.data[i] = (x * 255) / width;
      img.data[i + 1] = (y * 255) / height;
      img.data[i + 2] = ((x + y) * 97) % 256;
    }
  }
  return img;
}

/** A disc in the middle. */
function disc(width: number, height: number): MaskData {
  const m = makeMask(width, height);
  const r = Math.min(width, height) / 4;
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if ((x - width / 2) ** 2 + (y - height / 2) ** 2 < r * r) m.data[y * width + x] = 255;
  return m;
}

/** Mean absolute difference and the share of pixels off by more than 6 levels, over the pixels where `where` holds. */
function drift(a: ImageData, b: ImageData, where: (p: number) => boolean): { mean: number; over6: number } {
  let sum = 0;
  let over = 0;
  let n = 0;
  for (let p = 0; p < a.width * a.height; p++) {
    if (!where(p)) continue;
    let worst = 0;
    for (let k = 0; k < 3; k++) {
      const d = Math.abs(a.data[p * a.channels + k]! - b.data[p * b.channels + k]!);
      sum += d;
      worst = Math.max(worst, d);
    }
    if (worst > 6) over++;
    n++;
  }
  return { mean: sum / (n * 3), over6: over / n };
}

const ctx = () => ({ signal: AbortSignal.timeout(10_000), logger: testLogger, progress: (_p: BrickProgress) => {} });

const editShape = (name: string) => ({
  name,
  kind: 'edit' as const,
  description: 'test',
  version: '1',
  inputs: { image: { type: 'Image' as const }, mask: { type: 'Mask' as const, optional: true }, prompt: { type: 'Str' as const } },
  outputs: { image: { type: 'Image' as const } },
});

const template = {
  '1': { class_type: 'LoadImage', inputs: { image: '{{image}}' } },
  '2': { class_type: 'LoadImageMask', inputs: { image: '{{mask}}', channel: 'red' } },
  '3': { class_type: 'KSampler', inputs: { seed: '{{seed}}', steps: 2 } },
  '4': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'fit' } },
};

describe('remote results at full size', () => {
  let comfy: FakeComfyUI;
  beforeAll(async () => {
    comfy = await startFakeComfyUI({ driftLevels: 6 });
  });
  afterAll(() => comfy.close());

  it('gives a 427×288 photo back at 427×288 although ComfyUI’s VAE returns 424×288', async () => {
    const brick = comfyuiBrick(editShape('FIT'), { url: comfy.url, template, outputs: { image: { node: '4' } }, timeoutMs: 10_000 });
    const out = (await brick.run({ image: photo(), mask: null, prompt: 'x' } as never, ctx())) as unknown as { image: ImageData };
    expect([out.image.width, out.image.height]).toEqual([427, 288]);
  });

  it('changes only the masked region: no pixel outside the mask drifts, inside is the generated picture, the edge is feathered', async () => {
    const img = photo();
    const m = disc(427, 288);
    const brick = comfyuiBrick(editShape('MASKED'), { url: comfy.url, template, outputs: { image: { node: '4' } }, timeoutMs: 10_000 });
    const out = (await brick.run({ image: img, mask: m, prompt: 'x' } as never, ctx())) as unknown as { image: ImageData };
    const outside = drift(img, out.image, (p) => m.data[p] === 0);
    expect(outside).toEqual({ mean: 0, over6: 0 });
    // Deep inside the disc the picture is the fake's generation (the inverse, resampled from 424 px back to 427).
    const centre = (144 * 427 + 213) * 3;
    expect(Math.abs(out.image.data[centre]! - (255 - img.data[centre]!))).toBeLessThanOrEqual(3);
    // On the disc's inner edge, a blend of both.
    const edge = [...Array(427 * 288).keys()].filter((p) => m.data[p] === 255 && (m.data[p - 1] === 0 || m.data[p + 1] === 0));
    const blended = edge.filter((p) => {
      const o = img.data[p * 3]!;
      const v = out.image.data[p * 3]!;
      return Math.abs(v - o) > 2 && Math.abs(v - (255 - o)) > 2;
    });
    expect(blended.length / edge.length).toBeGreaterThan(0.5);
  });

  it('without compositing the same fake drifts outside the mask (the measurement can fail)', async () => {
    const img = photo();
    const m = disc(427, 288);
    const raw = comfyuiBrick({ ...editShape('RAW'), kind: 'function' }, { url: comfy.url, template, outputs: { image: { node: '4' } }, timeoutMs: 10_000 });
    const out = (await raw.run({ image: img, mask: m, prompt: 'x' } as never, ctx())) as unknown as { image: ImageData };
    expect(drift(img, out.image, (p) => m.data[p] === 0).mean).toBeGreaterThan(3);
  });

  it('fits on the worker what a served brick returns at its model’s size: full size, untouched outside the mask', async () => {
    const img = photo(101, 67);
    const m = disc(101, 67);
    // A served brick whose model works at 96×64 and repaints everything.
    const raw = defineBrick({ ...editShape('WORKER'), run: async () => ({ image: makeImage(96, 64, 3, new Uint8Array(96 * 64 * 3).fill(7)) }) });
    const serve = async (mask: MaskData | null) =>
      (await runServedBrick(raw, { image: img, mask, prompt: 'x' }, { signal: AbortSignal.timeout(10_000), onProgress: () => {}, logger: testLogger, timeoutMs: 10_000 })).outputs.image as ImageData;
    const out = await serve(m);
    expect([out.width, out.height]).toEqual([101, 67]);
    expect(drift(img, out, (p) => m.data[p] === 0).mean).toBe(0);
    expect(out.data[(33 * 101 + 50) * 3]).toBe(7);
    const unmasked = await serve(null);
    expect([unmasked.width, unmasked.height, unmasked.data[0]]).toEqual([101, 67, 7]);
  });

  it('blends the edge once when a GPU host serves a ComfyUI brick: the bot receives the single-feather profile', async () => {
    // Sides that are multiples of 8, so the fake's VAE crop does not resample and the generated pixel is exactly 255 − original.
    const img = photo(128, 96);
    const m = disc(128, 96);
    const served = comfyuiBrick(editShape('EDGE'), { url: comfy.url, template, outputs: { image: { node: '4' } }, timeoutMs: 10_000 });
    const server = createHttpWorkerServer({ bricks: [served], token: 'edge-token', maxPayloadBytes: 1 << 22, jobTimeoutMs: 10_000, encoding: 'png', logger: testLogger });
    const url = await server.listen(0);
    try {
      const transport = new HttpTransport({ url, token: 'edge-token', maxPayloadBytes: 1 << 22, encoding: 'png', logger: testLogger, retries: 0, connectTimeoutMs: 5_000 });
      const received = ((await remoteBrick(editShape('EDGE'), transport).run({ image: img, mask: m, prompt: 'x' } as never, ctx())) as unknown as { image: ImageData }).image;
      const alpha = await innerFeather(m);
      // The weight the bot's picture gives the generated pixel, measured where original and generated differ enough to read it.
      const off: number[] = [];
      for (let p = 0; p < 128 * 96; p++) {
        const a = alpha[p]!;
        const o = img.data[p * 3]!;
        if (a === 0 || a === 255 || Math.abs(255 - 2 * o) < 64) continue;
        off.push(Math.abs((received.data[p * 3]! - o) / (255 - 2 * o) - a / 255));
      }
      expect(off.length).toBeGreaterThan(20);
      // Blended twice the weight would be a², up to 0.25 off; once, it is the feather's own up to rounding.
      expect(Math.max(...off)).toBeLessThan(0.03);
      expect(drift(img, received, (p) => m.data[p] === 0).mean).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('gives the mask’s inside wholly to the generated picture: the feather is 255 beyond its edge band, 0 outside the mask', async () => {
    // A photo-sized mask, so the feather's σ is several pixels (3.84 here), where sharp's integer blur rounds 255 down.
    const [w, h] = [1024, 768];
    const m = disc(w, h);
    const alpha = await innerFeather(m);
    expect(alpha[(h / 2) * w + w / 2]).toBe(255);
    expect(alpha.every((a, p) => m.data[p] !== 0 || a === 0)).toBe(true);
    const img = photo(w, h);
    const generated = makeImage(w, h, 3, img.data.map((v) => 255 - v));
    const out = await compositeInside(img, generated, m);
    const inside = [...Array(w * h).keys()].filter((p) => alpha[p] === 255);
    expect(inside.length).toBeGreaterThan(0.9 * m.data.filter((v) => v === 255).length);
    expect(inside.every((p) => out.data[p * 3] === generated.data[p * 3] && out.data[p * 3 + 2] === generated.data[p * 3 + 2])).toBe(true);
  });

  it('keeps a transparent original’s alpha and resizes mask outputs to the input', async () => {
    const rgba = makeImage(10, 10, 4, new Uint8Array(400).fill(128));
    const full = makeMask(10, 10, new Uint8Array(100).fill(255));
    const blended = await compositeInside(rgba, makeImage(8, 8, 3, new Uint8Array(192).fill(0)), full);
    expect(blended.channels).toBe(4);
    expect(blended.data[3]).toBe(128);
    const out = await fitToInputs(
      { kind: 'predict', inputs: { image: { type: 'Image' } }, outputs: { mask: { type: 'Mask' } } },
      { image: rgba },
      { mask: makeMask(8, 8) },
    );
    expect([(out.mask as MaskData).width, (out.mask as MaskData).height]).toEqual([10, 10]);
  });
});
