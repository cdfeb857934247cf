import { expect, it } from 'vitest';
import { exemplarRefine, diffusionFill, holeGrowth, thinParts, thinStrokeRadius } from '../../../bricks/lib/inpaint.ts';
import { loadOpenCv } from '../../../bricks/models/opencv.ts';
import { makeImage, makeMask } from '../../../src/engine/values.ts';
import { psnr } from '../../../bench/quality/metrics.ts';
import { describeWithPhotos } from '../../support/shared.ts';
import { photo } from '../edit/support.ts';

it('thinParts keeps a line and leaves out the body of a wide blob', async () => {
  const cv = await loadOpenCv();
  const w = 120;
  const h = 80;
  const hole = new Uint8Array(w * h);
  for (let y = 20; y < 60; y++) for (let x = 10; x < 50; x++) hole[y * w + x] = 255;
  for (let y = 39; y < 43; y++) for (let x = 50; x < 110; x++) hole[y * w + x] = 255;
  const thin = thinParts(cv, hole, w, h, 6);
  expect(thin[41 * w + 80]).toBe(255);
  expect(thin[40 * w + 30]).toBe(0);
  let inBlob = 0;
  for (let y = 20; y < 60; y++) for (let x = 10; x < 50; x++) if (thin[y * w + x]) inBlob++;
  // Only the blob's corners, where no disc fits, count as thin.
  expect(inBlob).toBeLessThan(0.05 * 40 * 40);
});

describeWithPhotos('thin strokes on a real photo', () => {
  it('are refilled by diffusion, which comes closer to the true grass than the patch fill does', async () => {
    const truth = await photo('two-sheep.jpg');
    const { width: w, height: h } = truth;
    // A 2-pixel red scribble across the grass and the sheep's legs: what a user removes as "the line".
    const image = makeImage(w, h, 3, new Uint8Array(truth.data));
    const mask = makeMask(w, h);
    for (let x = 15; x < w - 15; x++) {
      for (const y of [250, 251]) {
        const p = y * w + x;
        mask.data[p] = 255;
        image.data.set([230, 20, 30], p * 3);
      }
    }
    const cv = await loadOpenCv();
    const grow = holeGrowth(w, h);
    const region = new Uint8Array(w * h);
    for (let p = 0; p < w * h; p++) {
      const x = p % w;
      const y = (p - x) / w;
      if (x >= 15 - grow && x < w - 15 + grow && Math.abs(y - 250.5) <= 0.5 + grow) region[p] = 255;
    }
    // The whole grown stroke is thin.
    const thin = thinParts(cv, region, w, h, thinStrokeRadius(grow));
    expect(thin[250 * w + 200]).toBe(255);
    const pre = (await diffusionFill(image, mask)).image;
    const diffused = (await exemplarRefine(image, mask, pre)).image;
    const patched = (await exemplarRefine(image, mask, pre, { thinStrokes: 'exemplar' })).image;
    const line = new Uint8Array(w * h);
    for (let p = 0; p < w * h; p++) line[p] = mask.data[p]! ? 1 : 0;
    expect(psnr(diffused, truth, line)).toBeGreaterThan(psnr(patched, truth, line));
    // And no red is left.
    for (let p = 0; p < w * h; p++) if (line[p]) expect(diffused.data[p * 3]! - diffused.data[p * 3 + 1]!).toBeLessThan(120);
  });
});
