import { expect, it } from 'vitest';
import { FACE_DET } from '../../../bricks/predict/face-det.ts';
import type { MaskData } from '../../../src/engine/values.ts';
import { makeImage } from '../../../src/engine/values.ts';
import { describeWithPhotos } from '../../support/shared.ts';
import { maskStats, photo, runBrick } from './helpers.ts';

describeWithPhotos('FACE-DET on shared photos', () => {
  it('finds the face in portrait-room.jpg', async () => {
    const src = await photo('portrait-room.jpg');
    const s = maskStats((await runBrick(FACE_DET, { image: src })).mask as MaskData);
    // The face is in the upper middle of the 234×310 portrait (about x 89..189, y 66..166).
    const kx = src.width / 234;
    const ky = src.height / 310;
    expect(s.area).toBeGreaterThan(0.05 * src.width * src.height);
    expect(s.fraction).toBeLessThan(0.4);
    expect(s.cx).toBeGreaterThan(89 * kx);
    expect(s.cx).toBeLessThan(189 * kx);
    expect(s.cy).toBeGreaterThan(60 * ky);
    expect(s.cy).toBeLessThan(175 * ky);
  });

  it('fires on no sheep, car or butterfly (the default BlazeFace threshold does)', async () => {
    for (const name of ['two-sheep.jpg', 'white-suv.jpg', 'butterfly-fog.jpg']) {
      const s = maskStats((await runBrick(FACE_DET, { image: await photo(name) })).mask as MaskData);
      expect(s.area, name).toBe(0);
    }
  });
});

it('finds nothing on a plain gradient', async () => {
  const w = 640;
  const h = 480;
  const img = makeImage(w, h, 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      img.data[i] = Math.round((x / w) * 255);
      img.data[i + 1] = Math.round((y / h) * 200);
      img.data[i + 2] = 120;
    }
  }
  const mask = (await runBrick(FACE_DET, { image: img })).mask as MaskData;
  expect(maskStats(mask).area).toBe(0);
  expect(mask.width).toBe(w);
});
