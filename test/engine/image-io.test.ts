import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ImageTooLargeError, UnreadableImageError } from '../../src/engine/errors.ts';
import { decodeImage, decodeMask, encodeImage } from '../../src/engine/image-io.ts';

/** A PNG whose header claims `width`×`height` (with one tiny, short data chunk): the header is all a size check may read. */
async function pngWithSize(width: number, height: number): Promise<Buffer> {
  const png = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } }).png().toBuffer();
  // IHDR's data starts after the 8-byte signature, 4-byte length and 4-byte type; its CRC covers type and data.
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('decodeImage', () => {
  it('decodes to raw RGB pixels and encodes back losslessly as PNG', async () => {
    const png = await sharp({ create: { width: 3, height: 2, channels: 3, background: { r: 10, g: 200, b: 30 } } }).png().toBuffer();
    const img = await decodeImage(png);
    expect([img.width, img.height, img.channels]).toEqual([3, 2, 3]);
    expect([...img.data.slice(0, 3)]).toEqual([10, 200, 30]);
    const again = await decodeImage(await encodeImage(img));
    expect(Buffer.from(again.data).equals(Buffer.from(img.data))).toBe(true);
  });

  it('refuses bytes that are not an image with a specific message', async () => {
    await expect(decodeImage(Buffer.from('definitely not a jpeg'))).rejects.toThrow(UnreadableImageError);
    await expect(decodeImage(new Uint8Array())).rejects.toThrow(/empty/);
  });

  it('refuses a truncated JPEG', async () => {
    const jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#888' } }).jpeg().toBuffer();
    await expect(decodeImage(jpeg.subarray(0, jpeg.length / 2))).rejects.toThrow(UnreadableImageError);
  });

  it('refuses images over the pixel limit before decoding them', async () => {
    const png = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#000' } }).png().toBuffer();
    const err = await decodeImage(png, { maxBytes: 1e9, maxPixels: 100_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageTooLargeError);
    expect((err as Error).message).toBe('That image is too large (400×300 pixels); the limit is 100,000 pixels.');
  });

  it('names the real pixel limit in megapixels from one million up', async () => {
    const png = await sharp({ create: { width: 1600, height: 1000, channels: 3, background: '#000' } }).png().toBuffer();
    const err = await decodeImage(png, { maxBytes: 1e9, maxPixels: 1_500_000 }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('That image is too large (1600×1000 pixels); the limit is 1.5 megapixels.');
  });

  it('refuses files over the byte limit, naming both sizes without rounding either to zero', async () => {
    const err = await decodeImage(new Uint8Array(2048), { maxBytes: 1024, maxPixels: 1e9 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageTooLargeError);
    expect((err as Error).message).toBe('That image is too large (2.0 KB); the limit is 1.0 KB.');
  });

  it('refuses a 40000×40000 header as too large, not as an unreadable format', async () => {
    const err = await decodeImage(await pngWithSize(40_000, 40_000)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageTooLargeError);
    expect((err as Error).message).toBe('That image is too large (40000×40000 pixels); the limit is 16,384 pixels a side.');
  });

  it('refuses a 1×39,000,000 strip by its side, though its area is under the pixel limit, without decoding it', async () => {
    const started = performance.now();
    const err = await decodeImage(await pngWithSize(1, 39_000_000), { maxBytes: 1e9, maxPixels: 40_000_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageTooLargeError);
    expect((err as Error).message).toBe('That image is too large (1×39000000 pixels); the limit is 16,384 pixels a side.');
    // Refused from the header alone: decoding the strip took minutes of CPU.
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('takes the side limit from the limits it is given', async () => {
    const png = await sharp({ create: { width: 300, height: 20, channels: 3, background: '#000' } }).png().toBuffer();
    await expect(decodeImage(png, { maxBytes: 1e9, maxPixels: 1e9, maxSide: 200 })).rejects.toThrow('the limit is 200 pixels a side');
    expect((await decodeImage(png, { maxBytes: 1e9, maxPixels: 1e9, maxSide: 300 })).width).toBe(300);
  });

  it('turns an EXIF-rotated JPEG upright: a landscape file tagged orientation 6 decodes as portrait, its stored left half on top', async () => {
    // 40×20 stored, left half red and right half blue; orientation 6 says "rotate 90° clockwise to view".
    const raw = Buffer.alloc(40 * 20 * 3);
    for (let i = 0; i < 40 * 20; i++) raw.set((i % 40) < 20 ? [230, 20, 20] : [20, 20, 230], i * 3);
    const jpeg = await sharp(raw, { raw: { width: 40, height: 20, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(jpeg).metadata()).orientation).toBe(6);
    const img = await decodeImage(jpeg);
    expect([img.width, img.height]).toEqual([20, 40]);
    // Viewed upright, the stored left (red) half is at the top and the blue half at the bottom.
    const at = (x: number, y: number) => [...img.data.slice((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)];
    expect(at(10, 5)[0]).toBeGreaterThan(180);
    expect(at(10, 35)[2]).toBeGreaterThan(180);
  });

  it('reads a mask from its alpha channel when it has one, else from luminance', async () => {
    const alpha = await sharp({ create: { width: 2, height: 1, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0.5 } } }).png().toBuffer();
    expect((await decodeMask(alpha)).data[0]).toBe(128);
    const white = await sharp({ create: { width: 2, height: 1, channels: 3, background: '#fff' } }).png().toBuffer();
    expect((await decodeMask(white)).data[0]).toBe(255);
  });
});
