/**
 * A removal benchmark with a known answer: real object cut-outs (from the shared
 * segmentation masks) pasted onto real photos at varied places and sizes. Removing
 * the paste should give back the photo underneath, which is the ground truth.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage, rawFromSharp, sharpFromImage } from '../../src/engine/image-io.ts';
import type { ImageData, MaskData } from '../../src/engine/values.ts';
import { makeImage, makeMask } from '../../src/engine/values.ts';
import { maskBounds } from '../../bricks/lib/pixels.ts';
import { mulberry32 } from '../../bricks/lib/random.ts';
import { photosDir } from '../support.ts';
import { type SegmentationEntry, segmentationDir } from './segmentation-set.ts';
import { decodeMask } from '../../src/engine/image-io.ts';

export interface RemovalCase {
  readonly label: string;
  /** The photo with the cut-out pasted on. */
  readonly image: ImageData;
  /** The pasted object's pixels: what the user asks to remove. */
  readonly hole: MaskData;
  /** The photo as it was: what a perfect removal gives back. */
  readonly truth: ImageData;
  /** Share of the picture the hole covers. */
  readonly fraction: number;
}


interface CutOut {
  readonly id: string;
  readonly rgb: ImageData;
  readonly alpha: MaskData;
}

async function cutOut(e: SegmentationEntry): Promise<CutOut> {
  const img = await decodeImage(readFileSync(join(segmentationDir, e.image)));
  const mask = await decodeMask(readFileSync(join(segmentationDir, e.mask)));
  const b = maskBounds(mask, 127)!;
  const region = { left: b.x, top: b.y, width: b.width, height: b.height };
  const rgb = await rawFromSharp(sharpFromImage(img).removeAlpha().extract(region));
  const { data } = await sharpFromImage(mask).extract(region).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  return { id: e.id, rgb, alpha: makeMask(b.width, b.height, new Uint8Array(data)) };
}

/** Pastes `c` scaled so that it covers `fraction` of the background, at a random place wholly inside it. */
async function paste(bg: ImageData, c: CutOut, fraction: number, rand: () => number): Promise<{ image: ImageData; hole: MaskData; fraction: number }> {
  let on = 0;
  for (const v of c.alpha.data) if (v >= 128) on++;
  const s = Math.sqrt((fraction * bg.width * bg.height) / on);
  const w = Math.min(bg.width - 2, Math.max(4, Math.round(c.rgb.width * s)));
  const h = Math.min(bg.height - 2, Math.max(4, Math.round(c.rgb.height * s)));
  const rgb = await rawFromSharp(sharpFromImage(c.rgb).resize(w, h, { fit: 'fill' }));
  const { data: a } = await sharpFromImage(c.alpha).resize(w, h, { fit: 'fill', kernel: 'nearest' }).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  const x0 = Math.floor(rand() * (bg.width - w));
  const y0 = Math.floor(rand() * (bg.height - h));
  const image = makeImage(bg.width, bg.height, 3, new Uint8Array(bg.data));
  const hole = makeMask(bg.width, bg.height);
  let area = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (a[y * w + x]! < 128) continue;
      const p = (y0 + y) * bg.width + x0 + x;
      hole.data[p] = 255;
      area++;
      for (let k = 0; k < 3; k++) image.data[p * 3 + k] = rgb.data[(y * w + x) * 3 + k]!;
    }
  }
  return { image, hole, fraction: area / (bg.width * bg.height) };
}

/** Backgrounds: the shared photos, which hold grass, foliage, road, sky, walls and a room. */
export const REMOVAL_BACKGROUNDS = ['two-sheep.jpg', 'rally-car.jpg', 'white-suv.jpg', 'girl-sunlight.jpg', 'woman-street.jpg', 'portrait-room.jpg', 'butterfly-fog.jpg', 'anime-street.jpg'];

/** Hole sizes as shares of the picture: a small object, and the 10 % target. */
export const REMOVAL_FRACTIONS = [0.03, 0.1];

/**
 * Every background (those `keep` accepts) × every hole size, each with a cut-out drawn
 * from `entries` at a place drawn from a fixed seed, all at `W`×`H`.
 */
export async function removalCases(entries: readonly SegmentationEntry[], W = 1024, H = 768, keep: (background: string) => boolean = () => true): Promise<RemovalCase[]> {
  const rand = mulberry32(15);
  const cuts: CutOut[] = [];
  for (const e of entries) cuts.push(await cutOut(e));
  const out: RemovalCase[] = [];
  for (const name of REMOVAL_BACKGROUNDS) {
    const bg = await rawFromSharp(sharpFromImage(await decodeImage(readFileSync(join(photosDir, name)))).removeAlpha().resize(W, H, { fit: 'fill' }));
    for (const f of REMOVAL_FRACTIONS) {
      const c = cuts[Math.floor(rand() * cuts.length)]!;
      const p = await paste(bg, c, f, rand);
      // Skipped cases still draw their numbers, so a subset holds the very cases of the full run.
      if (!keep(name)) continue;
      out.push({ label: `${name.replace('.jpg', '')} − ${c.id.replace(/^(coco|davis)-0*/, '')} ${Math.round(p.fraction * 100)}%`, image: p.image, hole: p.hole, truth: bg, fraction: p.fraction });
    }
  }
  return out;
}
