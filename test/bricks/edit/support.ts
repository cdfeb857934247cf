/** Calling edit bricks directly, and pixel statistics the edit specs assert on. */
import type { AnyBrick, BrickContext } from '../../../src/engine/brick.ts';
import { decodeImage } from '../../../src/engine/image-io.ts';
import type { ImageData, MaskData, Value } from '../../../src/engine/values.ts';
import { silentLogger } from '../../../src/logger.ts';
import { rgbToHsv } from '../../../bricks/lib/colour.ts';
import { readPhoto } from '../../support/shared.ts';

export const ctx: BrickContext = { signal: new AbortController().signal, progress: () => {}, logger: silentLogger };

export async function call(brick: AnyBrick, inputs: Record<string, Value | null>, context: BrickContext = ctx): Promise<Record<string, Value>> {
  return (await brick.run(inputs as never, context)) as Record<string, Value>;
}

export async function photo(name: string): Promise<ImageData> {
  return decodeImage(readPhoto(name));
}

/** Indices of pixels where `mask` is (not) set. */
export function pixels(mask: MaskData, inside: boolean): number[] {
  const out: number[] = [];
  for (let p = 0; p < mask.data.length; p++) if ((mask.data[p]! > 0) === inside) out.push(p);
  return out;
}

export function rgbAt(img: ImageData, p: number): [number, number, number] {
  const i = p * img.channels;
  return [img.data[i]!, img.data[i + 1]!, img.data[i + 2]!];
}

export function hueAt(img: ImageData, p: number): { h: number; s: number; v: number } {
  const [h, s, v] = rgbToHsv(...rgbAt(img, p));
  return { h, s, v };
}

/** Whether every listed pixel is byte-for-byte the same in both images. */
export function sameAt(a: ImageData, b: ImageData, ps: readonly number[]): boolean {
  const c = a.channels;
  for (const p of ps) for (let k = 0; k < c; k++) if (a.data[p * c + k] !== b.data[p * c + k]) return false;
  return true;
}

export function meanLuma(img: ImageData, ps?: readonly number[]): number {
  let s = 0;
  const list = ps ?? Array.from({ length: img.width * img.height }, (_v, i) => i);
  for (const p of list) {
    const [r, g, b] = rgbAt(img, p);
    s += 0.299 * r + 0.587 * g + 0.114 * b;
  }
  return s / list.length;
}

export function ellipseMask(w: number, h: number, cx: number, cy: number, rx: number, ry: number): MaskData {
  const data = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1) data[y * w + x] = 255;
  return { kind: 'mask', width: w, height: h, data };
}
