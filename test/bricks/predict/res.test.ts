import { expect, it } from 'vitest';
import { RES } from '../../../bricks/predict/res.ts';
import type { ImageData, MaskData } from '../../../src/engine/values.ts';
import { describeWithPhotos } from '../../support/shared.ts';
import { maskStats, photo, runBrick, shareInside } from './helpers.ts';

async function res(name: string, prompt: string): Promise<{ mask: MaskData; image: ImageData; src: ImageData }> {
  const src = await photo(name);
  const out = await runBrick(RES, { image: src, prompt });
  return { mask: out.mask as MaskData, image: out.image as ImageData, src };
}

describeWithPhotos('RES on shared photos', () => {
  it('segments the car in rally-car.jpg, not the sky or the road', async () => {
    const { mask, src } = await res('rally-car.jpg', 'car');
    const s = maskStats(mask);
    // The car as measured on the 279×310 photo: x 38..250, y 134..205.
    const kx = src.width / 279;
    const ky = src.height / 310;
    const car = { x0: 38 * kx, y0: 134 * ky, x1: 250 * kx, y1: 205 * ky };
    expect(s.box).toBeDefined();
    expect(s.cx).toBeGreaterThan(car.x0);
    expect(s.cx).toBeLessThan(car.x1);
    expect(s.cy).toBeGreaterThan(car.y0);
    expect(s.cy).toBeLessThan(car.y1);
    // Nearly all of it on the car, and it is a segment (not the whole box, not a sliver).
    expect(shareInside(mask, { x0: car.x0 - 6 * kx, y0: car.y0 - 6 * ky, x1: car.x1 + 6 * kx, y1: car.y1 + 6 * ky })).toBeGreaterThan(0.97);
    const boxArea = (car.x1 - car.x0) * (car.y1 - car.y0);
    expect(s.area).toBeGreaterThan(0.4 * boxArea);
    expect(s.area).toBeLessThan(0.98 * boxArea);
  });

  it('understands synonyms: "the automobile" is the same car', async () => {
    const a = maskStats((await res('rally-car.jpg', 'the automobile')).mask);
    const b = maskStats((await res('rally-car.jpg', 'car')).mask);
    expect(a.area).toBeGreaterThan(0);
    // GrabCut seeds its colour models from OpenCV's global RNG, so two runs differ by a few pixels.
    expect(Math.abs(a.cx - b.cx)).toBeLessThan(12);
    expect(Math.abs(a.cy - b.cy)).toBeLessThan(12);
  });

  it('picks the left sheep for "the left sheep" and the other one for "the right sheep"', async () => {
    const left = maskStats((await res('two-sheep.jpg', 'the left sheep')).mask);
    const right = maskStats((await res('two-sheep.jpg', 'the sheep on the right')).mask);
    expect(left.area).toBeGreaterThan(0);
    expect(right.area).toBeGreaterThan(0);
    expect(left.cx).toBeLessThan(right.cx - 50);
    // Two different animals: their boxes do not overlap.
    expect(left.box!.x1).toBeLessThan(right.box!.x0);
  });

  it('covers both animals for "both sheep"', async () => {
    const both = maskStats((await res('two-sheep.jpg', 'both sheep')).mask);
    const left = maskStats((await res('two-sheep.jpg', 'the left sheep')).mask);
    expect(both.area).toBeGreaterThan(1.6 * left.area);
    expect(both.box!.x0).toBeLessThanOrEqual(left.box!.x0 + 2);
  });

  it('returns an empty mask (not the whole image) for an object that is not there', async () => {
    const { mask, image, src } = await res('rally-car.jpg', 'giraffe');
    expect(maskStats(mask).area).toBe(0);
    expect(mask.width).toBe(src.width);
    expect(image.width).toBe(src.width);
  });

  it('returns an empty mask for things it cannot segment (sky)', async () => {
    const { mask } = await res('rally-car.jpg', 'the sky');
    expect(maskStats(mask).area).toBe(0);
  });

  it('draws the segment over a checkerboard: inside keeps the photo, outside is grey/white', async () => {
    const { mask, image, src } = await res('rally-car.jpg', 'car');
    expect(image.channels).toBe(3);
    let inside = -1;
    let outside = -1;
    for (let p = 0; p < mask.data.length && (inside < 0 || outside < 0); p++) {
      if (mask.data[p] === 255 && inside < 0) inside = p;
      if (mask.data[p] === 0 && outside < 0) outside = p;
    }
    for (let k = 0; k < 3; k++) expect(image.data[inside * 3 + k]).toBe(src.data[inside * src.channels + k]);
    expect([255, 204]).toContain(image.data[outside * 3]);
  });

  it('stops when the signal is aborted', async () => {
    const src = await photo('rally-car.jpg');
    const ac = new AbortController();
    ac.abort();
    await expect(runBrick(RES, { image: src, prompt: 'car' }, ac.signal)).rejects.toThrow();
  });
});

it('RES reports its backends', async () => {
  const list = await RES.backends!();
  expect(list.map((b) => b.name)).toEqual(['tfjs-wasm:centernet', 'opencv-wasm', 'tfjs-wasm:selfie']);
});
