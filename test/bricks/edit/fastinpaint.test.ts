import { describe, expect, it } from 'vitest';
import { FASTINPAINT } from '../../../bricks/edit/fastinpaint.ts';
import { FLUX_INPAINT } from '../../../bricks/edit/flux-inpaint.ts';
import { boxMask } from '../../../bricks/lib/pixels.ts';
import { CancelledError } from '../../../src/engine/errors.ts';
import type { ImageData } from '../../../src/engine/values.ts';
import { makeImage } from '../../../src/engine/values.ts';
import { describeWithPhotos } from '../../support/shared.ts';
import { call, ctx, photo, pixels, rgbAt, sameAt } from './support.ts';
import { psnr, textureScore } from '../../../bench/quality/metrics.ts';
import { removalCases } from '../../../bench/quality/removal-set.ts';
import { hasSegmentationSet, segmentationIndex } from '../../../bench/quality/segmentation-set.ts';
import { holeGrowth } from '../../../bricks/lib/inpaint.ts';

/** The car in rally-car.jpg (x 38, y 134, w 212, h 71), with a margin for the spoiler, wheels and shadow. */
const CAR = { x: 32, y: 128, width: 226, height: 84 };
const carMask = () => boxMask(279, 310, CAR);

type Bin = string;
const bin = (rgb: readonly number[]): Bin => rgb.map((v) => v >> 5).join(',');

/** Colour bins (32 levels per channel) much more common on the car than in the ring around it: the car's own colours. */
function carColours(img: ImageData): Set<Bin> {
  const inBox = new Map<Bin, number>();
  const ring = new Map<Bin, number>();
  let nIn = 0;
  let nRing = 0;
  for (let y = CAR.y - 20; y < CAR.y + CAR.height + 20; y++) {
    for (let x = Math.max(0, CAR.x - 20); x < Math.min(279, CAR.x + CAR.width + 20); x++) {
      const b = bin(rgbAt(img, y * 279 + x));
      const inside = x >= CAR.x && x < CAR.x + CAR.width && y >= CAR.y && y < CAR.y + CAR.height;
      if (inside) {
        inBox.set(b, (inBox.get(b) ?? 0) + 1);
        nIn++;
      } else {
        ring.set(b, (ring.get(b) ?? 0) + 1);
        nRing++;
      }
    }
  }
  // Car colours: common on the car (over 3% of its box) and nearly absent around it (under 0.5%), so any left after the fill came from the car.
  return new Set([...inBox].filter(([b, n]) => n / nIn > 0.03 && (ring.get(b) ?? 0) / nRing < 0.005).map(([b]) => b));
}

function share(img: ImageData, bins: Set<Bin>): number {
  let hit = 0;
  let n = 0;
  for (let y = CAR.y; y < CAR.y + CAR.height; y++) {
    for (let x = CAR.x; x < CAR.x + CAR.width; x++) {
      n++;
      if (bins.has(bin(rgbAt(img, y * 279 + x)))) hit++;
    }
  }
  return hit / n;
}

describeWithPhotos('FASTINPAINT on rally-car.jpg', () => {
  it('removes the masked car: its dominant colours no longer appear where it was', async () => {
    const img = await photo('rally-car.jpg');
    const colours = carColours(img);
    // The white body is the car's dominant colour; dark tyres and windows are the others.
    expect(colours.has('7,7,7')).toBe(true);
    expect(share(img, colours)).toBeGreaterThan(0.15);
    const { image, score } = await call(FASTINPAINT, { image: img, mask: carMask() });
    const out = image as ImageData;
    expect(share(out, colours)).toBeLessThan(0.005);
    expect(score).toBeGreaterThanOrEqual(0);
    expect(score).toBeLessThan(0.5);
  });

  it('leaves pixels away from the mask bit-identical', async () => {
    const img = await photo('rally-car.jpg');
    const out = (await call(FASTINPAINT, { image: img, mask: carMask() })).image as ImageData;
    // The fill covers the mask dilated by a few pixels; beyond 8 pixels nothing changes.
    const far = pixels(boxMask(279, 310, { x: CAR.x - 8, y: CAR.y - 8, width: CAR.width + 16, height: CAR.height + 16 }), false);
    expect(sameAt(img, out, far)).toBe(true);
  });

  it('scores a thin scratch on flat road far higher than a car-sized hole', async () => {
    const img = await photo('rally-car.jpg');
    const scratch = (await call(FASTINPAINT, { image: img, mask: boxMask(279, 310, { x: 100, y: 240, width: 60, height: 3 }) })).score as number;
    const car = (await call(FASTINPAINT, { image: img, mask: carMask() })).score as number;
    expect(scratch).toBeGreaterThan(0.7);
    expect(scratch).toBeGreaterThan(car + 0.3);
  });

  it('FLUX-INPAINT refines the pre-fill with texture copied from around the hole', async () => {
    const img = await photo('rally-car.jpg');
    const mask = carMask();
    const colours = carColours(img);
    const fast = await call(FASTINPAINT, { image: img, mask });
    const { image } = await call(FLUX_INPAINT, { image: img, mask, preimage: fast.image!, score: fast.score! });
    const out = image as ImageData;
    expect(share(out, colours)).toBeLessThan(0.005);
    // Diffusion leaves a smooth hole; the exemplar pass brings back the grass's fine detail.
    const detail = (im: ImageData) => {
      let s = 0;
      let n = 0;
      for (let y = CAR.y + 10; y < CAR.y + 40; y++) for (let x = CAR.x + 20; x < CAR.x + CAR.width - 20; x++, n++) s += Math.abs(rgbAt(im, y * 279 + x)[1] - rgbAt(im, y * 279 + x + 1)[1]);
      return s / n;
    };
    expect(detail(out)).toBeGreaterThan(detail(fast.image as ImageData) * 2);
    const far = pixels(boxMask(279, 310, { x: CAR.x - 8, y: CAR.y - 8, width: CAR.width + 16, height: CAR.height + 16 }), false);
    expect(sameAt(img, out, far)).toBe(true);
  });
});

describe('FASTINPAINT basics', () => {
  it('fills a square hole in a flat grey image with that grey and scores it high', async () => {
    const img = makeImage(64, 64, 3, new Uint8Array(64 * 64 * 3).fill(128));
    for (let y = 24; y < 40; y++) for (let x = 24; x < 40; x++) img.data.fill(250, (y * 64 + x) * 3, (y * 64 + x) * 3 + 3);
    const { image, score } = await call(FASTINPAINT, { image: img, mask: boxMask(64, 64, { x: 24, y: 24, width: 16, height: 16 }) });
    const out = image as ImageData;
    for (let p = 0; p < 64 * 64; p++) expect(Math.abs(rgbAt(out, p)[0] - 128)).toBeLessThanOrEqual(2);
    expect(score).toBeGreaterThan(0.6);
  });

  it('honours cancellation', async () => {
    const ac = new AbortController();
    ac.abort(new CancelledError());
    const img = makeImage(32, 32, 3);
    await expect(FASTINPAINT.run({ image: img, mask: boxMask(32, 32, { x: 8, y: 8, width: 8, height: 8 }) } as never, { ...ctx, signal: ac.signal })).rejects.toBeInstanceOf(CancelledError);
  });
});

describeWithPhotos('removal against the true background', () => {
  it.skipIf(!hasSegmentationSet)('FLUX-INPAINT fills a removed dog on grass with grass texture, where FASTINPAINT leaves a smooth blob', async () => {
    const dog = segmentationIndex().filter((e) => e.class === 'dog');
    // A real dog cut-out pasted on the grass of two-sheep.jpg; the photo underneath is the answer.
    const [c] = (await removalCases(dog, 512, 384, (name) => name === 'two-sheep.jpg')).filter((k) => k.fraction > 0.07);
    const fast = await call(FASTINPAINT, { image: c!.image, mask: c!.hole });
    const fine = (await call(FLUX_INPAINT, { image: c!.image, mask: c!.hole, preimage: fast.image!, score: fast.score! })).image as ImageData;
    // Score over the hole as the bricks grow it.
    const region = new Uint8Array(c!.hole.data.length);
    const g = holeGrowth(512, 384);
    for (let y = 0; y < 384; y++) {
      for (let x = 0; x < 512; x++) {
        if (c!.hole.data[y * 512 + x]! < 128) continue;
        for (let dy = -g; dy <= g; dy++) for (let dx = -g; dx <= g; dx++) if (dx * dx + dy * dy <= g * g && x + dx >= 0 && x + dx < 512 && y + dy >= 0 && y + dy < 384) region[(y + dy) * 512 + x + dx] = 1;
      }
    }
    expect(textureScore(fast.image as ImageData, c!.truth, region)).toBeLessThan(0.5);
    const texture = textureScore(fine, c!.truth, region);
    expect(texture).toBeGreaterThan(0.6);
    expect(texture).toBeLessThan(1.5);
    // Texture at no cost in fidelity: no worse than the smooth fill by more than half a decibel.
    expect(psnr(fine, c!.truth, region)).toBeGreaterThan(psnr(fast.image as ImageData, c!.truth, region) - 0.5);
  });
});

