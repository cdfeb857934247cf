import { expect, it } from 'vitest';
import { SOS, saliencyMap } from '../../../bricks/predict/sos.ts';
import { rawFromSharp } from '../../../src/engine/image-io.ts';
import type { MaskData } from '../../../src/engine/values.ts';
import sharp from 'sharp';
import { describeWithPhotos } from '../../support/shared.ts';
import { maskStats, photo, runBrick, shareInside } from './helpers.ts';

describeWithPhotos('SOS on shared photos', () => {
  it('covers the SUV in white-suv.jpg', async () => {
    const src = await photo('white-suv.jpg');
    const mask = (await runBrick(SOS, { image: src })).mask as MaskData;
    const s = maskStats(mask);
    // The SUV fills the lower middle of the 430×297 photo (x 29..401, y 123..296); the trees and wall above are not it.
    const kx = src.width / 430;
    const ky = src.height / 297;
    expect(shareInside(mask, { x0: 20 * kx, y0: 115 * ky, x1: 410 * kx, y1: src.height })).toBeGreaterThan(0.97);
    expect(s.area).toBeGreaterThan(0.3 * 372 * kx * 173 * ky);
    expect(s.box!.x1 - s.box!.x0).toBeGreaterThan(300 * kx);
  });

  it('falls back to saliency where nothing is detected: the butterfly, not the fog', async () => {
    const src = await photo('butterfly-fog.jpg');
    const s = maskStats((await runBrick(SOS, { image: src })).mask as MaskData);
    expect(s.area).toBeGreaterThan(0.01 * src.width * src.height);
    expect(s.fraction).toBeLessThan(0.35);
  });
});

it('saliency finds a coloured square on a plain background', async () => {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240"><rect width="100%" height="100%" fill="#8a9aa0"/><rect x="180" y="60" width="80" height="80" fill="#d02020"/></svg>`;
  const img = await rawFromSharp(sharp(Buffer.from(svg)).removeAlpha());
  const sal = await saliencyMap(img);
  // 64×64 map: the square spans x 36..52, y 16..37.
  const at = (x: number, y: number): number => sal.data[y * 64 + x]!;
  expect(at(44, 26)).toBeGreaterThan(150);
  expect(at(10, 50)).toBeLessThan(30);
  const mask = (await runBrick(SOS, { image: img })).mask as MaskData;
  const s = maskStats(mask);
  expect(shareInside(mask, { x0: 176, y0: 56, x1: 264, y1: 144 })).toBeGreaterThan(0.95);
  expect(s.area).toBeGreaterThan(0.7 * 80 * 80);
});
