import { port, defineBrick } from '../../src/engine/brick.ts';
import { BrickInputError } from '../../src/engine/errors.ts';
import { rawFromSharp, sharpFromImage } from '../../src/engine/image-io.ts';
import { fitMask, maskBounds } from '../lib/pixels.ts';

const side = (description: string) => port.float({ optional: true, default: 0, min: 0, max: 0.99, description });

/**
 * What is left of the span [start, start + size) after trimming fractions off
 * each end: at least one pixel, and never past the span's far end (rounding a
 * 0.99 trim of a short side would otherwise start beyond the image).
 */
function trimmed(start: number, size: number, before: number, after: number): { start: number; size: number } {
  const offset = Math.min(size - 1, Math.round(size * before));
  const kept = Math.max(1, Math.min(size - offset, Math.round(size * (1 - before - after))));
  return { start: start + offset, size: kept };
}

export const CROP = defineBrick({
  name: 'CROP',
  kind: 'function',
  description: 'Crop the image: trim fractions off its sides, to an aspect ratio, or to the box around a mask',
  inputs: {
    image: port.image(),
    left: side('Fraction of the width cut from the left'),
    right: side('Fraction of the width cut from the right'),
    top: side('Fraction of the height cut from the top'),
    bottom: side('Fraction of the height cut from the bottom'),
    aspect: port.float({ optional: true, default: 0, min: 0, max: 20, description: 'Width/height of the centred crop after trimming (1 = square); 0 keeps it' }),
    mask: port.mask({ optional: true, description: 'Crop to the bounding box of this mask (before trimming)' }),
  },
  outputs: { image: port.image() },
  constraint: 'Cuts pixels away; it cannot add canvas (use CMI-PRED + FLUX-FILL to expand).',
  version: '1',
  async run({ image, left, right, top, bottom, aspect, mask }) {
    let x = 0;
    let y = 0;
    let w = image.width;
    let h = image.height;
    if (mask) {
      const box = maskBounds(await fitMask(mask, image.width, image.height));
      if (!box) throw new BrickInputError('CROP', 'the mask is empty, so there is nothing to crop to');
      ({ x, y, width: w, height: h } = box);
    }
    if (left + right >= 1 || top + bottom >= 1) throw new BrickInputError('CROP', 'the trims leave nothing of the image');
    ({ start: x, size: w } = trimmed(x, w, left, right));
    ({ start: y, size: h } = trimmed(y, h, top, bottom));
    if (aspect > 0) {
      // Largest centred window of that shape inside what is left.
      const tw = Math.min(w, Math.round(h * aspect));
      const th = Math.min(h, Math.round(tw / aspect));
      x += Math.floor((w - tw) / 2);
      y += Math.floor((h - th) / 2);
      w = Math.max(1, tw);
      h = Math.max(1, th);
    }
    return { image: await rawFromSharp(sharpFromImage(image).extract({ left: x, top: y, width: w, height: h })) };
  },
});
