/**
 * The shared segmentation ground truth (../shared/benchmarks/segmentation):
 * real photos with binary object masks and each photo's class.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage, decodeMask, rawFromSharp, sharpFromImage } from '../../src/engine/image-io.ts';
import type { ImageData, MaskData } from '../../src/engine/values.ts';
import { makeMask } from '../../src/engine/values.ts';
import { repoRoot } from '../support.ts';

export const segmentationDir = join(repoRoot, '../shared/benchmarks/segmentation');
export const hasSegmentationSet = existsSync(join(segmentationDir, 'index.json'));

export interface SegmentationEntry {
  readonly id: string;
  readonly image: string;
  readonly mask: string;
  /** COCO name, or names joined by '+' where one mask covers several objects. */
  readonly class: string;
}

export interface SegmentationCase {
  readonly id: string;
  readonly class: string;
  readonly image: ImageData;
  readonly truth: MaskData;
}

export function segmentationIndex(): SegmentationEntry[] {
  return JSON.parse(readFileSync(join(segmentationDir, 'index.json'), 'utf8')) as SegmentationEntry[];
}

/** "the <class>", as a person would name the object ("person+surfboard" → "the person and surfboard"). */
export function referringPhrase(cls: string): string {
  return `the ${cls.split('+').join(' and ')}`;
}

/**
 * A case scaled to fit `fitW`×`fitH` with its aspect kept (the photos are 333–854 px wide,
 * so most are enlarged), the truth resized with it and re-binarised.
 */
export async function loadSegmentationCase(e: SegmentationEntry, fitW = 1024, fitH = 768): Promise<SegmentationCase> {
  const img = await decodeImage(readFileSync(join(segmentationDir, e.image)));
  const mask = await decodeMask(readFileSync(join(segmentationDir, e.mask)));
  const s = Math.min(fitW / img.width, fitH / img.height);
  const w = Math.round(img.width * s);
  const h = Math.round(img.height * s);
  const image = await rawFromSharp(sharpFromImage(img).removeAlpha().resize(w, h, { fit: 'fill' }));
  const { data } = await sharpFromImage(mask).resize(w, h, { fit: 'fill', kernel: 'nearest' }).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  const truth = makeMask(w, h);
  for (let i = 0; i < truth.data.length; i++) truth.data[i] = data[i]! >= 128 ? 255 : 0;
  return { id: e.id, class: e.class, image, truth };
}
