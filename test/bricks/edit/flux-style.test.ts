import { describe, expect, it } from 'vitest';
import { FLUX_STYLE, styleFilter } from '../../../bricks/edit/flux-style.ts';
import { NeedsGpuHostError } from '../../../src/engine/errors.ts';
import { makeImage, type ImageData } from '../../../src/engine/values.ts';
import { describeWithPhotos } from '../../support/shared.ts';
import { call, ellipseMask, hueAt, meanLuma, photo, pixels, rgbAt, sameAt } from './support.ts';

const restyle = async (img: ImageData, style: string, mask: ReturnType<typeof ellipseMask> | null = null) =>
  (await call(FLUX_STYLE, { image: img, mask, prompt: 'a photo', style })).image as ImageData;

const all = (img: ImageData) => Array.from({ length: img.width * img.height }, (_v, i) => i);

describeWithPhotos('FLUX-STYLE filters on real photos', () => {
  it('renders a cartoon of an image narrower than its smoothing window (1×1, 2×3, 7×1) at the same size', async () => {
    for (const [w, h] of [[1, 1], [2, 3], [7, 1]] as const) {
      const tiny = makeImage(w, h, 3, new Uint8Array(w * h * 3).fill(120));
      const out = await restyle(tiny, 'cartoon');
      expect([out.width, out.height]).toEqual([w, h]);
    }
  });

  it('renders sepia: every tinted pixel has a brown hue (yellower only where highlights clip)', async () => {
    const img = await photo('white-suv.jpg');
    const out = await restyle(img, 'sepia');
    const hues = all(out)
      .map((p) => hueAt(out, p))
      .filter((c) => c.s > 0.05 && c.v > 0.1)
      .map((c) => c.h)
      .sort((a, b) => a - b);
    expect(hues.length / all(out).length).toBeGreaterThan(0.8);
    expect(hues[0]).toBeGreaterThanOrEqual(25);
    expect(hues.at(-1)).toBeLessThanOrEqual(62);
    expect(hues[hues.length >> 1]).toBeGreaterThanOrEqual(30);
    expect(hues[hues.length >> 1]).toBeLessThanOrEqual(45);
  });

  it('renders black and white with r = g = b everywhere', async () => {
    const img = await photo('two-sheep.jpg');
    const out = await restyle(img, 'Black and White');
    const coloured = all(out).filter((p) => {
      const [r, g, b] = rgbAt(out, p);
      return r !== g || g !== b;
    });
    expect(coloured).toEqual([]);
  });

  it('renders a pencil sketch that is mostly light paper with dark strokes', async () => {
    const img = await photo('rally-car.jpg');
    const out = await restyle(img, 'pencil sketch');
    const ps = all(out);
    const light = ps.filter((p) => rgbAt(out, p)[0] > 200).length / ps.length;
    const dark = ps.filter((p) => rgbAt(out, p)[0] < 120).length / ps.length;
    expect(light).toBeGreaterThan(0.6);
    expect(dark).toBeGreaterThan(0.005);
    expect(meanLuma(out)).toBeGreaterThan(meanLuma(img));
  });

  it('renders a negative as exactly 255 − x', async () => {
    const img = await photo('white-suv.jpg');
    const out = await restyle(img, 'negative');
    for (let i = 0; i < img.data.length; i++) if (out.data[i] !== 255 - img.data[i]!) throw new Error(`byte ${i}: ${out.data[i]} vs ${255 - img.data[i]!}`);
  });

  it('film noir is grey, darker at the corners and more contrasty than plain black and white', async () => {
    const img = await photo('two-sheep.jpg');
    const noir = await restyle(img, 'film noir');
    const bw = await restyle(img, 'black and white');
    const std = (im: ImageData) => {
      const m = meanLuma(im);
      let s = 0;
      for (const p of all(im)) s += (rgbAt(im, p)[0] - m) ** 2;
      return Math.sqrt(s / all(im).length);
    };
    expect(std(noir)).toBeGreaterThan(std(bw));
    expect(rgbAt(noir, 0)[0]).toBeLessThan(rgbAt(bw, 0)[0]);
  });

  it('posterises to a handful of levels per channel', async () => {
    const img = await photo('rally-car.jpg');
    const out = await restyle(img, 'posterize');
    expect(new Set(out.data).size).toBeLessThanOrEqual(5);
    expect(new Set(img.data).size).toBeGreaterThan(100);
  });

  it('restyles only the masked part, leaving the rest bit-identical', async () => {
    const img = await photo('two-sheep.jpg');
    const mask = ellipseMask(img.width, img.height, 110, 150, 70, 60);
    const out = await restyle(img, 'vintage', mask);
    expect(sameAt(img, out, pixels(mask, false))).toBe(true);
    expect(sameAt(img, out, pixels(mask, true))).toBe(false);
  });

  it('renders cartoon and vintage as real changes', async () => {
    const img = await photo('rally-car.jpg');
    for (const style of ['cartoon', 'vintage']) expect(sameAt(img, await restyle(img, style), all(img))).toBe(false);
  });
});

describe('FLUX-STYLE styles only a generative model can render', () => {
  it.each(['Ghibli', 'Van Gogh', 'oil painting', 'watercolor', 'sepia watercolour', 'anime'])('raises NeedsGpuHostError for "%s"', async (style) => {
    const img: ImageData = { kind: 'image', width: 2, height: 2, channels: 3, data: new Uint8Array(12) };
    const err = await call(FLUX_STYLE, { image: img, mask: null, prompt: 'a room', style }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NeedsGpuHostError);
    expect((err as NeedsGpuHostError).brick).toBe('FLUX-STYLE');
  });

  it('accepts harmless words around a style name', () => {
    expect(styleFilter('in sepia tone').name).toBe('sepia');
    expect(styleFilter('an old black & white photo').name).toMatch(/^black/);
    expect(styleFilter('B&W').name).toBe('b w');
  });
});
