/**
 * The four Lego-Edit value types and their in-memory forms.
 *
 * Images and masks travel between bricks as decoded raw pixels so that a workflow
 * decodes the user's photo once and encodes only its final results.
 */

export type ValueType = 'Image' | 'Mask' | 'Str' | 'Float';

export const VALUE_TYPES: readonly ValueType[] = ['Image', 'Mask', 'Str', 'Float'];

/** 8-bit interleaved RGB or RGBA pixels, row-major. */
export interface ImageData {
  readonly kind: 'image';
  readonly width: number;
  readonly height: number;
  readonly channels: 3 | 4;
  readonly data: Uint8Array;
}

/** Single-channel 8-bit coverage, 0 = outside, 255 = inside; soft edges allowed. */
export interface MaskData {
  readonly kind: 'mask';
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

export type Value = ImageData | MaskData | string | number;

export function isImage(v: unknown): v is ImageData {
  return typeof v === 'object' && v !== null && (v as ImageData).kind === 'image';
}

export function isMask(v: unknown): v is MaskData {
  return typeof v === 'object' && v !== null && (v as MaskData).kind === 'mask';
}

export function typeOfValue(v: Value): ValueType {
  if (typeof v === 'string') return 'Str';
  if (typeof v === 'number') return 'Float';
  return v.kind === 'image' ? 'Image' : 'Mask';
}

export function makeImage(width: number, height: number, channels: 3 | 4, data?: Uint8Array): ImageData {
  const size = width * height * channels;
  if (data && data.length !== size) {
    throw new RangeError(`image buffer holds ${data.length} bytes, expected ${size} for ${width}x${height}x${channels}`);
  }
  return { kind: 'image', width, height, channels, data: data ?? new Uint8Array(size) };
}

export function makeMask(width: number, height: number, data?: Uint8Array): MaskData {
  const size = width * height;
  if (data && data.length !== size) {
    throw new RangeError(`mask buffer holds ${data.length} bytes, expected ${size} for ${width}x${height}`);
  }
  return { kind: 'mask', width, height, data: data ?? new Uint8Array(size) };
}

/**
 * Why `v` is not a well-formed value of `type`, or undefined when it is: the
 * Executor checks every brick output with this, so a brick's mistake fails
 * its own step instead of a later one (or the encoder).
 */
export function valueProblem(v: unknown, type: ValueType): string | undefined {
  if (type === 'Str') return typeof v === 'string' ? undefined : `expected text, got ${kindOf(v)}`;
  if (type === 'Float') return typeof v === 'number' && Number.isFinite(v) ? undefined : `expected a finite number, got ${typeof v === 'number' ? v : kindOf(v)}`;
  const want = type === 'Image' ? 'image' : 'mask';
  if (typeof v !== 'object' || v === null || (v as { kind?: unknown }).kind !== want) return `expected ${type}, got ${kindOf(v)}`;
  const { width, height, data } = v as { width: unknown; height: unknown; data: unknown };
  const channels = type === 'Image' ? (v as { channels: unknown }).channels : 1;
  if (!Number.isInteger(width) || !Number.isInteger(height) || (width as number) < 1 || (height as number) < 1) return `size ${String(width)}x${String(height)} is not at least 1x1`;
  if (channels !== 1 && channels !== 3 && channels !== 4) return `${String(channels)} channels`;
  if (!(data instanceof Uint8Array)) return 'its pixels are not bytes';
  const expected = (width as number) * (height as number) * channels;
  return data.length === expected ? undefined : `${data.length} bytes of pixels for ${String(width)}x${String(height)}x${channels} (${expected})`;
}

function kindOf(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'object') return isImage(v) ? 'Image' : isMask(v) ? 'Mask' : 'an object';
  return typeof v;
}

/** Bytes a value holds, for cache accounting. */
export function valueBytes(v: Value): number {
  if (typeof v === 'string') return v.length * 2;
  if (typeof v === 'number') return 8;
  return v.data.byteLength;
}

/** Fraction of pixels a mask covers (any non-zero coverage counts). */
export function maskCoverage(mask: MaskData): number {
  let on = 0;
  const d = mask.data;
  for (let i = 0; i < d.length; i++) if (d[i]! > 0) on++;
  return d.length === 0 ? 0 : on / d.length;
}

/** Values never change once made, so a mask's emptiness is worked out once; the executor asks on every step that reads it. */
const emptiness = new WeakMap<MaskData, boolean>();

export function isEmptyMask(mask: MaskData): boolean {
  let empty = emptiness.get(mask);
  if (empty === undefined) {
    empty = !hasNonZero(mask.data);
    emptiness.set(mask, empty);
  }
  return empty;
}

/** Reads four bytes at a time where the buffer is aligned for it. */
function hasNonZero(d: Uint8Array): boolean {
  let i = 0;
  if (d.byteOffset % 4 === 0) {
    const words = new Uint32Array(d.buffer, d.byteOffset, d.length >>> 2);
    for (let w = 0; w < words.length; w++) if (words[w] !== 0) return true;
    i = words.length << 2;
  }
  for (; i < d.length; i++) if (d[i] !== 0) return true;
  return false;
}

/** A short human description of a value, for traces and error messages. */
export function describeValue(v: Value | null | undefined): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v === 'number') return String(v);
  // Sizes only: a coverage figure would scan every pixel of every mask on each step.
  return `${v.kind === 'image' ? 'Image' : 'Mask'} ${v.width}x${v.height}`;
}
