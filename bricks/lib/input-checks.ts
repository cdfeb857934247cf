/**
 * Inputs a pixel method cannot work with, refused with a message that says why
 * and what to do, before any work starts.
 */
import { BrickInputError } from '../../src/engine/errors.ts';
import type { ImageData, MaskData } from '../../src/engine/values.ts';

/** Smallest side a segmentation or fill can work on: a 7×7 patch, a detector's stride. */
export const MIN_SIDE = 8;

export function requireImageSize(brick: string, image: ImageData): void {
  if (image.width < MIN_SIDE || image.height < MIN_SIDE) {
    throw new BrickInputError(brick, `the image is ${image.width}×${image.height} pixels; it needs at least ${MIN_SIDE}×${MIN_SIDE} to find or fill anything`);
  }
}

/**
 * A removal needs known pixels around the hole to fill it from: a mask over
 * (nearly) the whole picture leaves none.
 */
export function requireFillableMask(brick: string, mask: MaskData): void {
  let on = 0;
  for (let i = 0; i < mask.data.length; i++) if (mask.data[i]! > 32) on++;
  if (on >= 0.98 * mask.data.length) {
    throw new BrickInputError(brick, 'the mask covers the whole picture, so nothing is left to fill it from; mark only what should be removed');
  }
}
