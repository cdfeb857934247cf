import { expect, it } from 'vitest';
import { ADD_PRED } from '../../../bricks/predict/add-pred.ts';
import type { MaskData } from '../../../src/engine/values.ts';
import { makeImage, makeMask } from '../../../src/engine/values.ts';
import { describeWithPhotos } from '../../support/shared.ts';
import { maskStats, photo, runBrick, shareInside } from './helpers.ts';

describeWithPhotos('ADD-PRED on shared photos', () => {
  it('puts "a dog on the left" in the left half, smaller than the sheep', async () => {
    const src = await photo('two-sheep.jpg');
    const s = maskStats((await runBrick(ADD_PRED, { image: src, prompt: 'a dog on the left', mask: null })).mask as MaskData);
    expect(s.area).toBeGreaterThan(0);
    expect(s.box!.x1).toBeLessThan(src.width / 2);
    // A dog (0.6 m) beside 1 m sheep: shorter than a sheep's box (about 120 px here), not a sliver.
    const h = s.box!.y1 - s.box!.y0;
    expect(h).toBeLessThan(110 * (src.height / 288));
    expect(h).toBeGreaterThan(30 * (src.height / 288));
  });

  it('puts "a dog on the right" right of centre', async () => {
    const src = await photo('two-sheep.jpg');
    const s = maskStats((await runBrick(ADD_PRED, { image: src, prompt: 'a dog on the right', mask: null })).mask as MaskData);
    expect(s.cx).toBeGreaterThan(src.width / 2);
  });

  it('places "a person next to the car" beside the car, standing on the same ground', async () => {
    const src = await photo('rally-car.jpg');
    const s = maskStats((await runBrick(ADD_PRED, { image: src, prompt: 'a person next to the car', mask: null })).mask as MaskData);
    const ky = src.height / 310;
    // The car's bottom edge is at about y 205.
    expect(Math.abs(s.box!.y1 - 205 * ky)).toBeLessThan(12 * ky);
    expect(s.box!.y1 - s.box!.y0).toBeGreaterThan(s.box!.x1 - s.box!.x0);
  });
});

it('stays inside the given mask', async () => {
  const img = makeImage(400, 300, 3);
  img.data.fill(90);
  const limit = makeMask(400, 300);
  for (let y = 150; y < 300; y++) limit.data.fill(255, y * 400 + 250, y * 400 + 400);
  const mask = (await runBrick(ADD_PRED, { image: img, prompt: 'a cat', mask: limit })).mask as MaskData;
  const s = maskStats(mask);
  expect(s.area).toBeGreaterThan(0);
  expect(shareInside(mask, { x0: 250, y0: 150, x1: 399, y1: 299 })).toBe(1);
});

it('puts "a balloon in the sky" in the upper part of a plain image', async () => {
  const img = makeImage(400, 300, 3);
  img.data.fill(90);
  const s = maskStats((await runBrick(ADD_PRED, { image: img, prompt: 'a balloon in the sky', mask: null })).mask as MaskData);
  expect(s.cy).toBeLessThan(150);
});
