/** Decoding user images into raw pixels once, and encoding only final results. */
import { createHash } from 'node:crypto';
import sharp, { type Metadata, type Sharp } from 'sharp';
import { sha256HexOffThread } from './digest.ts';
import { BrickInputError, ImageTooLargeError, UnreadableImageError } from './errors.ts';
import type { ImageData, MaskData, Value } from './values.ts';
import { makeImage, makeMask } from './values.ts';

export interface ImageLimits {
  /** Largest accepted encoded file. */
  readonly maxBytes: number;
  /** Largest accepted width × height. */
  readonly maxPixels: number;
  /** Longest accepted side (default MAX_IMAGE_SIDE). */
  readonly maxSide?: number;
}

/**
 * The longest side accepted by default. The area bound alone lets through a
 * 1×39,000,000 strip that every brick then crawls along; no photo or result is
 * that shape, and libvips' own formats stop at 16383 (WebP) to 65535 (JPEG).
 */
export const MAX_IMAGE_SIDE = 16_384;

export const DEFAULT_LIMITS: ImageLimits = { maxBytes: 25 * 1024 * 1024, maxPixels: 40_000_000, maxSide: MAX_IMAGE_SIDE };

/** A size as a user reads it, in the largest unit that does not round it to nothing. */
function bytesText(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${n} bytes`;
}

/** A pixel count as a user reads it: megapixels from one million up, else the exact count. */
function pixelsText(n: number): string {
  return n >= 1e6 ? `${Number((n / 1e6).toFixed(1))} megapixels` : `${n.toLocaleString('en-US')} pixels`;
}

/** Decodes an encoded image (JPEG, PNG, WebP, GIF, TIFF, AVIF) into RGB or RGBA pixels, applying EXIF orientation. */
export async function decodeImage(input: Uint8Array, limits: ImageLimits = DEFAULT_LIMITS): Promise<ImageData> {
  if (input.byteLength === 0) throw new UnreadableImageError('the file is empty');
  if (input.byteLength > limits.maxBytes) throw new ImageTooLargeError(bytesText(input.byteLength), bytesText(limits.maxBytes));
  let meta: Metadata;
  try {
    // Only the header is read here, so sharp's own pixel limit is lifted: a 40000×40000 header must be
    // refused as too large by the check below, not reported as an unreadable format.
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new UnreadableImageError('unknown or damaged format', { cause: err });
  }
  checkImageSize(meta.width ?? 0, meta.height ?? 0, limits);
  try {
    const { data, info } = await sharp(input, { limitInputPixels: limits.maxPixels, failOn: 'error' })
      .rotate()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    const channels = info.channels === 4 ? 4 : 3;
    if (info.channels !== channels) throw new Error(`unexpected ${info.channels} channels`);
    return makeImage(info.width, info.height, channels, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  } catch (err) {
    throw new UnreadableImageError('the image data is damaged', { cause: err });
  }
}

/** Refuses a width × height beyond the limits' side or area, before any pixel is decoded or made. */
export function checkImageSize(width: number, height: number, limits: ImageLimits = DEFAULT_LIMITS): void {
  const maxSide = limits.maxSide ?? MAX_IMAGE_SIDE;
  if (width > maxSide || height > maxSide) {
    throw new ImageTooLargeError(`${width}×${height} pixels`, `${maxSide.toLocaleString('en-US')} pixels a side`);
  }
  if (width * height > limits.maxPixels) {
    throw new ImageTooLargeError(`${width}×${height} pixels`, pixelsText(limits.maxPixels));
  }
}

/**
 * Refuses a result a brick is about to make when it would exceed the default
 * image limits (RESIZE by 8 three times, CMI-PRED's widest canvas): checked
 * before the pixels are allocated, as a bad input a different plan can avoid.
 */
export function checkResultSize(brick: string, width: number, height: number): void {
  try {
    checkImageSize(width, height);
  } catch (err) {
    if (!(err instanceof ImageTooLargeError)) throw err;
    throw new BrickInputError(brick, `the result would be ${err.actual}; the limit is ${err.limit}`);
  }
}

/** Decodes a mask file: any image, reduced to one channel (alpha if present, else luminance). */
export async function decodeMask(input: Uint8Array, limits: ImageLimits = DEFAULT_LIMITS): Promise<MaskData> {
  const img = await decodeImage(input, limits);
  return imageToMask(img);
}

export function imageToMask(img: ImageData): MaskData {
  const out = makeMask(img.width, img.height);
  const { data, channels } = img;
  let alphaUsed = false;
  if (channels === 4) for (let i = 3; i < data.length; i += 4) if (data[i]! < 255) { alphaUsed = true; break; }
  for (let p = 0, i = 0; p < out.data.length; p++, i += channels) {
    out.data[p] = alphaUsed ? data[i + 3]! : Math.round(0.299 * data[i]! + 0.587 * data[i + 1]! + 0.114 * data[i + 2]!);
  }
  return out;
}

export function sharpFromImage(v: ImageData | MaskData): Sharp {
  const channels = v.kind === 'image' ? v.channels : 1;
  return sharp(v.data, { raw: { width: v.width, height: v.height, channels } });
}

/** Runs a sharp pipeline on raw pixels and returns raw pixels, without any encode. */
export async function rawFromSharp(pipeline: Sharp): Promise<ImageData> {
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 && info.channels !== 4) throw new Error(`sharp produced ${info.channels} channels`);
  return makeImage(info.width, info.height, info.channels, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

export type OutputFormat = 'png' | 'jpeg' | 'webp';

/** Encodes a final result. Masks become grayscale images. */
export async function encodeImage(v: ImageData | MaskData, format: OutputFormat = 'png'): Promise<Buffer> {
  const s = sharpFromImage(v);
  if (format === 'jpeg') return s.jpeg({ quality: 92 }).toBuffer();
  if (format === 'webp') return s.webp({ quality: 92 }).toBuffer();
  return s.png().toBuffer();
}

/**
 * A picture as a JPEG data URL no larger than `maxSide` on its long side: how the MLLM Builder and the critic
 * show pictures to a model. Resized from the raw pixels, with no PNG encoded on the way.
 */
export async function jpegDataUrl(image: ImageData, maxSide: number, quality: number): Promise<string> {
  const jpeg = await sharpFromImage(image).resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true }).jpeg({ quality }).toBuffer();
  return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
}

export function formatFromPath(path: string): OutputFormat {
  const ext = path.toLowerCase().split('.').pop();
  if (ext === 'jpg' || ext === 'jpeg') return 'jpeg';
  if (ext === 'webp') return 'webp';
  return 'png';
}

// Values are immutable once made, so one hash per pixel buffer serves every later run (revisions re-run the same image).
const pixelHashes = new WeakMap<ImageData | MaskData, string>();

function pixelHeader(v: ImageData | MaskData): string {
  return `${v.kind}:${v.width}x${v.height}x${v.kind === 'image' ? v.channels : 1}:`;
}

/** A pixel value's hash from its pixels' SHA-256: the same whether those were hashed here or off the event loop. */
function pixelHash(v: ImageData | MaskData, pixels: string): string {
  const digest = createHash('sha256').update(`${pixelHeader(v)}${pixels}`).digest('hex');
  pixelHashes.set(v, digest);
  return digest;
}

/** Content hash of a value, used in cache keys. */
export function hashValue(v: Value): string {
  if (typeof v === 'string' || typeof v === 'number') return createHash('sha256').update(`${typeof v}:${v}`).digest('hex');
  return pixelHashes.get(v) ?? pixelHash(v, createHash('sha256').update(v.data).digest('hex'));
}

/** hashValue, with a pixel buffer hashed in libuv's thread pool instead of on the event loop (the executor's per-run keys). */
export async function hashValueOffThread(v: Value): Promise<string> {
  if (typeof v === 'string' || typeof v === 'number') return hashValue(v);
  return pixelHashes.get(v) ?? pixelHash(v, await sha256HexOffThread(v.data));
}
