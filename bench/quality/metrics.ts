/**
 * Quality measures against ground truth (issue 15): IoU of masks, and for
 * removal fills PSNR and a texture score against the true background.
 */
import { cropRgb, lumaDetail } from '../../bricks/lib/inpaint.ts';
import type { ImageData, MaskData } from '../../src/engine/values.ts';

/** Intersection over union of two masks of one size, each read as "inside" above half coverage. */
export function iou(a: MaskData, b: MaskData): number {
  if (a.width !== b.width || a.height !== b.height) throw new RangeError(`masks differ in size: ${a.width}×${a.height} and ${b.width}×${b.height}`);
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.data.length; i++) {
    const x = a.data[i]! >= 128;
    const y = b.data[i]! >= 128;
    if (x && y) inter++;
    if (x || y) union++;
  }
  return union === 0 ? 1 : inter / union;
}

/** PSNR (dB) of `fill` against `truth` over the pixels where `region` is set, RGB channels. */
export function psnr(fill: ImageData, truth: ImageData, region: Uint8Array): number {
  let se = 0;
  let n = 0;
  for (let p = 0; p < region.length; p++) {
    if (!region[p]) continue;
    for (let k = 0; k < 3; k++) {
      const d = fill.data[p * fill.channels + k]! - truth.data[p * truth.channels + k]!;
      se += d * d;
    }
    n += 3;
  }
  if (n === 0 || se === 0) return Infinity;
  return 10 * Math.log10((255 * 255) / (se / n));
}

/** Mean absolute 4-neighbour Laplacian of luma over the region (pixels on the image border skipped): the measure the fill itself aims at. */
export function laplacianEnergy(img: ImageData, region: Uint8Array): number {
  const rgb = img.channels === 3 ? img.data : cropRgb(img, { x: 0, y: 0, width: img.width, height: img.height });
  return lumaDetail(rgb, img.width, img.height, region);
}

/**
 * Texture score: Laplacian energy inside the fill ÷ the same inside the true background.
 * A smooth blob scores far below 1; noise or a pasted edge scores above.
 */
export function textureScore(fill: ImageData, truth: ImageData, region: Uint8Array): number {
  return laplacianEnergy(fill, region) / Math.max(1e-6, laplacianEnergy(truth, region));
}

export function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}
