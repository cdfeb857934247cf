/**
 * Turning a detector's box (or a saliency estimate) into an object mask with GrabCut,
 * and drawing a segment for people to look at.
 */
import { rawFromSharp, sharpFromImage } from '../../src/engine/image-io.ts';
import type { ImageData, MaskData } from '../../src/engine/values.ts';
import { makeImage, makeMask } from '../../src/engine/values.ts';
import { type Box, labelComponents } from '../lib/pixels.ts';
import { bytesOf, hasGrabCutSeeds, withMats } from '../lib/cv-mats.ts';
import { fillHoles, guidedFilter } from '../lib/mask-ops.ts';
import { type CV, loadOpenCv } from '../models/opencv.ts';
import { personMatte } from '../models/human.ts';

/** GrabCut's cost grows with pixels; objects are refined at this longest side and the mask scaled back. */
const WORK_SIDE = 320;

/** Any fixed seed: what matters is that each GrabCut starts from the same one. */
export const GRABCUT_SEED = 0x5eed;

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

/** The box with the context around it that the background is learned from (15 % of its size each side). */
function contextRegion(b: Box, w: number, h: number): Box {
  const margin = 0.15;
  return clampBox({ x: b.x - b.width * margin - 4, y: b.y - b.height * margin - 4, width: b.width * (1 + 2 * margin) + 8, height: b.height * (1 + 2 * margin) + 8 }, w, h);
}

export interface RefineOptions {
  readonly iterations?: number;
  readonly signal?: AbortSignal;
  /** Optional prior inside the crop region (same size as the image): high = probably object. Replaces the rectangle initialisation. */
  readonly prior?: MaskData;
  /** Half-axes of the certain-foreground core, as fractions of the box (0 disables it). */
  readonly coreX?: number;
  readonly coreY?: number;
  /** Snap the edge to the photo's edges with a guided filter at full resolution (default on). */
  readonly edgeRefine?: boolean;
}

/** GrabCut's labels for a box inside its context region, at work resolution. */
function boxSeeds(cv: CV, w: number, h: number, rx: number, ry: number, rw: number, rh: number, opts: RefineOptions, local?: MaskData): Uint8Array {
  const g = new Uint8Array(w * h);
  // A detector's box is centred on its object: a small core is marked certain foreground, which keeps
  // GrabCut from dropping half of an object whose colours resemble the background (a grey jacket on a grey street).
  const ccx = rx + rw / 2;
  const ccy = ry + rh / 2;
  const ax = Math.max(1, rw * (opts.coreX ?? 0.1));
  const ay = Math.max(1, rh * (opts.coreY ?? 0.25));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const inside = x >= rx && x < rx + rw && y >= ry && y < ry + rh;
      if (!inside) {
        g[i] = cv.GC_BGD;
        continue;
      }
      if (local) {
        g[i] = local.data[i]! >= 128 ? cv.GC_PR_FGD : cv.GC_PR_BGD;
        continue;
      }
      const dx = (x - ccx) / ax;
      const dy = (y - ccy) / ay;
      g[i] = dx * dx + dy * dy <= 1 ? cv.GC_FGD : cv.GC_PR_FGD;
    }
  }
  return g;
}

/**
 * Object mask for a box: GrabCut on the box inside a context margin, seeded with a
 * certain-foreground core and certain background outside, five iterations;
 * then the components that belong to the object, small holes filled, and the edge
 * snapped to the photo's edges at full resolution. Returns an empty mask ("not found")
 * when GrabCut collapses (under 12 % of the box) or floods the box: a box-shaped
 * mask would edit the background around the object.
 */
export async function refineBox(img: ImageData, box: Box, opts: RefineOptions = {}): Promise<MaskData> {
  const cv = await loadOpenCv();
  const b = clampBox(box, img.width, img.height);
  const region = contextRegion(b, img.width, img.height);
  const crop = await cropRgb(img, region, WORK_SIDE);
  opts.signal?.throwIfAborted();
  const k = crop.width / region.width;
  const kh = crop.height / region.height;
  const rx = Math.max(0, Math.round((b.x - region.x) * k));
  const ry = Math.max(0, Math.round((b.y - region.y) * kh));
  const rw = Math.max(1, Math.min(crop.width - rx, Math.round(b.width * k)));
  const rh = Math.max(1, Math.min(crop.height - ry, Math.round(b.height * kh)));
  const canRun = rw >= 3 && rh >= 3 && (rw < crop.width - 1 || rh < crop.height - 1 || opts.prior !== undefined);
  if (!canRun) return makeMask(img.width, img.height);
  const local = opts.prior ? await cropMask(await resizeMask(opts.prior, img.width, img.height), region, crop.width, crop.height) : undefined;
  const seeds = boxSeeds(cv, crop.width, crop.height, rx, ry, rw, rh, opts, local);
  // GrabCut aborts (a bare number from OpenCV) without both background and foreground seeds.
  if (!hasGrabCutSeeds(cv, seeds)) return makeMask(img.width, img.height);
  const labels = withMats(cv, (s) => {
    const src = s.fromBytes(crop.data, crop.height, crop.width, 3);
    const gc = s.fromBytes(seeds, crop.height, crop.width, 1);
    // GrabCut's k-means starts from OpenCV's process-wide random state: seeded, a photo's mask is the same whatever ran before.
    cv.setRNGSeed(GRABCUT_SEED);
    cv.grabCut(src, gc, new cv.Rect(rx, ry, rw, rh), s.mat(), s.mat(), opts.iterations ?? 5, cv.GC_INIT_WITH_MASK);
    return bytesOf(gc);
  });
  opts.signal?.throwIfAborted();
  const bin = makeMask(crop.width, crop.height);
  for (let i = 0; i < bin.data.length; i++) bin.data[i] = labels[i] === cv.GC_FGD || labels[i] === cv.GC_PR_FGD ? 255 : 0;
  const kept = fillHoles(keepComponentsNear(bin, rx + rw / 2, ry + rh / 2), crop.width, crop.height);
  let area = 0;
  for (let i = 0; i < kept.length; i++) if (kept[i]) area++;
  if (area <= 0.12 * rw * rh || area >= 0.98 * rw * rh) return makeMask(img.width, img.height);
  bin.data.set(kept);
  return opts.edgeRefine === false ? placeMask(bin, region, img.width, img.height) : placeRefined(img, bin, region);
}

/**
 * A person's mask from the person segmenter, where it is installed: the matte of the box with
 * the same context margin as GrabCut's, the person's components, small holes filled, the edge
 * snapped to the photo's. Undefined where the segmenter is not installed or sees no person in the box
 * (the caller falls back to GrabCut).
 */
export async function refinePerson(img: ImageData, box: Box, signal?: AbortSignal): Promise<MaskData | undefined> {
  const b = clampBox(box, img.width, img.height);
  const region = contextRegion(b, img.width, img.height);
  const crop = await cropRgb(img, region, WORK_SIDE);
  const matte = await personMatte(crop);
  signal?.throwIfAborted();
  if (!matte) return undefined;
  const local = await resizeMask(makeMask(matte.width, matte.height, matte.data), crop.width, crop.height);
  const bin = makeMask(crop.width, crop.height);
  for (let i = 0; i < bin.data.length; i++) bin.data[i] = local.data[i]! >= 128 ? 255 : 0;
  const k = crop.width / region.width;
  const cx = (b.x + b.width / 2 - region.x) * k;
  const cy = (b.y + b.height / 2 - region.y) * k;
  const kept = fillHoles(keepComponentsNear(bin, cx, cy), crop.width, crop.height);
  let area = 0;
  for (let i = 0; i < kept.length; i++) if (kept[i]) area++;
  if (area <= 0.12 * b.width * b.height * k * k) return undefined;
  bin.data.set(kept);
  return placeRefined(img, bin, region);
}

/**
 * Puts a work-resolution region mask back at full resolution with its edge snapped
 * to the photo's: a guided filter (grey guide) over the bilinearly enlarged mask,
 * with a window about twice the enlargement factor so that it can move the edge
 * by the error the coarse work resolution left.
 */
async function placeRefined(img: ImageData, local: MaskData, region: Box): Promise<MaskData> {
  const { width: W, height: H } = img;
  const scaled = await resizeMask(local, region.width, region.height);
  const n = region.width * region.height;
  const guide = new Float32Array(n);
  const p = new Float32Array(n);
  const c = img.channels;
  for (let y = 0; y < region.height; y++) {
    for (let x = 0; x < region.width; x++) {
      const q = y * region.width + x;
      const i = ((region.y + y) * W + region.x + x) * c;
      guide[q] = (0.299 * img.data[i]! + 0.587 * img.data[i + 1]! + 0.114 * img.data[i + 2]!) / 255;
      p[q] = scaled.data[q]! / 255;
    }
  }
  const up = region.width / local.width;
  const r = Math.max(2, Math.round(2 * up));
  const alpha = guidedFilter(guide, p, region.width, region.height, r, 1e-3);
  const full = makeMask(W, H);
  for (let y = 0; y < region.height; y++) {
    for (let x = 0; x < region.width; x++) {
      const a = alpha[y * region.width + x]!;
      // A steep ramp around one half: firm where the photo's edge is sharp, soft over hair and fur.
      full.data[(region.y + y) * W + region.x + x] = a <= 0.3 ? 0 : a >= 0.7 ? 255 : Math.round(((a - 0.3) / 0.4) * 255);
    }
  }
  return full;
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
