import { describe, expect, it } from 'vitest';
import { ADJUST } from '../../../bricks/functions/adjust.ts';
import { BBOX } from '../../../bricks/functions/bbox.ts';
import { BLUR } from '../../../bricks/functions/blur.ts';
import { COMPOSE } from '../../../bricks/functions/compose.ts';
import { GRAYSCALE } from '../../../bricks/functions/grayscale.ts';
import { INVERSE } from '../../../bricks/functions/inverse.ts';
import { RESIZE } from '../../../bricks/functions/resize.ts';
import { SCALE } from '../../../bricks/functions/scale.ts';
import { maskBounds } from '../../../bricks/lib/pixels.ts';
import type { AnyBrick, BrickContext } from '../../../src/engine/brick.ts';
import { BrickInputError } from '../../../src/engine/errors.ts';
import { decodeImage } from '../../../src/engine/image-io.ts';
import type { ImageData, MaskData, Value } from '../../../src/engine/values.ts';
import { makeImage } from '../../../src/engine/values.ts';
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

  it('subtracts a brighter copy of the photo without 8-bit wrap-around: every channel that would go negative is 0', async () => {
    const brighter = makeImage(sample.width, sample.height, 3, sample.data.map((v) => Math.min(255, v + 40)));
    const { image, mask } = await call(INVERSE, { mask1: null, mask2: null, image1: sample, image2: brighter });
    expect(mask).toBeUndefined();
    const d = (image as ImageData).data;
    // 8-bit wrap-around would leave 256 - 40 = 216 where a channel was below 216.
    expect(d.reduce((a, b) => Math.max(a, b), 0)).toBe(0);
    const { image: back } = await call(INVERSE, { mask1: null, mask2: null, image1: brighter, image2: sample });
    const b = (back as ImageData).data;
    for (let i = 0; i < b.length; i += 997) expect(b[i]).toBe(Math.min(255, sample.data[i]! + 40) - sample.data[i]!);
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
  it('joins two masks into their union, mask only', async () => {
    const a = discMask(sample.width, sample.height, 300, 400, 150);
    const b = rectMask(sample.width, sample.height, 350, 200, 400, 300);
    const out = await call(COMPOSE, { mask1: a, mask2: b, image1: null, image2: null, mask: null });
    expect(out.image).toBeUndefined();
    const m = out.mask as MaskData;
    let union = 0;
    let wrong = 0;
    for (let p = 0; p < m.data.length; p++) {
      const inEither = a.data[p]! > 0 || b.data[p]! > 0;
      if (inEither) union++;
      if (m.data[p] !== (inEither ? 255 : 0)) wrong++;
    }
    expect(wrong).toBe(0);
    expect(union).toBeGreaterThan(400 * 300);
  });

  it('lays image2 over image1 where image2 has content, and by its alpha where it has one', async () => {
    // INVERSE's kind of output: black where nothing is left. The base shows through there.
    const top = solidImage(10, 10, [0, 0, 0]);
    top.data.fill(200, 0, 5 * 3);
    const { image } = await call(COMPOSE, { mask1: null, mask2: null, image1: solidImage(10, 10, [255, 0, 0]), image2: top, mask: null });
    const d = (image as ImageData).data;
    expect([...d.slice(0, 3)]).toEqual([200, 200, 200]);
    expect([...d.slice(50 * 3, 50 * 3 + 3)]).toEqual([255, 0, 0]);
    const cutout = makeImage(10, 10, 4);
    for (let p = 0; p < 100; p++) cutout.data.set(p % 10 < 3 ? [0, 0, 255, 255] : [0, 0, 255, 0], p * 4);
    const over = ((await call(COMPOSE, { image1: solidImage(10, 10, [255, 0, 0]), image2: cutout, mask: null, mask1: null, mask2: null })).image as ImageData).data;
    expect([...over.slice(0, 3)]).toEqual([0, 0, 255]);
    expect([...over.slice(5 * 3, 5 * 3 + 3)]).toEqual([255, 0, 0]);
  });

  it('refuses masks and images in one call', async () => {
    await expect(call(COMPOSE, { mask1: rectMask(4, 4, 0, 0, 2, 2), mask2: rectMask(4, 4, 0, 0, 2, 2), image1: solidImage(4, 4, [0, 0, 0]), image2: null, mask: null })).rejects.toBeInstanceOf(BrickInputError);
  });

  it('lays the second image over the first inside the mask only', async () => {
    const { image } = await call(COMPOSE, { image1: solidImage(10, 10, [255, 0, 0]), image2: solidImage(10, 10, [0, 0, 255]), mask: rectMask(10, 10, 0, 0, 5, 10), mask1: null, mask2: null });
    const d = (image as ImageData).data;
    expect([...d.slice(0, 3)]).toEqual([0, 0, 255]);
    expect([...d.slice(9 * 3, 9 * 3 + 3)]).toEqual([255, 0, 0]);
  });

  it('covers the first image entirely with an image that has content everywhere, at the first image size', async () => {
    const { image } = await call(COMPOSE, { image1: solidImage(10, 10, [255, 0, 0]), image2: solidImage(4, 4, [0, 255, 0]), mask: null, mask1: null, mask2: null });
    const img = image as ImageData;
    expect([img.width, img.height]).toEqual([10, 10]);
    expect([...img.data.slice(0, 3)]).toEqual([0, 255, 0]);
  });
});

describe('SCALE', () => {
  it('gives the whole picture new dimensions, both sides times the ratio', async () => {
    const { image } = await call(SCALE, { image: sample, ratio: 0.5 });
    expect([(image as ImageData).width, (image as ImageData).height]).toEqual([512, 384]);
  });
});

describe('RESIZE', () => {
  /** A dog-sized blob standing on a line near the bottom of the photo, plus a small speck elsewhere. */
  const standing = () => {
    const m = rectMask(sample.width, sample.height, 400, 300, 200, 300);
    for (let y = 100; y < 110; y++) m.data.fill(255, y * sample.width + 50, y * sample.width + 60);
    return m;
  };

  it('halves the largest object of a mask about its bottom centre, on a canvas of the same size', async () => {
    const out = await call(RESIZE, { mask: standing(), image: null, ratio: 0.5 });
    expect(out.image).toBeUndefined();
    const m = out.mask as MaskData;
    expect([m.width, m.height]).toEqual([sample.width, sample.height]);
    // The box was x 400..599, y 300..599: the bottom edge (y 599) and the centre (x 500) stay.
    expect(maskBounds(m)).toEqual({ x: 450, y: 450, width: 100, height: 150 });
  });

  it('doubles a mask object about its bottom centre, cut off at the canvas edge', async () => {
    const m = (await call(RESIZE, { mask: standing(), image: null, ratio: 2 })).mask as MaskData;
    expect(maskBounds(m)).toEqual({ x: 300, y: 0, width: 400, height: 600 });
  });

  it('keeps an empty mask empty', async () => {
    const m = (await call(RESIZE, { mask: rectMask(20, 10, 0, 0, 0, 0), image: null, ratio: 0.5 })).mask as MaskData;
    expect(maskBounds(m)).toBeUndefined();
  });

  it('scales the opaque object of a cut-out about its bottom centre, leaving the rest transparent', async () => {
    const cut = makeImage(sample.width, sample.height, 4);
    const obj = standing();
    for (let p = 0; p < obj.data.length; p++) {
      cut.data.set(sample.data.subarray(p * 3, p * 3 + 3), p * 4);
      cut.data[p * 4 + 3] = obj.data[p]!;
    }
    const img = (await call(RESIZE, { mask: null, image: cut, ratio: 0.5 })).image as ImageData;
    expect([img.width, img.height, img.channels]).toEqual([sample.width, sample.height, 4]);
    const alpha = { kind: 'mask' as const, width: img.width, height: img.height, data: new Uint8Array(img.width * img.height).map((_, p) => img.data[p * 4 + 3]!) };
    expect(maskBounds(alpha, 127)).toEqual({ x: 450, y: 450, width: 100, height: 150 });
  });

  it('zooms a plain photo about its centre, keeping its size: the centre pixel stays, the corners come from nearer the centre', async () => {
    const img = (await call(RESIZE, { mask: null, image: sample, ratio: 2 })).image as ImageData;
    expect([img.width, img.height]).toEqual([sample.width, sample.height]);
    const at = (im: ImageData, x: number, y: number) => [...im.data.subarray((y * im.width + x) * 3, (y * im.width + x) * 3 + 3)];
    const near = (a: number[], b: number[]) => a.every((v, k) => Math.abs(v - b[k]!) <= 24);
    expect(near(at(img, 512, 384), at(sample, 512, 384))).toBe(true);
    // Output (0, 0) shows what was at (256, 192).
    expect(near(at(img, 0, 0), at(sample, 256, 192))).toBe(true);
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
