import { makeMask, type MaskData } from '../../src/engine/values.ts';

/** A mask with a filled axis-aligned rectangle. */
export function rectMask(width: number, height: number, x: number, y: number, w: number, h: number): MaskData {
  const m = makeMask(width, height);
  for (let yy = y; yy < y + h; yy++) m.data.fill(255, yy * width + x, yy * width + x + w);
  return m;
}

/** A mask with a filled disc. */
export function discMask(width: number, height: number, cx: number, cy: number, r: number): MaskData {
  const m = makeMask(width, height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) m.data[y * width + x] = 255;
  return m;
}
