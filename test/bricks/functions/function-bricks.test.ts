import { describe, expect, it } from 'vitest';
import { ADJUST } from '../../../bricks/functions/adjust.ts';
import { BBOX } from '../../../bricks/functions/bbox.ts';
import { BLUR } from '../../../bricks/functions/blur.ts';
import { COMPOSE } from '../../../bricks/functions/compose.ts';
import { GRAYSCALE } from '../../../bricks/functions/grayscale.ts';
import { INVERSE } from '../../../bricks/functions/inverse.ts';
import { RESIZE } from '../../../bricks/functions/resize.ts';
import type { AnyBrick, BrickContext } from '../../../src/engine/brick.ts';
import { BrickInputError } from '../../../src/engine/errors.ts';
import { decodeImage } from '../../../src/engine/image-io.ts';
import type { ImageData, MaskData, Value } from '../../../src/engine/values.ts';
import { silentLogger } from '../../../src/logger.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../support/shared.ts';
import { discMask, rectMask } from '../../support/pixels.ts';
import { solidImage } from '../../support/test-bricks.ts';

const ctx: BrickContext = { signal: new AbortController().signal, progress: () => {}, logger: silentLogger };
const call = (brick: AnyBrick, inputs: Record<string, Value | null>) => brick.run(inputs as never, ctx) as Promise<Record<string, Value>>;
const sample = await decodeImage(readFileSync(join(repoRoot, 'examples/sample.jpg')));

describe('INVERSE', () => {
  it('subtracts mask2 from mask1', async () => {
    const { mask } = await call(INVERSE, { mask1: rectMask(10, 10, 0, 0, 10, 10), mask2: rectMask(10, 10, 0, 0, 5, 10), image1: null, image2: null });
    const m = mask as MaskData;
    expect(m.data[0]).toBe(0);
    expect(m.data[9]).toBe(255);
  });

  it('treats a missing mask1 as the full mask, so INVERSE of INVERSE is the identity', async () => {
    const blob = discMask(40, 30, 20, 15, 9);
    const once = (await call(INVERSE, { mask1: null, mask2: blob, image1: null, image2: null })).mask as MaskData;
    expect(once.data[0]).toBe(255);
    expect(once.data[15 * 40 + 20]).toBe(0);
    const twice = (await call(INVERSE, { mask1: null, mask2: once, image1: null, image2: null })).mask as MaskData;
    expect(Buffer.from(twice.data).equals(Buffer.from(blob.data))).toBe(true);
  });

  it('subtracts images pixel by pixel, clamping at zero', async () => {
    const { image } = await call(INVERSE, { mask1: null, mask2: null, image1: solidImage(4, 4, [200, 100, 50]), image2: solidImage(4, 4, [50, 150, 50]) });
    expect([...(image as ImageData).data.slice(0, 3)]).toEqual([150, 0, 0]);
  });

  it('refuses masks and images in one call', async () => {
    await expect(call(INVERSE, { mask1: null, mask2: rectMask(4, 4, 0, 0, 2, 2), image1: null, image2: solidImage(4, 4, [0, 0, 0]) })).rejects.toBeInstanceOf(BrickInputError);
  });
});

describe('BBOX', () => {
  it('turns a blob into the mask of its bounding rectangle', async () => {
    const { mask } = await call(BBOX, { mask: discMask(50, 40, 20, 18, 6) });
    const m = mask as MaskData;
    let on = 0;
    for (let y = 0; y < 40; y++) for (let x = 0; x < 50; x++) if (m.data[y * 50 + x]) {
      on++;
      expect(x).toBeGreaterThanOrEqual(14);
      expect(x).toBeLessThanOrEqual(26);
      expect(y).toBeGreaterThanOrEqual(12);
      expect(y).toBeLessThanOrEqual(24);
    }
    expect(on).toBe(13 * 13);
  });

  it('keeps an empty mask empty', async () => {
    const { mask } = await call(BBOX, { mask: rectMask(10, 10, 0, 0, 0, 0) });
    expect((mask as MaskData).data).toEqual(new Uint8Array(10 * 10));
  });
});

describe('COMPOSE', () => {
  it('lays the second image over the first inside the mask only', async () => {
    const { image } = await call(COMPOSE, { image1: solidImage(10, 10, [255, 0, 0]), image2: solidImage(10, 10, [0, 0, 255]), mask: rectMask(10, 10, 0, 0, 5, 10) });
    const d = (image as ImageData).data;
    expect([...d.slice(0, 3)]).toEqual([0, 0, 255]);
    expect([...d.slice(9 * 3, 9 * 3 + 3)]).toEqual([255, 0, 0]);
  });

  it('covers the first image entirely without a mask, at the first image size', async () => {
    const { image } = await call(COMPOSE, { image1: solidImage(10, 10, [255, 0, 0]), image2: solidImage(4, 4, [0, 255, 0]), mask: null });
    const img = image as ImageData;
    expect([img.width, img.height]).toEqual([10, 10]);
    expect([...img.data.slice(0, 3)]).toEqual([0, 255, 0]);
  });
});

describe('RESIZE', () => {
  it('scales both sides by the ratio', async () => {
    const { image } = await call(RESIZE, { image: sample, ratio: 0.5 });
    expect([(image as ImageData).width, (image as ImageData).height]).toEqual([512, 384]);
  });
});

describe('ADJUST', () => {
  it('brightens the photo', async () => {
    const mean = (img: ImageData) => img.data.reduce((a, b) => a + b, 0) / img.data.length;
    const { image } = await call(ADJUST, { image: sample, brightness: 1.3, contrast: 1, saturation: 1, hue: 0, mask: null });
    expect(mean(image as ImageData)).toBeGreaterThan(mean(sample) * 1.1);
  });

  it('changes only the masked region and leaves the rest bit-identical', async () => {
    const mask = rectMask(sample.width, sample.height, 0, 0, 512, sample.height);
    const { image } = await call(ADJUST, { image: sample, brightness: 0.5, contrast: 1, saturation: 1, hue: 0, mask });
    const img = image as ImageData;
    let changedLeft = 0;
    for (let y = 0; y < sample.height; y += 7) {
      for (let x = 0; x < sample.width; x += 7) {
        const i = (y * sample.width + x) * 3;
        if (x >= 512) expect(img.data[i]).toBe(sample.data[i]);
        else if (img.data[i] !== sample.data[i]) changedLeft++;
      }
    }
    expect(changedLeft).toBeGreaterThan(1000);
  });
});

describe('GRAYSCALE', () => {
  it('makes every pixel grey with perceptual weights', async () => {
    const { image } = await call(GRAYSCALE, { image: solidImage(2, 2, [255, 0, 0]), mask: null });
    const d = (image as ImageData).data;
    expect([d[0], d[1], d[2]]).toEqual([54, 54, 54]);
  });

  it('works on a real photo', async () => {
    const { image } = await call(GRAYSCALE, { image: sample, mask: null });
    const d = (image as ImageData).data;
    for (let i = 0; i < d.length; i += 3 * 997) expect(d[i]).toBe(d[i + 1]);
  });
});

describe('BLUR', () => {
  /** A 2-pixel checkerboard: a blur of any size averages its squares. */
  const checker = (w: number, h: number): ImageData => {
    const img = solidImage(w, h, [0, 0, 0]);
    for (let i = 0; i < w * h; i++) img.data.fill((Math.floor((i % w) / 2) + Math.floor(i / w / 2)) % 2 ? 220 : 30, i * 3, i * 3 + 3);
    return img;
  };
  const meanChange = (a: ImageData, b: ImageData, from = 0, to = a.width): number => {
    let d = 0;
    let n = 0;
    for (let y = 0; y < a.height; y++) for (let x = from; x < to; x++) for (let c = 0; c < 3; c++, n++) d += Math.abs(a.data[(y * a.width + x) * 3 + c]! - b.data[(y * b.width + x) * 3 + c]!);
    return d / n;
  };

  it('visibly blurs even a small image, where the default size rounds to one pixel', async () => {
    const img = checker(48, 32);
    const out = (await call(BLUR, { image: img, mask: null, strength: 0.03, mode: 'blur' })).image as ImageData;
    expect(meanChange(img, out)).toBeGreaterThan(20);
  });

  it('blurs inside the mask only', async () => {
    const img = checker(48, 32);
    const out = (await call(BLUR, { image: img, mask: rectMask(48, 32, 24, 0, 24, 32), strength: 0.03, mode: 'blur' })).image as ImageData;
    expect(meanChange(img, out, 0, 24)).toBe(0);
    expect(meanChange(img, out, 24, 48)).toBeGreaterThan(20);
  });
});
