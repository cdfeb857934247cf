/**
 * Whole-image filters behind the CPU variants of FLUX-STYLE and FLUX-ENV.
 * Each returns a new image of the same size and channel count (alpha copied);
 * blurs go through sharp (libvips), per-pixel curves are plain loops.
 */
import sharp from 'sharp';
import { sharpFromImage } from '../../src/engine/image-io.ts';
import type { ImageData } from '../../src/engine/values.ts';
import { makeImage } from '../../src/engine/values.ts';
import { luma } from './colour.ts';

const clamp8 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

/** Applies `f(r, g, b, x, y) → [r, g, b]` to every pixel. */
export function mapPixels(img: ImageData, f: (r: number, g: number, b: number, x: number, y: number) => readonly [number, number, number]): ImageData {
  const out = makeImage(img.width, img.height, img.channels, new Uint8Array(img.data));
  const c = img.channels;
  const d = img.data;
  for (let y = 0, i = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++, i += c) {
      const v = f(d[i]!, d[i + 1]!, d[i + 2]!, x, y);
      out.data[i] = clamp8(v[0]);
      out.data[i + 1] = clamp8(v[1]);
      out.data[i + 2] = clamp8(v[2]);
    }
  }
  return out;
}

/** Luma as a one-channel buffer. */
export function lumaPlane(img: ImageData): Uint8Array {
  const out = new Uint8Array(img.width * img.height);
  const c = img.channels;
  for (let p = 0, i = 0; p < out.length; p++, i += c) out[p] = clamp8(luma(img.data[i]!, img.data[i + 1]!, img.data[i + 2]!));
  return out;
}

/** Gaussian blur of a one-channel plane through sharp. */
export async function blurPlane(plane: Uint8Array, width: number, height: number, sigma: number): Promise<Uint8Array> {
  if (sigma < 0.3) return plane;
  // Without the explicit colourspace sharp hands back three-channel sRGB for a one-channel input.
  const buf = await sharp(plane, { raw: { width, height, channels: 1 } }).blur(sigma).toColourspace('b-w').raw().toBuffer();
  if (buf.length !== width * height) throw new Error(`blurred plane has ${buf.length} bytes, expected ${width * height}`);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Gaussian blur of an image through sharp, keeping its channel count. */
export async function blurImage(img: ImageData, sigma: number): Promise<ImageData> {
  if (sigma < 0.3) return img;
  const { data, info } = await sharpFromImage(img).blur(sigma).raw().toBuffer({ resolveWithObject: true });
  return makeImage(info.width, info.height, img.channels, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

/** Smoothstep S-curve on 0..255 with strength k (0 = identity). */
function sCurve(v: number, k: number): number {
  const t = v / 255;
  const s = t * t * (3 - 2 * t);
  return (t + (s - t) * k) * 255;
}

/** Darkening towards the corners, 1 in the centre. */
function vignette(x: number, y: number, w: number, h: number, strength: number): number {
  const dx = (x - w / 2) / (w / 2);
  const dy = (y - h / 2) / (h / 2);
  return 1 - strength * Math.min(1, (dx * dx + dy * dy) / 2) ** 1.5;
}

export function grayscale(img: ImageData): ImageData {
  return mapPixels(img, (r, g, b) => {
    const l = luma(r, g, b);
    return [l, l, l];
  });
}

/** The classic Microsoft sepia matrix. */
export function sepia(img: ImageData): ImageData {
  return mapPixels(img, (r, g, b) => [0.393 * r + 0.769 * g + 0.189 * b, 0.349 * r + 0.686 * g + 0.168 * b, 0.272 * r + 0.534 * g + 0.131 * b]);
}

/** High-contrast black and white with crushed blacks and a heavy vignette. */
export function filmNoir(img: ImageData): ImageData {
  const { width: w, height: h } = img;
  return mapPixels(img, (r, g, b, x, y) => {
    const l = sCurve(sCurve(Math.max(0, luma(r, g, b) - 12) * 1.08, 1), 0.6) * vignette(x, y, w, h, 0.65);
    return [l, l, l];
  });
}

export function negative(img: ImageData): ImageData {
  return mapPixels(img, (r, g, b) => [255 - r, 255 - g, 255 - b]);
}

/** Faded blacks, warm cast, lower saturation and a soft vignette: an old print. */
export function vintage(img: ImageData): ImageData {
  const { width: w, height: h } = img;
  return mapPixels(img, (r, g, b, x, y) => {
    const l = luma(r, g, b);
    const v = vignette(x, y, w, h, 0.35);
    const mix = (c: number) => l + (c - l) * 0.6;
    return [(30 + mix(r) * 0.85 + 12) * v, (28 + mix(g) * 0.82 + 4) * v, (22 + mix(b) * 0.7) * v];
  });
}

/** Colour dodge of luma over its blurred negative: the graphite-on-paper look, mostly white. */
export async function pencilSketch(img: ImageData): Promise<ImageData> {
  const { width: w, height: h } = img;
  // A light pre-blur keeps sensor and JPEG noise from being amplified into streaks by the dodge.
  const gray = await blurPlane(lumaPlane(img), w, h, 0.8);
  const inv = new Uint8Array(gray.length);
  for (let i = 0; i < gray.length; i++) inv[i] = 255 - gray[i]!;
  const blurred = await blurPlane(inv, w, h, Math.max(2, Math.min(w, h) / 120));
  const out = makeImage(w, h, img.channels, new Uint8Array(img.data));
  for (let p = 0, i = 0; p < gray.length; p++, i += img.channels) {
    const dodge = Math.min(255, (gray[p]! * 255) / Math.max(1, 255 - blurred[p]!));
    // A gentle gamma darkens the strokes so thin lines survive.
    const v = clamp8(255 * (dodge / 255) ** 1.4);
    out.data[i] = v;
    out.data[i + 1] = v;
    out.data[i + 2] = v;
  }
  return out;
}

/** Few flat tones per channel. */
export function posterise(img: ImageData, levels = 5): ImageData {
  const step = 255 / (levels - 1);
  return mapPixels(img, (r, g, b) => [Math.round(r / step) * step, Math.round(g / step) * step, Math.round(b / step) * step]);
}

/** Smoothed, posterised colour with dark outlines where luma edges are strong. */
export async function cartoon(img: ImageData): Promise<ImageData> {
  const { width: w, height: h } = img;
  // sharp's median refuses a window wider than the image ("rank: window too large"): an odd window that fits, or none.
  const window = Math.min(5, Math.min(w, h) % 2 ? Math.min(w, h) : Math.min(w, h) - 1);
  const source = window >= 3 ? sharpFromImage(img).median(window) : sharpFromImage(img);
  const { data, info } = await source.raw().toBuffer({ resolveWithObject: true });
  const smooth = makeImage(w, h, img.channels, new Uint8Array(data.buffer, data.byteOffset, info.size));
  const flat = posterise(mapPixels(smooth, (r, g, b) => {
    const l = luma(r, g, b);
    return [l + (r - l) * 1.35, l + (g - l) * 1.35, l + (b - l) * 1.35];
  }), 6);
  const gray = await blurPlane(lumaPlane(img), w, h, 1);
  const c = img.channels;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const p = y * w + x;
      const gx = gray[p + 1]! - gray[p - 1]!;
      const gy = gray[p + w]! - gray[p - w]!;
      if (gx * gx + gy * gy > 40 * 40) {
        const i = p * c;
        flat.data[i] = flat.data[i]! * 0.15;
        flat.data[i + 1] = flat.data[i + 1]! * 0.15;
        flat.data[i + 2] = flat.data[i + 2]! * 0.15;
      }
    }
  }
  return flat;
}

/** Golden-hour grade: warm white balance, lifted saturation, an orange-pink sky glow fading downwards. */
export function sunsetGrade(img: ImageData): ImageData {
  const { width: w, height: h, channels: c } = img;
  const out = makeImage(w, h, c, new Uint8Array(img.data));
  const d = img.data;
  for (let y = 0; y < h; y++) {
    const glow = Math.max(0, 1 - y / (h * 0.7)) * 0.22;
    // Screen-blend a warm glow so bright skies turn orange rather than clip.
    const gr = 1 - glow;
    const gg = 1 - (140 * glow) / 255;
    const gb = 1 - (60 * glow) / 255;
    for (let x = 0, i = y * w * c; x < w; x++, i += c) {
      const r = d[i]!;
      const g = d[i + 1]!;
      const b = d[i + 2]!;
      const l = luma(r, g, b);
      const rr = (l + (r - l) * 1.2) * 1.12 + 14;
      const g2 = (l + (g - l) * 1.2) * 0.97 + 2;
      const bb = (l + (b - l) * 1.2) * 0.74;
      out.data[i] = clamp8(255 - (255 - rr) * gr);
      out.data[i + 1] = clamp8(255 - (255 - g2) * gg);
      out.data[i + 2] = clamp8(255 - (255 - bb) * gb);
    }
  }
  return out;
}

/** Day-for-night: underexposed, desaturated, blue-shifted, with a vignette; highlights survive as lights. */
export function nightGrade(img: ImageData): ImageData {
  const { width: w, height: h, channels: c } = img;
  const out = makeImage(w, h, c, new Uint8Array(img.data));
  const d = img.data;
  // Exposure curve as a table: gamma 2.2 darkening of 0..255.
  const curve = new Float32Array(256);
  for (let v = 0; v < 256; v++) curve[v] = 255 * (v / 255) ** 2.2 * 0.55;
  for (let y = 0; y < h; y++) {
    for (let x = 0, i = y * w * c; x < w; x++, i += c) {
      const r = d[i]!;
      const g = d[i + 1]!;
      const b = d[i + 2]!;
      const l = luma(r, g, b);
      const v = vignette(x, y, w, h, 0.5);
      const keep = l > 225 ? (l - 225) / 30 : 0;
      const dr = curve[clamp8(l + (r - l) * 0.35)]! * v;
      const dg = (curve[clamp8(l + (g - l) * 0.35)]! + 4) * v;
      const db = (curve[clamp8(l + (b - l) * 0.35)]! + 22) * v;
      out.data[i] = clamp8(dr * (1 - keep) + r * keep);
      out.data[i + 1] = clamp8(dg * (1 - keep) + g * keep);
      out.data[i + 2] = clamp8(db * (1 - keep) + b * keep);
    }
  }
  return out;
}

/** Haze: blend towards a pale grey, stronger higher up in the frame where the scene is usually farther away. */
export async function fogGrade(img: ImageData, density = 0.55): Promise<ImageData> {
  const soft = await blurImage(img, Math.max(1, Math.min(img.width, img.height) / 300));
  const h = img.height;
  const fog = [214, 218, 222] as const;
  return mapPixels(soft, (r, g, b, _x, y) => {
    const t = Math.min(0.92, density * (0.65 + 0.55 * (1 - y / h)));
    return [r + (fog[0] - r) * t, g + (fog[1] - g) * t, b + (fog[2] - b) * t];
  });
}
