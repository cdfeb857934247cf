import { describe, expect, it } from 'vitest';
import { CMI_PRED } from '../../../bricks/predict/cmi-pred.ts';
import { BrickInputError } from '../../../src/engine/errors.ts';
import type { ImageData, MaskData } from '../../../src/engine/values.ts';
import { makeImage } from '../../../src/engine/values.ts';
import { decodeImage } from '../../../src/engine/image-io.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../support/shared.ts';
import { describeWithPhotos } from '../../support/shared.ts';
import { maskStats, photo, runBrick } from './helpers.ts';

function flat(w: number, h: number): ImageData {
  const img = makeImage(w, h, 3);
  for (let i = 0; i < img.data.length; i += 3) {
    img.data[i] = 200;
    img.data[i + 1] = 120;
    img.data[i + 2] = (i / 3) % 256;
  }
  return img;
}

it('multiplies each side by its ratio and masks exactly the new area, the photo untouched', async () => {
  const src = flat(200, 100);
  // 1 keeps a side; 1.5 adds half the width on the left, 1.25 a quarter on the right, 1.1 a tenth of the height on top.
  const out = await runBrick(CMI_PRED, { image: src, left_ratio: 1.5, right_ratio: 1.25, top_ratio: 1.1, bottom_ratio: 1, ratio: null });
  const img = out.image as ImageData;
  const mask = out.mask as MaskData;
  expect([img.width, img.height]).toEqual([200 + 100 + 50, 100 + 10]);
  expect([mask.width, mask.height]).toEqual([350, 110]);
  expect(maskStats(mask).area).toBe(350 * 110 - 200 * 100);
  // The original sits at (100, 10), untouched.
  for (const [x, y] of [[0, 0], [199, 99], [57, 33]] as const) {
    for (let k = 0; k < 3; k++) expect(img.data[((y + 10) * 350 + x + 100) * 3 + k]).toBe(src.data[(y * 200 + x) * 3 + k]);
  }
  expect(mask.data[10 * 350 + 100]).toBe(0);
  expect(mask.data[0]).toBe(255);
  // The margin is filled from the edges, not left black.
  expect(img.data[(50 * 350 + 10) * 3]).toBeGreaterThan(150);
});

describe('the published ratios on a real photo (1024x768)', () => {
  const sample = () => decodeImage(readFileSync(join(repoRoot, 'examples/sample.jpg')));
  const newArea = (m: MaskData): number => maskStats(m).area / (m.width * m.height);

  it('left_ratio 1.5 adds half the width on the left: 1536x768, a third of it new, the photo on the right', async () => {
    const out = await runBrick(CMI_PRED, { image: await sample(), left_ratio: 1.5, right_ratio: 1, top_ratio: 1, bottom_ratio: 1, ratio: null });
    const mask = out.mask as MaskData;
    expect([(out.image as ImageData).width, (out.image as ImageData).height]).toEqual([1536, 768]);
    expect(newArea(mask)).toBeCloseTo(1 / 3, 6);
    expect(maskStats(mask).box).toEqual({ x0: 0, y0: 0, x1: 511, y1: 767 });
  });

  it('ratio 2.0 (four equal ratios) doubles the width and the height: 2048x1536, three quarters new, the photo centred', async () => {
    for (const inputs of [{ ratio: 2 }, { left_ratio: 2, right_ratio: 2, top_ratio: 2, bottom_ratio: 2 }]) {
      const out = await runBrick(CMI_PRED, { image: await sample(), left_ratio: null, right_ratio: null, top_ratio: null, bottom_ratio: null, ratio: null, ...inputs });
      const mask = out.mask as MaskData;
      expect([(out.image as ImageData).width, (out.image as ImageData).height]).toEqual([2048, 1536]);
      expect(newArea(mask)).toBeCloseTo(0.75, 6);
      // 0.5·2 + 0.5 = 1.5 a side: a quarter of the new width on each side.
      expect(mask.data[384 * 2048 + 511]).toBe(255);
      expect(mask.data[384 * 2048 + 512]).toBe(0);
      expect(mask.data[(384 + 767) * 2048 + 512 + 1023]).toBe(0);
      expect(mask.data[(384 + 768) * 2048 + 512 + 1023]).toBe(255);
    }
  });
});

it('without ratios only captions: the image and mask outputs are null', async () => {
  const src = flat(64, 48);
  const out = await runBrick(CMI_PRED, { image: src, left_ratio: null, right_ratio: null, top_ratio: null, bottom_ratio: null, ratio: null });
  expect(out.image).toBeUndefined();
  expect(out.mask).toBeUndefined();
  expect(out.caption).toMatch(/^a photo/);
});

it('refuses some-but-not-all ratios with a BrickInputError', async () => {
  await expect(runBrick(CMI_PRED, { image: flat(32, 32), left_ratio: 1.2, right_ratio: null, top_ratio: null, bottom_ratio: null, ratio: null })).rejects.toBeInstanceOf(BrickInputError);
});

describeWithPhotos('CMI-PRED captions', () => {
  it('names the white car on the road in white-suv.jpg and the two sheep', async () => {
    const suv = (await runBrick(CMI_PRED, { image: await photo('white-suv.jpg'), left_ratio: null, right_ratio: null, top_ratio: null, bottom_ratio: null })).caption;
    expect(suv).toMatch(/^a photo of a white car/);
    const sheep = (await runBrick(CMI_PRED, { image: await photo('two-sheep.jpg'), left_ratio: null, right_ratio: null, top_ratio: null, bottom_ratio: null })).caption;
    expect(sheep).toContain('two sheep');
  });
});
