import { describe, expect, it } from 'vitest';
import { BLUR } from '../../bricks/functions/blur.ts';
import { CROP } from '../../bricks/functions/crop.ts';
import { DILATE } from '../../bricks/functions/dilate.ts';
import { FLIP } from '../../bricks/functions/flip.ts';
import { ROTATE } from '../../bricks/functions/rotate.ts';
import type { AnyBrick, BrickContext } from '../../src/engine/brick.ts';
import { decodeImage } from '../../src/engine/image-io.ts';
import type { ImageData, MaskData, Value } from '../../src/engine/values.ts';
import { maskCoverage } from '../../src/engine/values.ts';
import { silentLogger } from '../../src/logger.ts';
import { rectMask } from '../support/pixels.ts';
import { describeWithPhotos, readPhoto } from '../support/shared.ts';

const ctx: BrickContext = { signal: new AbortController().signal, progress: () => {}, logger: silentLogger };
const call = async (brick: AnyBrick, inputs: Record<string, Value | null>): Promise<Record<string, Value>> => {
  // Fill defaults the way the executor does.
  const args = Object.fromEntries(Object.entries(brick.inputs).map(([k, spec]) => [k, inputs[k] ?? spec.default ?? null]));
  return (await brick.run(args as never, ctx)) as Record<string, Value>;
};
const px = (img: ImageData, x: number, y: number): number[] => [...img.data.subarray((y * img.width + x) * img.channels, (y * img.width + x) * img.channels + 3)];

describeWithPhotos('geometry and mask bricks on a real photo', async () => {
  const photo = await decodeImage(readPhoto('rally-car.jpg'));
  const { width: W, height: H } = photo;

  it('CROP trims fractions from the sides and keeps the pixels that were there', async () => {
    const out = (await call(CROP, { image: photo, left: 0.25, top: 0.1 })).image as ImageData;
    expect([out.width, out.height]).toEqual([W - Math.round(W * 0.25), H - Math.round(H * 0.1)]);
    expect(px(out, 0, 0)).toEqual(px(photo, Math.round(W * 0.25), Math.round(H * 0.1)));
  });

  it('CROP to aspect 1 gives the largest centred square', async () => {
    const out = (await call(CROP, { image: photo, aspect: 1 })).image as ImageData;
    const s = Math.min(W, H);
    expect([out.width, out.height]).toEqual([s, s]);
    expect(px(out, 0, 0)).toEqual(px(photo, Math.floor((W - s) / 2), Math.floor((H - s) / 2)));
  });

  it('CROP to a mask keeps exactly its bounding box', async () => {
    const out = (await call(CROP, { image: photo, mask: rectMask(W, H, 30, 40, 50, 20) })).image as ImageData;
    expect([out.width, out.height]).toEqual([50, 20]);
    expect(px(out, 5, 5)).toEqual(px(photo, 35, 45));
  });

  it('ROTATE by 90 swaps the sides and moves the top-left pixel to the top-right', async () => {
    const out = (await call(ROTATE, { image: photo, angle: 90 })).image as ImageData;
    expect([out.width, out.height]).toEqual([H, W]);
    expect(px(out, H - 1, 0)).toEqual(px(photo, 0, 0));
  });

  it('FLIP mirrors left-right by default and upside down when asked', async () => {
    const h = (await call(FLIP, { image: photo })).image as ImageData;
    expect(px(h, W - 1, 7)).toEqual(px(photo, 0, 7));
    const v = (await call(FLIP, { image: photo, direction: 'vertical' })).image as ImageData;
    expect(px(v, 7, H - 1)).toEqual(px(photo, 7, 0));
  });

  it('BLUR inside a mask smooths it and leaves the rest bit-identical', async () => {
    const mask = rectMask(W, H, 0, 0, Math.floor(W / 2), H);
    const out = (await call(BLUR, { image: photo, mask, strength: 0.05 })).image as ImageData;
    let changedLeft = 0;
    let changedRight = 0;
    for (let y = 0; y < H; y += 3) {
      for (let x = 0; x < W; x += 3) {
        const i = (y * W + x) * photo.channels;
        const diff = Math.abs(out.data[i]! - photo.data[i]!);
        if (x < W / 2) changedLeft += diff > 0 ? 1 : 0;
        else changedRight += diff > 0 ? 1 : 0;
      }
    }
    expect(changedLeft).toBeGreaterThan(100);
    expect(changedRight).toBe(0);
  });
});

describe('DILATE', () => {
  it('grows a mask with a positive radius and shrinks it with a negative one', async () => {
    const m = rectMask(100, 100, 40, 40, 20, 20);
    const grown = (await call(DILATE, { mask: m, radius: 5 })).mask as MaskData;
    const shrunk = (await call(DILATE, { mask: m, radius: -5 })).mask as MaskData;
    expect(maskCoverage(grown)).toBeCloseTo((30 * 30) / 10000, 2);
    expect(maskCoverage(shrunk)).toBeCloseTo((10 * 10) / 10000, 2);
    expect(grown.data[36 * 100 + 36]).toBe(255);
    expect(shrunk.data[42 * 100 + 42]).toBe(0);
  });
});
