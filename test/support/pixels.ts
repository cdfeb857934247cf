import sharp from 'sharp';
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

/** A 2-pixel black-and-white checkerboard: any blur changes it measurably. */
export async function checkerPhoto(width = 48, height = 32): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) data.fill((Math.floor((i % width) / 2) + Math.floor(i / width / 2)) % 2 ? 220 : 30, i * 3, i * 3 + 3);
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

/** A mask whose right half is white (edit there) and left half black (keep). */
export async function rightHalfMask(width = 48, height = 32): Promise<Buffer> {
  const data = Buffer.alloc(width * height);
  for (let y = 0; y < height; y++) data.fill(255, y * width + width / 2, (y + 1) * width);
  return sharp(data, { raw: { width, height, channels: 1 } }).png().toBuffer();
}

/** Mean absolute per-channel difference between two same-sized images, over their left and right halves. */
export async function changeByHalf(a: Uint8Array, b: Uint8Array): Promise<{ left: number; right: number }> {
  const [x, y] = await Promise.all([a, b].map((bytes) => sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true })));
  if (x!.info.width !== y!.info.width || x!.info.height !== y!.info.height) throw new Error(`sizes differ: ${x!.info.width}×${x!.info.height} vs ${y!.info.width}×${y!.info.height}`);
  const { width, channels } = x!.info;
  let left = 0;
  let right = 0;
  for (let i = 0; i < x!.data.length; i++) {
    const d = Math.abs(x!.data[i]! - y!.data[i]!);
    if (Math.floor(i / channels) % width < width / 2) left += d;
    else right += d;
  }
  const half = x!.data.length / 2;
  return { left: left / half, right: right / half };
}

/** A product shot: a strong red block on a near-white backdrop, as a second photo of "this" to paste in. */
export async function productShot(width = 40, height = 30): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3, 248);
  for (let y = Math.floor(height / 4); y < Math.floor((height * 3) / 4); y++) {
    for (let x = Math.floor(width / 4); x < Math.floor((width * 3) / 4); x++) data.set([225, 15, 25], (y * width + x) * 3);
  }
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

/** The share of an image's pixels that are that strong red, and of the near-white backdrop. */
export async function productShare(png: Uint8Array): Promise<{ red: number; backdrop: number }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let red = 0;
  let backdrop = 0;
  for (let i = 0; i < data.length; i += info.channels) {
    if (data[i]! > 200 && data[i + 1]! < 50 && data[i + 2]! < 60) red++;
    if (data[i]! > 240 && data[i + 1]! > 240 && data[i + 2]! > 240) backdrop++;
  }
  const n = data.length / info.channels;
  return { red: red / n, backdrop: backdrop / n };
}
