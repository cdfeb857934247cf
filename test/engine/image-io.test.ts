import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ImageTooLargeError, UnreadableImageError } from '../../src/engine/errors.ts';
import { decodeImage, decodeMask, encodeImage } from '../../src/engine/image-io.ts';

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

  it('reads a mask from its alpha channel when it has one, else from luminance', async () => {
    const alpha = await sharp({ create: { width: 2, height: 1, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0.5 } } }).png().toBuffer();
    expect((await decodeMask(alpha)).data[0]).toBe(128);
    const white = await sharp({ create: { width: 2, height: 1, channels: 3, background: '#fff' } }).png().toBuffer();
    expect((await decodeMask(white)).data[0]).toBe(255);
  });
});
