/**
 * Removal fills shared by FASTINPAINT and FLUX-INPAINT: OpenCV Telea on a crop
 * around the mask, and a score of how believable such a diffusion fill is.
 *
 * Diffusion fills are smooth, so they look right on flat surroundings and thin
 * regions and wrong where the surroundings are textured or the hole is wide;
 * the score measures exactly those two things.
 */
import type { ImageData, MaskData } from '../../src/engine/values.ts';
import { makeImage, makeMask } from '../../src/engine/values.ts';
import type { LoadedModel } from '../models/onnx-models.ts';
import { runInpaintModel } from '../models/onnx-run.ts';
import { loadOpenCv, type CV } from '../models/opencv.ts';
import { bytesOf, disc, withMats, type MatScope } from './cv-mats.ts';
import { depthOf, exemplarFill } from './patch-fill.ts';
import { fitImage, fitMask, maskBounds, type Box } from './pixels.ts';

/** Largest crop side Telea works on; larger regions are filled at reduced resolution (a diffusion fill has no detail to lose). */
export const MAX_WORK_SIDE = 480;

/** Copies a box of an image as packed RGB. */
export function cropRgb(img: ImageData, box: Box): Uint8Array {
  const out = new Uint8Array(box.width * box.height * 3);
  const c = img.channels;
  for (let y = 0; y < box.height; y++) {
    let i = ((box.y + y) * img.width + box.x) * c;
    let o = y * box.width * 3;
    for (let x = 0; x < box.width; x++, i += c, o += 3) {
      out[o] = img.data[i]!;
      out[o + 1] = img.data[i + 1]!;
      out[o + 2] = img.data[i + 2]!;
    }
  }
  return out;
}

/** Copies a box of a mask as 0/255 at the given threshold. */
export function cropBinary(mask: MaskData, box: Box, threshold: number): Uint8Array {
  const out = new Uint8Array(box.width * box.height);
  for (let y = 0; y < box.height; y++) {
    const row = (box.y + y) * mask.width + box.x;
    for (let x = 0; x < box.width; x++) out[y * box.width + x] = mask.data[row + x]! > threshold ? 255 : 0;
  }
  return out;
}

export function growBox(box: Box, margin: number, width: number, height: number): Box {
  const x = Math.max(0, box.x - margin);
  const y = Math.max(0, box.y - margin);
  return { x, y, width: Math.min(width, box.x + box.width + margin) - x, height: Math.min(height, box.y + box.height + margin) - y };
}

/**
 * How far a removal mask is dilated: enough to cover the anti-aliased rim and
 * JPEG ringing around the object, which otherwise survive as a ghost outline.
 */
export function holeGrowth(width: number, height: number): number {
  return Math.max(3, Math.round(Math.min(width, height) * 0.006));
}

export interface FillResult {
  readonly image: ImageData;
  /** 0 (poor) … 1 (seamless). */
  readonly score: number;
  /** The pixels that were replaced (the input mask, binarised and slightly dilated). */
  readonly filled: MaskData;
  readonly box: Box;
}

export interface FillOptions {
  readonly signal?: AbortSignal;
  readonly method?: 'telea' | 'ns';
  /** Telea's neighbourhood radius at working resolution. */
  readonly radius?: number;
  /** Extra dilation (pixels at full resolution) on top of the default, for JPEG halos and soft edges. */
  readonly grow?: number;
}

/** Telea (or Navier-Stokes) inpainting of the masked region, and its score. */
export async function diffusionFill(image: ImageData, mask: MaskData, opts: FillOptions = {}): Promise<FillResult> {
  const { width: W, height: H } = image;
  const m = await fitMask(mask, W, H);
  const core = maskBounds(m, 32);
  // Defence for direct calls and emptyMask: 'warn' runs; by default the Executor stops before an edit brick gets an empty mask.
  if (!core) return { image, score: 1, filled: makeMask(W, H), box: { x: 0, y: 0, width: 0, height: 0 } };
  const cv = await loadOpenCv();
  opts.signal?.throwIfAborted();
  const grow = holeGrowth(W, H) + (opts.grow ?? 0);
  const ring = Math.max(4, Math.min(32, Math.round(Math.max(core.width, core.height) * 0.12)));
  const box = growBox(core, grow + ring + 8, W, H);
  const scale = Math.min(1, MAX_WORK_SIDE / Math.max(box.width, box.height));
  const ww = Math.max(1, Math.round(box.width * scale));
  const wh = Math.max(1, Math.round(box.height * scale));
  const radius = opts.radius ?? 5;

  return withMats(cv, (s) => {
    const srcFull = s.fromBytes(cropRgb(image, box), box.height, box.width, 3);
    const maskFull = s.fromBytes(cropBinary(m, box, 32), box.height, box.width, 1);
    cv.dilate(maskFull, maskFull, disc(cv, s, grow));
    let src = srcFull;
    let msk = maskFull;
    if (scale < 1) {
      src = s.mat();
      msk = s.mat();
      cv.resize(srcFull, src, new cv.Size(ww, wh), 0, 0, cv.INTER_AREA);
      cv.resize(maskFull, msk, new cv.Size(ww, wh), 0, 0, cv.INTER_AREA);
      cv.threshold(msk, msk, 0, 255, cv.THRESH_BINARY);
    }
    const dst = s.mat();
    cv.inpaint(src, msk, dst, radius, opts.method === 'ns' ? cv.INPAINT_NS : cv.INPAINT_TELEA);
    opts.signal?.throwIfAborted();
    const score = fillScore(cv, s, bytesOf(src), bytesOf(dst), bytesOf(msk), ww, wh, scale, Math.max(3, Math.round(ring * scale)));
    let filledCrop = dst;
    if (scale < 1) {
      filledCrop = s.mat();
      cv.resize(dst, filledCrop, new cv.Size(box.width, box.height), 0, 0, cv.INTER_CUBIC);
    }
    const fill = bytesOf(filledCrop);
    const fm = bytesOf(maskFull);
    const out = makeImage(W, H, image.channels, new Uint8Array(image.data));
    const filled = makeMask(W, H);
    const c = image.channels;
    for (let y = 0; y < box.height; y++) {
      for (let x = 0; x < box.width; x++) {
        const q = y * box.width + x;
        if (!fm[q]) continue;
        const p = (box.y + y) * W + box.x + x;
        filled.data[p] = 255;
        out.data[p * c] = fill[q * 3]!;
        out.data[p * c + 1] = fill[q * 3 + 1]!;
        out.data[p * c + 2] = fill[q * 3 + 2]!;
      }
    }
    return { image: out, score, filled, box };
  });
}

/**
 * Texture match between the fill and a ring of surroundings, times a penalty
 * for wide holes (the distance from the hole's deepest point to its edge, at
 * full resolution): diffusion is exact for scratches and blurry for cars.
 */
function fillScore(
  cv: CV,
  s: MatScope,
  src: Uint8Array,
  dst: Uint8Array,
  msk: Uint8Array,
  w: number,
  h: number,
  scale: number,
  ring: number,
): number {
  const inside = s.fromBytes(msk, h, w, 1);
  const outside = s.mat();
  cv.bitwise_not(inside, outside);
  const dIn = s.mat();
  const dOut = s.mat();
  cv.distanceTransform(inside, dIn, cv.DIST_L2, 3);
  cv.distanceTransform(outside, dOut, cv.DIST_L2, 3);
  const din = dIn.data32F;
  const dout = dOut.data32F;
  // Luma planes made once: a closure made per pixel costs more than the score itself under tsx (each gets a name defined on it).
  const lumaOf = (rgb: Uint8Array): Float32Array => {
    const out = new Float32Array(w * h);
    for (let q = 0; q < w * h; q++) out[q] = 0.299 * rgb[q * 3]! + 0.587 * rgb[q * 3 + 1]! + 0.114 * rgb[q * 3 + 2]!;
    return out;
  };
  const lSrc = lumaOf(src);
  const lDst = lumaOf(dst);
  const grad = (l: Float32Array, p: number): number => Math.abs(l[p + 1]! - l[p - 1]!) + Math.abs(l[p + w]! - l[p - w]!);
  let gFill = 0;
  let nFill = 0;
  let gRing = 0;
  let nRing = 0;
  let deepest = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const p = y * w + x;
      const a = din[p]!;
      if (a > deepest) deepest = a;
      if (a >= 2) {
        gFill += grad(lDst, p);
        nFill++;
      } else if (msk[p] === 0 && dout[p]! >= 2 && dout[p]! <= ring) {
        gRing += grad(lSrc, p);
        nRing++;
      }
    }
  }
  const fillTex = nFill ? gFill / nFill : 0;
  const ringTex = nRing ? gRing / nRing : fillTex;
  const texture = nFill ? (Math.min(fillTex, ringTex) + 1) / (Math.max(fillTex, ringTex) + 1) : 1;
  const halfWidth = deepest / scale;
  const thin = 1 / (1 + (halfWidth / 20) ** 1.5);
  // Missing texture is invisible in a scratch and glaring in a car-sized hole.
  const texturePenalty = (1 - texture) * Math.min(1, halfWidth / 15);
  const score = thin ** 0.5 * (1 - 0.6 * texturePenalty);
  return Math.round(Math.max(0, Math.min(1, score)) * 1000) / 1000;
}

/** Hole pixels the exemplar search handles at full resolution; beyond this it works on a downscaled crop. */
export const MAX_PATCH_TARGETS = 30_000;

export interface RefineOptions {
  readonly signal?: AbortSignal;
  /** FASTINPAINT's score, reported with the result (the blend no longer depends on it). */
  readonly score?: number;
  /** How thin strokes are filled: by diffusion (the default, see diffuseThinParts), or like the rest, for comparison. */
  readonly thinStrokes?: 'diffusion' | 'exemplar';
}

/**
 * FLUX-INPAINT's CPU pass: multi-scale exemplar (PatchMatch) synthesis over the
 * same dilated hole FASTINPAINT filled, its pre-fill guiding the coarsest level
 * only; then, at full resolution, the vote average and the copied pixels mixed to
 * the detail of the surroundings, Poisson-blended into the picture (the seam
 * membrane), thin strokes refilled by diffusion, and the result feathered over the
 * outermost pixels. The fill replaces the pre-fill outright.
 */
export async function exemplarRefine(image: ImageData, mask: MaskData, preimage: ImageData, opts: RefineOptions = {}): Promise<FillResult> {
  const { width: W, height: H } = image;
  const m = await fitMask(mask, W, H);
  const core = maskBounds(m, 32);
  // Defence for direct calls and emptyMask: 'warn' runs; by default the Executor stops before an edit brick gets an empty mask.
  if (!core) return { image, score: 1, filled: makeMask(W, H), box: { x: 0, y: 0, width: 0, height: 0 } };
  const cv = await loadOpenCv();
  const grow = holeGrowth(W, H);
  const box = growBox(core, grow + Math.max(16, Math.round(0.6 * Math.max(core.width, core.height))), W, H);
  const pre = preimage.width === W && preimage.height === H ? preimage : await fitImage(preimage, W, H, image.channels);
  opts.signal?.throwIfAborted();

  const { hole: holeFull, depth: featherFull } = dilatedHole(cv, m, box, grow);
  let guess = cropRgb(pre, box);
  const orig = cropRgb(image, box);
  // A pre-fill that still shows the object would guide the search back to it: start from a diffusion fill instead.
  let diff = 0;
  let count = 0;
  for (let q = 0; q < holeFull.length; q++) {
    if (!holeFull[q]) continue;
    count++;
    for (let k = 0; k < 3; k++) diff += Math.abs(guess[q * 3 + k]! - orig[q * 3 + k]!);
  }
  let score = opts.score;
  if (count === 0 || diff / (count * 3) < 2) {
    const fast = await diffusionFill(image, mask, { signal: opts.signal });
    guess = cropRgb(fast.image, box);
    score ??= fast.score;
  }
  score ??= 0.5;

  const scale = Math.min(1, Math.sqrt(MAX_PATCH_TARGETS / Math.max(1, count)));
  const ww = Math.max(8, Math.round(box.width * scale));
  const wh = Math.max(8, Math.round(box.height * scale));
  const [workRgb, workGuess, workHole] =
    scale === 1
      ? [orig, guess, holeFull]
      : withMats(cv, (s) => {
          const size = new cv.Size(ww, wh);
          const [a, b, c] = [s.mat(), s.mat(), s.mat()];
          cv.resize(s.fromBytes(orig, box.height, box.width, 3), a, size, 0, 0, cv.INTER_AREA);
          cv.resize(s.fromBytes(guess, box.height, box.width, 3), b, size, 0, 0, cv.INTER_AREA);
          cv.resize(s.fromBytes(holeFull, box.height, box.width, 1), c, size, 0, 0, cv.INTER_AREA);
          cv.threshold(c, c, 0, 255, cv.THRESH_BINARY);
          return [bytesOf(a), bytesOf(b), bytesOf(c)];
        });
  const fill = exemplarFill(workRgb, workGuess, workHole, ww, wh, { signal: opts.signal });
  let { sharp, smooth, seam } = fill;
  if (scale < 1) {
    [sharp, smooth] = withMats(cv, (s) => {
      const size = new cv.Size(box.width, box.height);
      const [a, b] = [s.mat(), s.mat()];
      cv.resize(s.fromBytes(fill.sharp, wh, ww, 3), a, size, 0, 0, cv.INTER_CUBIC);
      cv.resize(s.fromBytes(fill.smooth, wh, ww, 3), b, size, 0, 0, cv.INTER_CUBIC);
      return [bytesOf(a), bytesOf(b)];
    });
    sharp = copyAlongField(orig, sharp, holeFull, box.width, box.height, fill.field, ww, wh);
    seam = enlarge(seam, ww, wh, box.width, box.height);
  }
  const refined = matchTexture(orig, sharp, smooth, seam, holeFull, box.width, box.height);
  if (opts.thinStrokes !== 'exemplar') diffuseThinParts(cv, refined, holeFull, box.width, box.height, thinStrokeRadius(grow));

  // The exemplar fill replaces the diffusion fill outright: blending the two would average the texture away.
  const { image: out, filled } = pasteHole(image, box, refined, holeFull, featherFull, Math.min(3, grow));
  return { image: out, score, filled, box };
}

/**
 * A fill found at reduced resolution, brought back to full resolution with full-resolution
 * detail: each hole pixel copies the known pixel its coarse match points at (the match's
 * displacement scaled up), so texture is copied, not enlarged and blurred. Pixels whose
 * displaced source is unknown or off the crop keep the enlarged fill.
 */
function copyAlongField(orig: Uint8Array, enlarged: Uint8Array, hole: Uint8Array, w: number, h: number, field: Int32Array, cw: number, ch: number): Uint8Array {
  const out = new Uint8Array(enlarged);
  const kx = cw / w;
  const ky = ch / h;
  for (let y = 0; y < h; y++) {
    const yc = Math.min(ch - 1, Math.floor(y * ky));
    for (let x = 0; x < w; x++) {
      const q = y * w + x;
      if (!hole[q]) continue;
      const xc = Math.min(cw - 1, Math.floor(x * kx));
      const m = field[yc * cw + xc]!;
      if (m < 0) continue;
      const mx = m % cw;
      const my = (m - mx) / cw;
      const sx = x + Math.round((mx - xc) / kx);
      const sy = y + Math.round((my - yc) / ky);
      if (sx < 0 || sy < 0 || sx >= w || sy >= h || hole[sy * w + sx]) continue;
      const r = (sy * w + sx) * 3;
      out[q * 3] = orig[r]!;
      out[q * 3 + 1] = orig[r + 1]!;
      out[q * 3 + 2] = orig[r + 2]!;
    }
  }
  return out;
}

/** Bilinear enlargement of a smooth per-pixel RGB float field (the seam membrane) from cw×ch to w×h. */
function enlarge(field: Float32Array, cw: number, ch: number, w: number, h: number): Float32Array {
  const out = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const fy = Math.max(0, Math.min(ch - 1, ((y + 0.5) * ch) / h - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(ch - 1, y0 + 1);
    const ay = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = Math.max(0, Math.min(cw - 1, ((x + 0.5) * cw) / w - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(cw - 1, x0 + 1);
      const ax = fx - x0;
      for (let k = 0; k < 3; k++) {
        const top = field[(y0 * cw + x0) * 3 + k]! * (1 - ax) + field[(y0 * cw + x1) * 3 + k]! * ax;
        const bottom = field[(y1 * cw + x0) * 3 + k]! * (1 - ax) + field[(y1 * cw + x1) * 3 + k]! * ax;
        out[(y * w + x) * 3 + k] = top * (1 - ay) + bottom * ay;
      }
    }
  }
  return out;
}

/**
 * Mean absolute 4-neighbour Laplacian of the luma of packed RGB over the pixels where
 * `region` is set (image border skipped): how much fine detail a region carries.
 */
export function lumaDetail(rgb: ArrayLike<number>, w: number, h: number, region: Uint8Array): number {
  const l = new Float32Array(w * h);
  for (let p = 0; p < w * h; p++) l[p] = 0.299 * rgb[p * 3]! + 0.587 * rgb[p * 3 + 1]! + 0.114 * rgb[p * 3 + 2]!;
  let sum = 0;
  let n = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const p = y * w + x;
      if (!region[p]) continue;
      sum += Math.abs(4 * l[p]! - l[p - 1]! - l[p + 1]! - l[p - w]! - l[p + w]!);
      n++;
    }
  }
  return n ? sum / n : 0;
}

/**
 * The fill between the vote average (`smooth`: closest on average, soft where the
 * votes disagree) and the best matches' own pixels (`sharp`: crisp), with the seam
 * offset added: as far towards sharp as it takes for the fill to carry as much
 * fine detail (luma Laplacian energy) as the known ring around the hole, and no
 * further. Detail beyond the surroundings' is copied noise that costs fidelity;
 * less is the smooth blob a removal must not leave.
 */
function matchTexture(orig: Uint8Array, sharp: Uint8Array, smooth: Uint8Array, seam: Float32Array, hole: Uint8Array, w: number, h: number): Uint8Array {
  const depth = depthOf(hole, w, h);
  const known = new Uint8Array(w * h);
  for (let p = 0; p < w * h; p++) known[p] = hole[p] ? 0 : 1;
  const outside = depthOf(known, w, h);
  let deepest = 0;
  for (let p = 0; p < w * h; p++) deepest = Math.max(deepest, depth[p]!);
  const band = Math.max(8, deepest);
  const ringRegion = new Uint8Array(w * h);
  for (let p = 0; p < w * h; p++) ringRegion[p] = !hole[p] && outside[p]! <= band ? 1 : 0;
  const ring = lumaDetail(orig, w, h, ringRegion);
  // The Laplacian is linear, so the detail of smooth + α(sharp − smooth) + seam is mean |base + α·swing| over the hole.
  const lumaBase = new Float32Array(w * h);
  const lumaSwing = new Float32Array(w * h);
  for (let p = 0; p < w * h; p++) {
    const q = p * 3;
    if (hole[p]) {
      lumaBase[p] = 0.299 * (smooth[q]! + seam[q]!) + 0.587 * (smooth[q + 1]! + seam[q + 1]!) + 0.114 * (smooth[q + 2]! + seam[q + 2]!);
      lumaSwing[p] = 0.299 * (sharp[q]! - smooth[q]!) + 0.587 * (sharp[q + 1]! - smooth[q + 1]!) + 0.114 * (sharp[q + 2]! - smooth[q + 2]!);
    } else {
      lumaBase[p] = 0.299 * orig[q]! + 0.587 * orig[q + 1]! + 0.114 * orig[q + 2]!;
    }
  }
  const base: number[] = [];
  const swing: number[] = [];
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const p = y * w + x;
      if (!hole[p]) continue;
      base.push(4 * lumaBase[p]! - lumaBase[p - 1]! - lumaBase[p + 1]! - lumaBase[p - w]! - lumaBase[p + w]!);
      swing.push(4 * lumaSwing[p]! - lumaSwing[p - 1]! - lumaSwing[p + 1]! - lumaSwing[p - w]! - lumaSwing[p + w]!);
    }
  }
  const detail = (alpha: number): number => {
    let sum = 0;
    for (let i = 0; i < base.length; i++) sum += Math.abs(base[i]! + alpha * swing[i]!);
    return base.length ? sum / base.length : 0;
  };
  let alpha = 1;
  let gap = Math.abs(detail(1) - ring);
  for (let a = 0; a < 1; a += 0.05) {
    const g = Math.abs(detail(a) - ring);
    if (g < gap) {
      gap = g;
      alpha = a;
    }
  }
  const out = new Uint8Array(orig);
  for (let p = 0; p < w * h; p++) {
    if (!hole[p]) continue;
    for (let k = 0; k < 3; k++) {
      const q = p * 3 + k;
      out[q] = Math.max(0, Math.min(255, Math.round(smooth[q]! + alpha * (sharp[q]! - smooth[q]!) + seam[q]!)));
    }
  }
  return out;
}

/**
 * The parts of `hole` no disc of `radius` fits in (the hole less its morphological
 * opening): thin strokes such as a kite's lines, and a blob's narrow spurs.
 */
export function thinParts(cv: CV, hole: Uint8Array, w: number, h: number, radius: number): Uint8Array {
  return withMats(cv, (s) => {
    const opened = s.mat();
    cv.morphologyEx(s.fromBytes(hole, h, w, 1), opened, cv.MORPH_OPEN, disc(cv, s, radius));
    const o = bytesOf(opened);
    const thin = new Uint8Array(w * h);
    for (let p = 0; p < w * h; p++) thin[p] = hole[p] && !o[p] ? 255 : 0;
    return thin;
  });
}

/**
 * Refills the thin parts of the hole (see thinParts) in `rgb` by Telea diffusion from
 * everything around them, the exemplar fill of the wide parts included. A strip
 * a few pixels wide is spanned by diffusion from both sides almost exactly, while a
 * 7×7 patch there is mostly known pixels and copies a seam: on the removal bench's
 * kite lines Telea is 1.5–4.5 dB closer to the truth inside such strips. The radius
 * (thinStrokeRadius) is twice the hole's growth: an object about as thin as the rim
 * grown around it.
 */
export function thinStrokeRadius(grow: number): number {
  return 2 * grow;
}

function diffuseThinParts(cv: CV, rgb: Uint8Array, hole: Uint8Array, w: number, h: number, radius: number): void {
  const thin = thinParts(cv, hole, w, h, radius);
  if (thin.indexOf(255) < 0) return;
  const filled = withMats(cv, (s) => {
    const dst = s.mat();
    cv.inpaint(s.fromBytes(rgb, h, w, 3), s.fromBytes(thin, h, w, 1), dst, 5, cv.INPAINT_TELEA);
    return bytesOf(dst);
  });
  for (let p = 0; p < w * h; p++) {
    if (!thin[p]) continue;
    rgb[p * 3] = filled[p * 3]!;
    rgb[p * 3 + 1] = filled[p * 3 + 1]!;
    rgb[p * 3 + 2] = filled[p * 3 + 2]!;
  }
}

/** The mask binarised and dilated by `grow` inside `box`, with each hole pixel's distance to the hole's edge. */
export function dilatedHole(cv: CV, m: MaskData, box: Box, grow: number): { hole: Uint8Array; depth: Float32Array } {
  return withMats(cv, (s) => {
    const h = s.fromBytes(cropBinary(m, box, 32), box.height, box.width, 1);
    cv.dilate(h, h, disc(cv, s, grow));
    const d = s.mat();
    cv.distanceTransform(h, d, cv.DIST_L2, 3);
    return { hole: bytesOf(h), depth: new Float32Array(d.data32F) };
  });
}

/** Pastes packed-RGB crop pixels into a copy of `image` inside the hole, feathered over its outermost `feather` pixels. */
export function pasteHole(image: ImageData, box: Box, rgb: Uint8Array, hole: Uint8Array, depth: Float32Array, feather: number): { image: ImageData; filled: MaskData } {
  const { width: W, height: H } = image;
  const out = makeImage(W, H, image.channels, new Uint8Array(image.data));
  const filled = makeMask(W, H);
  const c = image.channels;
  for (let y = 0; y < box.height; y++) {
    for (let x = 0; x < box.width; x++) {
      const q = y * box.width + x;
      if (!hole[q]) continue;
      const p = (box.y + y) * W + box.x + x;
      const edge = Math.min(1, depth[q]! / Math.max(1, feather));
      filled.data[p] = Math.round(255 * edge);
      for (let k = 0; k < 3; k++) out.data[p * c + k] = Math.round(rgb[q * 3 + k]! * edge + image.data[p * c + k]! * (1 - edge));
    }
  }
  return { image: out, filled };
}

/** Fills the dilated hole with a user-supplied LaMa-style ONNX model run on a crop with context around it. */
export async function modelFill(model: LoadedModel, image: ImageData, mask: MaskData, opts: { signal?: AbortSignal; prompt?: string; feather?: boolean } = {}): Promise<FillResult> {
  const { width: W, height: H } = image;
  const m = await fitMask(mask, W, H);
  const core = maskBounds(m, 32);
  // Defence for direct calls and emptyMask: 'warn' runs; by default the Executor stops before an edit brick gets an empty mask.
  if (!core) return { image, score: 1, filled: makeMask(W, H), box: { x: 0, y: 0, width: 0, height: 0 } };
  const cv = await loadOpenCv();
  const grow = holeGrowth(W, H);
  const box = growBox(core, grow + Math.max(32, Math.round(0.5 * Math.max(core.width, core.height))), W, H);
  const { hole, depth } = dilatedHole(cv, m, box, grow);
  opts.signal?.throwIfAborted();
  const rgb = await runInpaintModel(model, cropRgb(image, box), hole, box.width, box.height, opts.prompt);
  opts.signal?.throwIfAborted();
  const { image: out, filled } = pasteHole(image, box, rgb, hole, depth, opts.feather === false ? 1 : Math.min(3, grow));
  return { image: out, score: 1, filled, box };
}
