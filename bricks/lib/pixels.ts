/** Pixel helpers shared by bricks: mask fitting, masked blending, bounding boxes. */
import { rawFromSharp, sharpFromImage } from '../../src/engine/image-io.ts';
import type { ImageData, MaskData } from '../../src/engine/values.ts';
import { makeImage, makeMask } from '../../src/engine/values.ts';

/** A mask at the given size (bilinear when it has to be resized, as masks come from models at other resolutions). */
export async function fitMask(mask: MaskData, width: number, height: number): Promise<MaskData> {
  if (mask.width === width && mask.height === height) return mask;
  // sharp widens single-band input to sRGB when it resamples; ask for one band back.
  const { data, info } = await sharpFromImage(mask).resize(width, height, { fit: 'fill' }).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 1) throw new Error(`resized mask has ${info.channels} channels`);
  return makeMask(width, height, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

/** An image at the given size and channel count. */
export async function fitImage(img: ImageData, width: number, height: number, channels: 3 | 4 = img.channels): Promise<ImageData> {
  if (img.width === width && img.height === height && img.channels === channels) return img;
  let s = sharpFromImage(img).resize(width, height, { fit: 'fill' });
  s = channels === 4 ? s.ensureAlpha() : s.removeAlpha();
  return rawFromSharp(s);
}

export async function toChannels(img: ImageData, channels: 3 | 4): Promise<ImageData> {
  return fitImage(img, img.width, img.height, channels);
}

/**
 * `edited` inside the mask, `base` outside it, with soft mask edges blended.
 * Pixels where the mask is 0 are copied from `base` bit for bit.
 */
export async function blendByMask(base: ImageData, edited: ImageData, mask: MaskData | null): Promise<ImageData> {
  if (!mask) return edited;
  const m = await fitMask(mask, base.width, base.height);
  const e = await fitImage(edited, base.width, base.height, base.channels);
  const out = makeImage(base.width, base.height, base.channels, new Uint8Array(base.data));
  const c = base.channels;
  for (let p = 0, i = 0; p < m.data.length; p++, i += c) {
    const a = m.data[p]!;
    if (a === 0) continue;
    if (a === 255) {
      for (let k = 0; k < c; k++) out.data[i + k] = e.data[i + k]!;
      continue;
    }
    for (let k = 0; k < c; k++) out.data[i + k] = Math.round((e.data[i + k]! * a + base.data[i + k]! * (255 - a)) / 255);
  }
  return out;
}

export interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** The smallest box holding every non-zero mask pixel, or undefined for an empty mask. */
export function maskBounds(mask: MaskData, threshold = 0): Box | undefined {
  if (threshold === 0) return nonZeroBounds(mask);
  let minX = mask.width;
  let minY = mask.height;
  let maxX = -1;
  let maxY = -1;
  for (let y = 0; y < mask.height; y++) {
    const row = y * mask.width;
    for (let x = 0; x < mask.width; x++) {
      if (mask.data[row + x]! > threshold) {
        if (x < minX) minX = x;
        if (x > maxX) maxX = x;
        if (y < minY) minY = y;
        if (y > maxY) maxY = y;
      }
    }
  }
  if (maxX < 0) return undefined;
  return { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
}

/**
 * maskBounds above 0, row by row: each row is scanned from the left to its
 * first set pixel and from the right to its last (or to the widest seen so
 * far), skipping empty runs four bytes at a time, so a filled region's inside
 * is never visited (a 1024² mask with a 512² square: 0.5 ms against 3.7 ms
 * for the four-bytes-at-a-time scan of every pixel, one run at load 8).
 */
function nonZeroBounds(mask: MaskData): Box | undefined {
  const d = mask.data;
  const w = mask.width;
  let minX = w;
  let minY = mask.height;
  let maxX = -1;
  let maxY = -1;
  for (let y = 0; y < mask.height; y++) {
    const row = y * w;
    const first = firstNonZero(d, row, row + w);
    if (first < 0) continue;
    if (minY > y) minY = y;
    maxY = y;
    if (first - row < minX) minX = first - row;
    // Only what lies right of the widest column so far can widen the box.
    const last = lastNonZero(d, Math.max(first, row + maxX + 1), row + w);
    if (last >= 0) maxX = last - row;
  }
  return maxX < 0 ? undefined : { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
}

/** Index of the first non-zero byte of d[from, to), or −1. */
function firstNonZero(d: Uint8Array, from: number, to: number): number {
  let p = from;
  while (p < to && (d.byteOffset + p) % 4 !== 0) if (d[p++]) return p - 1;
  if (to - p >= 4) {
    const words = new Uint32Array(d.buffer, d.byteOffset + p, (to - p) >> 2);
    let i = 0;
    while (i < words.length && words[i] === 0) i++;
    p += i * 4;
  }
  for (; p < to; p++) if (d[p]) return p;
  return -1;
}

/** Index of the last non-zero byte of d[from, to), or −1. */
function lastNonZero(d: Uint8Array, from: number, to: number): number {
  let p = to;
  while (p > from && (d.byteOffset + p) % 4 !== 0) if (d[--p]) return p;
  if (p - from >= 4) {
    const n = (p - from) >> 2;
    const words = new Uint32Array(d.buffer, d.byteOffset + p - n * 4, n);
    let i = n - 1;
    while (i >= 0 && words[i] === 0) i--;
    p -= (n - 1 - i) * 4;
  }
  for (p--; p >= from; p--) if (d[p]) return p;
  return -1;
}

export function boxMask(width: number, height: number, box: Box | undefined): MaskData {
  const m = makeMask(width, height);
  if (!box) return m;
  const x0 = Math.max(0, Math.floor(box.x));
  const y0 = Math.max(0, Math.floor(box.y));
  const x1 = Math.min(width, Math.ceil(box.x + box.width));
  const y1 = Math.min(height, Math.ceil(box.y + box.height));
  for (let y = y0; y < y1; y++) m.data.fill(255, y * width + x0, y * width + x1);
  return m;
}

/** Union of masks of the same size: the higher coverage at each pixel. */
export function unionMasks(masks: readonly MaskData[], w: number, h: number): MaskData {
  const out = makeMask(w, h);
  for (const m of masks) for (let i = 0; i < out.data.length; i++) if (m.data[i]! > out.data[i]!) out.data[i] = m.data[i]!;
  return out;
}

/**
 * Connected components (4-neighbour) of the pixels `on` accepts in a w × h
 * grid: a label per pixel (0 = off) and each label's size (`sizes[0]` unused).
 */
export function labelComponents(w: number, h: number, on: (p: number) => boolean): { labels: Int32Array; sizes: number[] } {
  const labels = new Int32Array(w * h);
  const sizes: number[] = [0];
  const stack: number[] = [];
  for (let i = 0; i < w * h; i++) {
    if (labels[i] || !on(i)) continue;
    const id = sizes.length;
    let size = 0;
    const visit = (q: number): void => {
      if (!labels[q] && on(q)) {
        labels[q] = id;
        stack.push(q);
      }
    };
    labels[i] = id;
    stack.push(i);
    while (stack.length) {
      const p = stack.pop()!;
      size++;
      const x = p % w;
      if (x > 0) visit(p - 1);
      if (x < w - 1) visit(p + 1);
      if (p >= w) visit(p - w);
      if (p < w * (h - 1)) visit(p + w);
    }
    sizes.push(size);
  }
  return { labels, sizes };
}

/** The bounding box of the largest connected region of pixels `on` accepts, or undefined when there is none. */
export function largestComponentBounds(w: number, h: number, on: (p: number) => boolean): Box | undefined {
  const { labels, sizes } = labelComponents(w, h, on);
  if (sizes.length === 1) return undefined;
  let largest = 1;
  for (let i = 2; i < sizes.length; i++) if (sizes[i]! > sizes[largest]!) largest = i;
  let minX = w;
  let minY = h;
  let maxX = -1;
  let maxY = -1;
  for (let p = 0; p < labels.length; p++) {
    if (labels[p] !== largest) continue;
    const x = p % w;
    const y = (p - x) / w;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  return { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
}
