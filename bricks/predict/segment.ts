/**
 * Turning a detector's box (or a saliency estimate) into an object mask with GrabCut,
 * and drawing a segment for people to look at.
 */
import { rawFromSharp, sharpFromImage } from '../../src/engine/image-io.ts';
import type { ImageData, MaskData } from '../../src/engine/values.ts';
import { makeImage, makeMask } from '../../src/engine/values.ts';
import { type Box, labelComponents } from '../lib/pixels.ts';
import { loadOpenCv } from '../models/opencv.ts';

/** GrabCut's cost grows with pixels; objects are refined at this longest side and the mask scaled back. */
const WORK_SIDE = 320;

/** RGB bytes of a crop, resized so its longest side is at most `side`. */
async function cropRgb(img: ImageData, box: Box, side: number): Promise<ImageData> {
  const left = Math.max(0, Math.floor(box.x));
  const top = Math.max(0, Math.floor(box.y));
  const width = Math.max(1, Math.min(img.width - left, Math.ceil(box.width)));
  const height = Math.max(1, Math.min(img.height - top, Math.ceil(box.height)));
  const s = Math.min(1, side / Math.max(width, height));
  return rawFromSharp(
    sharpFromImage(img)
      .extract({ left, top, width, height })
      .removeAlpha()
      .resize(Math.max(1, Math.round(width * s)), Math.max(1, Math.round(height * s)), { fit: 'fill' }),
  );
}

function clampBox(b: Box, w: number, h: number): Box {
  const x0 = Math.max(0, Math.floor(b.x));
  const y0 = Math.max(0, Math.floor(b.y));
  const x1 = Math.min(w, Math.ceil(b.x + b.width));
  const y1 = Math.min(h, Math.ceil(b.y + b.height));
  return { x: x0, y: y0, width: Math.max(1, x1 - x0), height: Math.max(1, y1 - y0) };
}

export interface RefineOptions {
  readonly iterations?: number;
  readonly signal?: AbortSignal;
  /** Optional prior inside the crop region (same size as the image): high = probably object. Replaces the rectangle initialisation. */
  readonly prior?: MaskData;
  /** Half-axes of the certain-foreground core, as fractions of the box (0 disables it). */
  readonly coreX?: number;
  readonly coreY?: number;
}

/**
 * Object mask for a box: GrabCut initialised with the box inside a context margin,
 * keeping the component that overlaps the box centre. Falls back to an ellipse
 * inscribed in the box when GrabCut collapses (under 12% of the box) or floods it.
 */
export async function refineBox(img: ImageData, box: Box, opts: RefineOptions = {}): Promise<MaskData> {
  const cv = await loadOpenCv();
  const b = clampBox(box, img.width, img.height);
  const margin = 0.15;
  const region = clampBox(
    { x: b.x - b.width * margin - 4, y: b.y - b.height * margin - 4, width: b.width * (1 + 2 * margin) + 8, height: b.height * (1 + 2 * margin) + 8 },
    img.width,
    img.height,
  );
  const crop = await cropRgb(img, region, WORK_SIDE);
  opts.signal?.throwIfAborted();
  const k = crop.width / region.width;
  const kh = crop.height / region.height;
  const rx = Math.max(0, Math.round((b.x - region.x) * k));
  const ry = Math.max(0, Math.round((b.y - region.y) * kh));
  const rw = Math.max(1, Math.min(crop.width - rx, Math.round(b.width * k)));
  const rh = Math.max(1, Math.min(crop.height - ry, Math.round(b.height * kh)));

  const src = new cv.Mat(crop.height, crop.width, cv.CV_8UC3);
  src.data.set(crop.data);
  const gcMask = new cv.Mat(crop.height, crop.width, cv.CV_8UC1, new cv.Scalar(cv.GC_BGD));
  const bgd = new cv.Mat();
  const fgd = new cv.Mat();
  const out = makeMask(crop.width, crop.height);
  let ok = false;
  try {
    const local = opts.prior ? await cropMask(await resizeMask(opts.prior, img.width, img.height), region, crop.width, crop.height) : undefined;
    // A detector's box is centred on its object: a small core is marked certain foreground, which keeps
    // GrabCut from dropping half of an object whose colours resemble the background (a grey jacket on a grey street).
    const ccx = rx + rw / 2;
    const ccy = ry + rh / 2;
    const ax = Math.max(1, rw * (opts.coreX ?? 0.1));
    const ay = Math.max(1, rh * (opts.coreY ?? 0.25));
    for (let y = 0; y < crop.height; y++) {
      for (let x = 0; x < crop.width; x++) {
        const i = y * crop.width + x;
        const inside = x >= rx && x < rx + rw && y >= ry && y < ry + rh;
        const dx = (x - ccx) / ax;
        const dy = (y - ccy) / ay;
        let v: number = inside ? cv.GC_PR_FGD : cv.GC_BGD;
        if (inside && local) v = local.data[i]! >= 128 ? cv.GC_PR_FGD : cv.GC_PR_BGD;
        if (inside && !local && dx * dx + dy * dy <= 1) v = cv.GC_FGD;
        gcMask.data[i] = v;
      }
    }
    const mode = cv.GC_INIT_WITH_MASK;
    const rect = new cv.Rect(rx, ry, rw, rh);
    const canRun = rw >= 3 && rh >= 3 && (rw < crop.width - 1 || rh < crop.height - 1 || local !== undefined);
    if (canRun) {
      cv.grabCut(src, gcMask, rect, bgd, fgd, opts.iterations ?? 4, mode);
      opts.signal?.throwIfAborted();
      for (let i = 0; i < out.data.length; i++) {
        const v = gcMask.data[i];
        out.data[i] = v === cv.GC_FGD || v === cv.GC_PR_FGD ? 255 : 0;
      }
      const kept = keepComponentsNear(out, rx + rw / 2, ry + rh / 2);
      const area = kept.reduce((n, v) => n + (v ? 1 : 0), 0);
      const boxArea = rw * rh;
      ok = area > 0.12 * boxArea && area < 0.98 * boxArea;
      if (ok) out.data.set(kept);
    }
  } finally {
    src.delete();
    gcMask.delete();
    bgd.delete();
    fgd.delete();
  }
  if (!ok) ellipseInto(out, rx, ry, rw, rh);
  return placeMask(out, region, img.width, img.height);
}

/**
 * A mask at another size. (sharp turns one-channel raw input into sRGB when resizing,
 * so the colourspace is pinned back to one band.)
 */
export async function resizeMask(m: MaskData, width: number, height: number): Promise<MaskData> {
  if (m.width === width && m.height === height) return m;
  const { data, info } = await sharpFromImage(m).resize(width, height, { fit: 'fill' }).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 1) throw new Error(`resized mask has ${info.channels} channels`);
  return makeMask(width, height, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

async function cropMask(m: MaskData, region: Box, w: number, h: number): Promise<MaskData> {
  const { data, info } = await sharpFromImage(m)
    .extract({ left: region.x, top: region.y, width: region.width, height: region.height })
    .resize(w, h, { fit: 'fill' })
    .toColourspace('b-w')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 1) throw new Error('mask crop lost its single channel');
  return makeMask(w, h, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

function ellipseInto(m: MaskData, x: number, y: number, w: number, h: number): void {
  m.data.fill(0);
  const cx = x + w / 2;
  const cy = y + h / 2;
  for (let yy = y; yy < y + h; yy++) {
    for (let xx = x; xx < x + w; xx++) {
      const dx = (xx + 0.5 - cx) / (w / 2);
      const dy = (yy + 0.5 - cy) / (h / 2);
      if (dx * dx + dy * dy <= 1) m.data[yy * m.width + xx] = 255;
    }
  }
}

/**
 * Connected components (4-neighbour) of a binary mask; keeps the largest one and
 * any other of at least a quarter of its size (a person's detached arm, a sheep's legs),
 * preferring the one under (cx, cy) as the anchor.
 */
export function keepComponentsNear(m: MaskData, cx: number, cy: number): Uint8Array {
  const { width: w, height: h, data } = m;
  const { labels, sizes } = labelComponents(w, h, (p) => data[p]! !== 0);
  const out = new Uint8Array(w * h);
  if (sizes.length === 1) return out;
  let largest = 1;
  for (let i = 2; i < sizes.length; i++) if (sizes[i]! > sizes[largest]!) largest = i;
  const centre = labels[Math.min(h - 1, Math.max(0, Math.round(cy))) * w + Math.min(w - 1, Math.max(0, Math.round(cx)))]!;
  const anchor = centre && sizes[centre]! * 3 >= sizes[largest]! ? centre : largest;
  const min = sizes[anchor]! / 4;
  for (let i = 0; i < out.length; i++) {
    const l = labels[i]!;
    if (l && (l === anchor || sizes[l]! >= min)) out[i] = 255;
  }
  return out;
}

/** Puts a work-resolution region mask back into a full-size mask (bilinear, then a firm edge with a 1-pixel ramp). */
async function placeMask(local: MaskData, region: Box, w: number, h: number): Promise<MaskData> {
  const scaled = await resizeMask(local, region.width, region.height);
  const full = makeMask(w, h);
  for (let y = 0; y < region.height; y++) {
    const src = y * region.width;
    const dst = (region.y + y) * w + region.x;
    for (let x = 0; x < region.width; x++) {
      const v = scaled.data[src + x]!;
      // Upscaling blurs the edge over several pixels; keep only a narrow soft band.
      full.data[dst + x] = v < 96 ? 0 : v > 160 ? 255 : Math.round(((v - 96) / 64) * 255);
    }
  }
  return full;
}

/** The segment over a grey/white checkerboard, as image editors show transparency. */
export function checkerboardView(img: ImageData, mask: MaskData): ImageData {
  const { width: w, height: h, channels: c, data } = img;
  const out = makeImage(w, h, 3);
  const cell = Math.max(8, Math.round(Math.max(w, h) / 64));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      const a = mask.data[p]!;
      const bg = ((Math.floor(x / cell) + Math.floor(y / cell)) & 1) === 0 ? 255 : 204;
      const i = p * c;
      const o = p * 3;
      for (let k = 0; k < 3; k++) out.data[o + k] = Math.round((data[i + k]! * a + bg * (255 - a)) / 255);
    }
  }
  return out;
}
