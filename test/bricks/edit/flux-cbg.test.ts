import { describe, expect, it } from 'vitest';
import { FLUX_CBG, parseBackdrop } from '../../../bricks/edit/flux-cbg.ts';
import { NeedsGpuHostError } from '../../../src/engine/errors.ts';
import type { ImageData, MaskData } from '../../../src/engine/values.ts';
import { describeWithPhotos } from '../../support/shared.ts';
import { call, ellipseMask, photo, pixels, rgbAt, sameAt } from './support.ts';

/** Background = everything outside an ellipse around the car. */
function background(): MaskData {
  const car = ellipseMask(279, 310, 144, 170, 110, 40);
  return { ...car, data: car.data.map((v) => 255 - v) };
}

const cbg = async (img: ImageData, prompt: string, mask = background()) => (await call(FLUX_CBG, { image: img, mask, prompt })).image as ImageData;

/** Mean absolute horizontal luma step: how much fine detail a region holds. */
function detail(img: ImageData, ps: readonly number[]): number {
  let s = 0;
  let n = 0;
  for (const p of ps) {
    if (p % img.width === img.width - 1) continue;
    s += Math.abs(rgbAt(img, p)[1] - rgbAt(img, p + 1)[1]);
    n++;
  }
  return s / n;
}

describeWithPhotos('FLUX-CBG on rally-car.jpg', () => {
  it('"white" makes every background pixel white and keeps the subject bit-identical', async () => {
    const img = await photo('rally-car.jpg');
    const mask = background();
    const out = await cbg(img, 'white', mask);
    expect(pixels(mask, true).filter((p) => rgbAt(out, p).some((v) => v !== 255))).toEqual([]);
    expect(sameAt(img, out, pixels(mask, false))).toBe(true);
  });

  it('"blurred background" removes background detail and keeps the subject', async () => {
    const img = await photo('rally-car.jpg');
    const mask = background();
    const out = await cbg(img, 'blurred background', mask);
    const bg = pixels(mask, true);
    expect(detail(out, bg)).toBeLessThan(detail(img, bg) * 0.4);
    expect(sameAt(img, out, pixels(mask, false))).toBe(true);
  });

  it('a blue-to-purple gradient runs from blue at the top to purple at the bottom', async () => {
    const img = await photo('rally-car.jpg');
    const out = await cbg(img, 'gradient from blue to purple');
    expect(rgbAt(out, 0)).toEqual([0, 0, 255]);
    expect(rgbAt(out, 309 * 279)).toEqual([128, 0, 128]);
  });

  it('"transparent" returns RGBA with the background cleared and the subject opaque', async () => {
    const img = await photo('rally-car.jpg');
    const mask = background();
    const out = await cbg(img, 'transparent', mask);
    expect(out.channels).toBe(4);
    expect(pixels(mask, true).filter((p) => out.data[p * 4 + 3] !== 0)).toEqual([]);
    expect(pixels(mask, false).filter((p) => out.data[p * 4 + 3] !== 255)).toEqual([]);
  });
});

describe('FLUX-CBG prompts', () => {
  it('reads solid colours, hex codes, studio, gradients, blur and bokeh', () => {
    expect(parseBackdrop('white')).toEqual({ kind: 'solid', rgb: [255, 255, 255] });
    expect(parseBackdrop('change the background to #336699')).toEqual({ kind: 'solid', rgb: [51, 102, 153] });
    expect(parseBackdrop('studio white')).toMatchObject({ kind: 'studio' });
    expect(parseBackdrop('light grey gradient')).toMatchObject({ kind: 'gradient' });
    expect(parseBackdrop('bokeh')).toEqual({ kind: 'blur', bokeh: true });
  });

  it.each(['a beach at sunset', 'a white beach', 'the Eiffel tower', 'outer space'])('raises NeedsGpuHostError for the scene "%s"', async (prompt) => {
    const img: ImageData = { kind: 'image', width: 2, height: 2, channels: 3, data: new Uint8Array(12) };
    const mask = ellipseMask(2, 2, 1, 1, 1, 1);
    const err = await call(FLUX_CBG, { image: img, mask, prompt }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NeedsGpuHostError);
    expect((err as NeedsGpuHostError).brick).toBe('FLUX-CBG');
  });
});
