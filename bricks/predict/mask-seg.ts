/**
 * MASK-SEG: the object inside a rough user mask. GrabCut is initialised from
 * the mask itself — probable foreground inside, probable background in a ring
 * just outside, certain background beyond — so the colour models learn the
 * object from what the user circled and the background from its surroundings.
 * A dragged box goes through the detector-box refinement (segment.ts) instead,
 * which measured better on box-shaped rough masks.
 * A user-supplied salient-segmentation model (isnet.onnx, u2net.onnx, …) runs
 * on the same crop instead when installed.
 */
import { type AnyBrick, defineBrick, port } from '../../src/engine/brick.ts';
import type { ImageData, MaskData } from '../../src/engine/values.ts';
import { makeMask } from '../../src/engine/values.ts';
import { bytesOf, disc, hasGrabCutSeeds, withMats } from '../lib/cv-mats.ts';
import { cropBinary, cropRgb, growBox } from '../lib/inpaint.ts';
import { requireImageSize } from '../lib/input-checks.ts';
import { fitMask, maskBounds, type Box } from '../lib/pixels.ts';
import { type BrickEnvironment, NO_USER_MODELS } from '../environment.ts';
import { loadModel, modelBackendKey, modelStatus, type LoadedModel } from '../models/onnx-models.ts';
import { runSegmentModel } from '../models/onnx-run.ts';
import { loadOpenCv, openCvStatus } from '../models/opencv.ts';
import { checkerboardView, GRABCUT_SEED, keepComponentsNear, refineBox } from './segment.ts';

/** GrabCut works at most at this longest side; the result is scaled back. */
const WORK_SIDE = 320;

export interface SegmentResult {
  readonly mask: MaskData;
  readonly backend: 'grabcut' | 'onnx' | 'rough-mask';
}

/** Context around the rough mask that GrabCut learns the background from. */
function contextWidth(box: Box): number {
  return Math.max(12, Math.round(0.15 * Math.max(box.width, box.height)));
}

/** Just outside the rough mask only probably background: the user may have drawn a little tight. */
function slackWidth(box: Box): number {
  return Math.max(3, Math.round(0.03 * Math.max(box.width, box.height)));
}

/** GrabCut from the rough mask, on a crop around it; returns a full-size 0/255 mask (possibly empty). */
export async function grabCutFromMask(image: ImageData, rough: MaskData, signal?: AbortSignal, iterations = 5): Promise<MaskData> {
  const { width: W, height: H } = image;
  const box0 = maskBounds(rough, 127);
  const out = makeMask(W, H);
  if (!box0) return out;
  const cv = await loadOpenCv();
  const slack = slackWidth(box0);
  const box = growBox(box0, contextWidth(box0), W, H);
  const scale = Math.min(1, WORK_SIDE / Math.max(box.width, box.height));
  const ww = Math.max(1, Math.round(box.width * scale));
  const wh = Math.max(1, Math.round(box.height * scale));
  const local = withMats(cv, (s) => {
    let img = s.fromBytes(cropRgb(image, box), box.height, box.width, 3);
    let inside = s.fromBytes(cropBinary(rough, box, 127), box.height, box.width, 1);
    if (scale < 1) {
      const a = s.mat();
      const b = s.mat();
      cv.resize(img, a, new cv.Size(ww, wh), 0, 0, cv.INTER_AREA);
      cv.resize(inside, b, new cv.Size(ww, wh), 0, 0, cv.INTER_NEAREST);
      [img, inside] = [a, b];
    }
    const near = s.mat();
    cv.dilate(inside, near, disc(cv, s, Math.max(1, slack * scale)));
    const ins = bytesOf(inside);
    const nr = bytesOf(near);
    const gc = s.fromBytes(new Uint8Array(ww * wh), wh, ww, 1);
    const g = gc.data;
    for (let i = 0; i < ww * wh; i++) g[i] = ins[i] ? cv.GC_PR_FGD : nr[i] ? cv.GC_PR_BGD : cv.GC_BGD;
    let hasBg = false;
    for (let i = 0; i < ww * wh && !hasBg; i++) hasBg = g[i] !== cv.GC_PR_FGD;
    // A mask covering the whole crop leaves GrabCut no background to learn from: treat the crop border as background.
    if (!hasBg) {
      for (let x = 0; x < ww; x++) g[x] = g[(wh - 1) * ww + x] = cv.GC_BGD;
      for (let y = 0; y < wh; y++) g[y * ww] = g[y * ww + ww - 1] = cv.GC_BGD;
    }
    signal?.throwIfAborted();
    // Nothing to tell object from background (a crop of a pixel or two): no outline, so the caller keeps the user's mask.
    if (!hasGrabCutSeeds(cv, g)) return new Uint8Array(box.width * box.height);
    const bgd = s.mat();
    const fgd = s.mat();
    cv.setRNGSeed(GRABCUT_SEED);
    cv.grabCut(img, gc, new cv.Rect(0, 0, ww, wh), bgd, fgd, iterations, cv.GC_INIT_WITH_MASK);
    const res = bytesOf(gc);
    const bin = new Uint8Array(ww * wh);
    for (let i = 0; i < bin.length; i++) bin[i] = res[i] === cv.GC_FGD || res[i] === cv.GC_PR_FGD ? 255 : 0;
    // Small holes and specks from colour-model noise.
    const m = s.fromBytes(bin, wh, ww, 1);
    const k = disc(cv, s, Math.max(1, Math.round(Math.min(ww, wh) / 100)));
    cv.morphologyEx(m, m, cv.MORPH_CLOSE, k);
    cv.morphologyEx(m, m, cv.MORPH_OPEN, k);
    if (scale < 1) {
      const up = s.mat();
      cv.resize(m, up, new cv.Size(box.width, box.height), 0, 0, cv.INTER_LINEAR);
      return bytesOf(up);
    }
    return bytesOf(m);
  });
  // The user said the object is inside their outline (give or take the slack): nothing beyond it is returned.
  const nearFull = withMats(cv, (s) => {
    const m = s.fromBytes(cropBinary(rough, box, 127), box.height, box.width, 1);
    cv.dilate(m, m, disc(cv, s, slack));
    return bytesOf(m);
  });
  const cx = box0.x + box0.width / 2 - box.x;
  const cy = box0.y + box0.height / 2 - box.y;
  const kept = keepComponentsNear({ kind: 'mask', width: box.width, height: box.height, data: local.map((v) => (v >= 128 ? 255 : 0)) }, cx, cy);
  for (let y = 0; y < box.height; y++) {
    for (let x = 0; x < box.width; x++) {
      const q = y * box.width + x;
      if (!kept[q] || !nearFull[q]) continue;
      // Scaled-back edges keep a narrow soft ramp.
      const v = local[q]!;
      out.data[(box.y + y) * W + box.x + x] = scale < 1 ? Math.min(255, Math.round(((v - 96) / 64) * 255)) : 255;
    }
  }
  return out;
}

/** Salient-object model on the crop around the rough mask, kept within the mask's dilated surroundings. */
async function modelSegment(model: LoadedModel, image: ImageData, rough: MaskData): Promise<MaskData> {
  const { width: W, height: H } = image;
  const out = makeMask(W, H);
  const box0 = maskBounds(rough, 127);
  if (!box0) return out;
  const slack = slackWidth(box0);
  const box = growBox(box0, contextWidth(box0), W, H);
  const sal = await runSegmentModel(model, cropRgb(image, box), box.width, box.height);
  const cv = await loadOpenCv();
  const near = withMats(cv, (s) => {
    const m = s.fromBytes(cropBinary(rough, box, 127), box.height, box.width, 1);
    cv.dilate(m, m, disc(cv, s, slack));
    return bytesOf(m);
  });
  for (let y = 0; y < box.height; y++) {
    for (let x = 0; x < box.width; x++) {
      const q = y * box.width + x;
      if (near[q]) out.data[(box.y + y) * W + box.x + x] = sal[q]!;
    }
  }
  return out;
}

function coverage(m: MaskData): number {
  let on = 0;
  for (let i = 0; i < m.data.length; i++) if (m.data[i]! >= 128) on++;
  return on;
}

/** A rough mask that fills its bounding box: a box the user dragged, not an outline they traced. */
function isBoxLike(rough: MaskData, roughArea: number): boolean {
  const b = maskBounds(rough, 127);
  return b !== undefined && roughArea >= 0.9 * b.width * b.height;
}

/**
 * A dragged box is what a detector gives, only looser: the same box refinement (a certain
 * core, GrabCut, components, holes, edge snapping), kept within the box and its slack.
 */
async function refineLooseBox(image: ImageData, rough: MaskData, signal?: AbortSignal): Promise<MaskData> {
  const box = maskBounds(rough, 127)!;
  const m = await refineBox(image, box, signal ? { signal } : {});
  const slack = slackWidth(box);
  const { width: W } = image;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < W; x++) {
      if (x < box.x - slack || x >= box.x + box.width + slack || y < box.y - slack || y >= box.y + box.height + slack) m.data[y * W + x] = 0;
    }
  }
  return m;
}

/** The object inside the rough mask, by the best backend present. */
export async function segmentInsideMask(image: ImageData, roughIn: MaskData, signal?: AbortSignal, env: BrickEnvironment = NO_USER_MODELS): Promise<SegmentResult> {
  const rough = await fitMask(roughIn, image.width, image.height);
  const roughArea = coverage(rough);
  if (roughArea === 0) return { mask: makeMask(image.width, image.height), backend: 'rough-mask' };
  const model = await loadModel('segment', env);
  if (model) {
    const m = await modelSegment(model, image, rough);
    if (coverage(m) >= 0.02 * roughArea) return { mask: m, backend: 'onnx' };
  }
  let m = isBoxLike(rough, roughArea) ? await refineLooseBox(image, rough, signal) : undefined;
  // The box refinement says "not found" when GrabCut floods the box or collapses; the mask-seeded cut still has a say.
  if (!m || coverage(m) === 0) m = await grabCutFromMask(image, rough, signal);
  // GrabCut can collapse when object and background share colours; the user's own outline is then the honest answer.
  if (coverage(m) < 0.02 * roughArea) return { mask: rough, backend: 'rough-mask' };
  return { mask: m, backend: 'grabcut' };
}

/** What the user is told when GrabCut found no object inside their mask. */
export const ROUGH_MASK_KEPT =
  'found no object outline inside your mask (its colours may match the surroundings), so your mask is used as drawn.';

/** MASK-SEG using the user models of `env`. */
export function maskSegBrick(env: BrickEnvironment): AnyBrick {
  return defineBrick({
    name: 'MASK-SEG',
    kind: 'predict',
    description: 'Segment the object inside a rough user mask',
    inputs: { image: port.image(), mask: port.mask({ description: 'Rough region drawn by the user (a box, a scribble or a loose outline)' }) },
    outputs: { mask: port.mask(), image: port.image({ description: 'The segment over a checkerboard' }) },
    constraint:
      'Needs a user mask (init[mask]); refines it to the boundary of the object inside it. The object should fill a good part of the rough mask ' +
      'and differ in colour from its surroundings; when GrabCut finds nothing, the rough mask is returned unchanged.',
    version: '1',
    cpuHeavy: true,
    backendKey: () => modelBackendKey('segment', env),
    backends: () => [modelStatus('segment', env), openCvStatus('GrabCut initialised from the rough mask')],
    async run({ image, mask }, ctx) {
      requireImageSize('MASK-SEG', image);
      const { mask: m, backend } = await segmentInsideMask(image, mask, ctx.signal, env);
      ctx.logger.debug({ backend }, 'MASK-SEG');
      // The edit will cover everything the user drew, not just the object: they should know why.
      if (backend === 'rough-mask') ctx.warn?.(ROUGH_MASK_KEPT);
      return { mask: m, image: checkerboardView(image, m) };
    },
  });
}

/** MASK-SEG with no user model installed (GrabCut), for tests and benches. */
export const MASK_SEG = maskSegBrick(NO_USER_MODELS);
