import { describe, expect, it } from 'vitest';
import { maskBounds, boxMask } from '../../../bricks/lib/pixels.ts';
import { MASK_SEG, ROUGH_MASK_KEPT, segmentInsideMask } from '../../../bricks/predict/mask-seg.ts';
import type { BrickContext } from '../../../src/engine/brick.ts';
import { decodeImage } from '../../../src/engine/image-io.ts';
import type { ImageData, MaskData } from '../../../src/engine/values.ts';
import { makeImage } from '../../../src/engine/values.ts';
import { silentLogger } from '../../../src/logger.ts';
import { describeWithPhotos, readPhoto } from '../../support/shared.ts';

const ctx: BrickContext = { signal: new AbortController().signal, progress: () => {}, logger: silentLogger };

function area(m: MaskData): number {
  let n = 0;
  for (const v of m.data) if (v >= 128) n++;
  return n;
}

/** Share of the pixels of `inner` that `m` covers. */
function covered(m: MaskData, inner: MaskData): number {
  let hit = 0;
  let n = 0;
  for (let i = 0; i < m.data.length; i++) {
    if (inner.data[i]! < 128) continue;
    n++;
    if (m.data[i]! >= 128) hit++;
  }
  return hit / n;
}

describeWithPhotos('MASK-SEG on real photos', () => {
  it('shrinks a loose box around the rally car to the car', async () => {
    const img = await decodeImage(readPhoto('rally-car.jpg'));
    // The car is at about x 38, y 134, w 212, h 71; the user drew generously around it.
    const rough = boxMask(img.width, img.height, { x: 18, y: 110, width: 247, height: 118 });
    const { mask, image } = (await MASK_SEG.run({ image: img, mask: rough } as never, ctx)) as unknown as { mask: MaskData; image: ImageData };
    const b = maskBounds(mask, 127)!;
    expect(Math.abs(b.x - 38)).toBeLessThanOrEqual(10);
    expect(Math.abs(b.y - 134)).toBeLessThanOrEqual(10);
    expect(Math.abs(b.x + b.width - 250)).toBeLessThanOrEqual(12);
    expect(Math.abs(b.y + b.height - 205)).toBeLessThanOrEqual(10);
    expect(area(mask)).toBeLessThan(area(rough) * 0.6);
    // The car's body is kept: a band through its middle is nearly all inside the mask.
    expect(covered(mask, boxMask(img.width, img.height, { x: 70, y: 160, width: 150, height: 25 }))).toBeGreaterThan(0.9);
    // Nothing far outside the user's box (a few pixels of slack are allowed for a tight outline).
    expect(b.x + b.width).toBeLessThanOrEqual(18 + 247 + 8);
    expect(image.width).toBe(img.width);
  });

  it('cuts the left sheep out of a loose box on two-sheep.jpg', async () => {
    const img = await decodeImage(readPhoto('two-sheep.jpg'));
    // The left sheep stands at about x 157–235, y 95–215.
    const rough = boxMask(img.width, img.height, { x: 130, y: 70, width: 105, height: 165 });
    const { mask, backend } = await segmentInsideMask(img, rough);
    expect(backend).toBe('grabcut');
    const b = maskBounds(mask, 127)!;
    expect(b.x).toBeGreaterThan(145);
    expect(b.y).toBeGreaterThan(85);
    expect(area(mask)).toBeGreaterThan(area(rough) * 0.2);
    expect(area(mask)).toBeLessThan(area(rough) * 0.7);
    // Its woolly body is in the mask.
    expect(covered(mask, boxMask(img.width, img.height, { x: 170, y: 120, width: 30, height: 40 }))).toBeGreaterThan(0.9);
  });
});

/** A red disc of radius 30 at (80, 60) on a textured green field, 160×120. */
function redDiscScene(): ImageData {
  const w = 160;
  const h = 120;
  const img = makeImage(w, h, 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const inDisc = (x - 80) ** 2 + (y - 60) ** 2 <= 30 ** 2;
      const n = ((x * 7 + y * 13) % 11) * 3;
      img.data.set(inDisc ? [200 + (n % 20), 30, 40] : [40 + n, 140 + n, 50], (y * w + x) * 3);
    }
  }
  return img;
}

/** Runs MASK-SEG with a context that keeps what it warns about. */
async function runMaskSeg(image: ImageData, rough: MaskData): Promise<{ mask: MaskData; warnings: string[] }> {
  const warnings: string[] = [];
  const out = (await MASK_SEG.run({ image, mask: rough } as never, { ...ctx, warn: (m) => warnings.push(m) })) as unknown as { mask: MaskData };
  return { mask: out.mask, warnings };
}

describe('MASK-SEG on a synthetic scene', () => {
  it('cuts a red disc out of a box drawn around it on a textured green field', async () => {
    const w = 160;
    const h = 120;
    const img = redDiscScene();
    const rough = boxMask(w, h, { x: 35, y: 15, width: 90, height: 90 });
    const { mask } = await segmentInsideMask(img, rough);
    const b = maskBounds(mask, 127)!;
    expect(Math.abs(b.x - 50)).toBeLessThanOrEqual(3);
    expect(Math.abs(b.width - 61)).toBeLessThanOrEqual(5);
    expect(Math.abs(area(mask) - Math.PI * 900) / (Math.PI * 900)).toBeLessThan(0.1);
  });

  it('returns an empty mask for an empty rough mask', async () => {
    const { mask } = await segmentInsideMask(makeImage(10, 10, 3), boxMask(10, 10, undefined));
    expect(area(mask)).toBe(0);
  });

  it('says nothing to the user when it finds the object', async () => {
    const { mask, warnings } = await runMaskSeg(redDiscScene(), boxMask(160, 120, { x: 35, y: 15, width: 90, height: 90 }));
    expect(area(mask)).toBeGreaterThan(0);
    expect(warnings).toEqual([]);
  });

  it('tells the user when it finds no object inside the mask and hands back the mask as drawn', async () => {
    // A flat grey photo: no colour tells object from background, so GrabCut collapses.
    const flat = makeImage(80, 60, 3);
    flat.data.fill(120);
    const rough = boxMask(80, 60, { x: 20, y: 15, width: 40, height: 30 });
    const { mask, warnings } = await runMaskSeg(flat, rough);
    expect(mask.data).toEqual(rough.data);
    expect(warnings).toEqual([ROUGH_MASK_KEPT]);
  });
});
