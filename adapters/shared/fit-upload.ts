/** Making a result fit a platform's upload limit: re-encode as JPEG first, then downscale until it fits. */
import sharp from 'sharp';
import type { ResultImage } from '../../src/sessions/types.ts';

export interface FittedImage {
  readonly bytes: Buffer;
  readonly format: 'png' | 'jpeg';
  /** Whether the upload differs from the stored result (the user is told). */
  readonly altered: boolean;
}

export async function fitUpload(image: ResultImage, maxBytes: number): Promise<FittedImage> {
  if (image.bytes.length <= maxBytes) return { bytes: image.bytes, format: image.format, altered: false };
  let bytes = await sharp(image.bytes).flatten({ background: '#ffffff' }).jpeg({ quality: 88, mozjpeg: true }).toBuffer();
  let width = image.width;
  // JPEG size scales roughly with the pixel count, so shrink by the square root of the overshoot (with margin).
  for (let attempt = 0; bytes.length > maxBytes && attempt < 8 && width > 16; attempt++) {
    width = Math.max(16, Math.floor(width * Math.sqrt(maxBytes / bytes.length) * 0.92));
    bytes = await sharp(image.bytes).flatten({ background: '#ffffff' }).resize({ width }).jpeg({ quality: 85, mozjpeg: true }).toBuffer();
  }
  return { bytes, format: 'jpeg', altered: true };
}
