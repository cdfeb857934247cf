/**
 * Bricks backed by an ONNX model from the models directory, with pre- and
 * post-processing chosen from a fixed set (no code in manifests). The session
 * asks for CUDA first and falls back to CPU; which one a model got is logged
 * and shown in the brick's backend status.
 */
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Tensor } from 'onnxruntime-node';
import sharp from 'sharp';
import type { AnyBrick, BackendStatus } from '../../engine/brick.ts';
import { type OnnxProvider, type OnnxSession, createOnnxSession, modelFingerprint } from '../../../bricks/models/onnx-session.ts';
import { BrickInputError, BrickUnavailableError, LegoEditError } from '../../engine/errors.ts';
import type { ImageData, MaskData, Value } from '../../engine/values.ts';
import { makeImage, makeMask } from '../../engine/values.ts';

export const IMAGE_PREPROCESS = ['rgb-01', 'rgb-255', 'rgb-imagenet'] as const;
export const MASK_PREPROCESS = ['mask-01'] as const;
export const POSTPROCESS = ['rgb-01', 'rgb-255', 'mask-01', 'mask-sigmoid'] as const;

export interface OnnxBackend {
  readonly modelPath: string;
  /** Model input size [width, height]; omitted means the model takes the image's own size. */
  readonly size?: readonly [number, number];
  readonly inputs: Readonly<Record<string, { tensor: string; preprocess: (typeof IMAGE_PREPROCESS)[number] | (typeof MASK_PREPROCESS)[number] }>>;
  readonly outputs: Readonly<Record<string, { tensor: string; postprocess: (typeof POSTPROCESS)[number] }>>;
  /** Keep the original outside this mask input (inpainting changes only the masked region). */
  readonly compositeInside?: string;
  /** Execution providers to try, in order (default DEFAULT_PROVIDERS); the bench pins CPU to compare it with CUDA. */
  readonly providers?: readonly OnnxProvider[];
}

async function resizeRaw(data: Uint8Array, w: number, h: number, channels: 1 | 3, tw: number, th: number, nearest: boolean): Promise<Uint8Array> {
  if (w === tw && h === th) return data;
  let pipeline = sharp(data, { raw: { width: w, height: h, channels } }).resize(tw, th, { fit: 'fill', kernel: nearest ? 'nearest' : 'lanczos3' });
  // sharp hands one-channel input back as three channels unless told to stay grey (as bricks/models/onnx-run.ts does).
  if (channels === 1) pipeline = pipeline.toColourspace('b-w');
  const out = await pipeline.raw().toBuffer();
  if (out.byteLength !== tw * th * channels) throw new LegoEditError('onnx-resize', `resized to ${out.byteLength} bytes, expected ${tw}x${th}x${channels}`);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** The colour planes of an image: models take RGB, and resizing with alpha would premultiply it into the colours. */
function rgbOf(img: ImageData): Uint8Array {
  if (img.channels === 3) return img.data;
  const out = new Uint8Array(img.width * img.height * 3);
  for (let p = 0, q = 0; q < out.length; p += img.channels, q += 3) out.set(img.data.subarray(p, p + 3), q);
  return out;
}

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

async function toTensorData(v: ImageData | MaskData, pre: string, tw: number, th: number): Promise<{ data: Float32Array; dims: number[] }> {
  if (v.kind === 'mask') {
    const px = await resizeRaw(v.data, v.width, v.height, 1, tw, th, true);
    const data = new Float32Array(tw * th);
    for (let i = 0; i < data.length; i++) data[i] = px[i]! > 127 ? 1 : 0;
    return { data, dims: [1, 1, th, tw] };
  }
  const px = await resizeRaw(rgbOf(v), v.width, v.height, 3, tw, th, false);
  const c = 3;
  const plane = tw * th;
  const data = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let ch = 0; ch < 3; ch++) {
      const x = px[p * c + ch]!;
      data[ch * plane + p] = pre === 'rgb-255' ? x : pre === 'rgb-imagenet' ? (x / 255 - MEAN[ch]!) / STD[ch]! : x / 255;
    }
  }
  return { data, dims: [1, 3, th, tw] };
}

export type WarmableBrick = AnyBrick & { warm(): Promise<string> };

export function isWarmable(b: AnyBrick): b is WarmableBrick {
  return typeof (b as Partial<WarmableBrick>).warm === 'function';
}

export function onnxBrick(shape: Omit<AnyBrick, 'run' | 'backends'>, backend: OnnxBackend, logger: Logger): WarmableBrick {
  let loading: Promise<OnnxSession> | undefined;
  const load = () => {
    loading ??= createOnnxSession(backend.modelPath, { logger, ...(backend.providers ? { providers: backend.providers } : {}) });
    loading.catch(() => (loading = undefined));
    return loading;
  };
  const modelName = backend.modelPath.split('/').pop();
  return {
    ...shape,
    backendKey: () => `onnx:${modelFingerprint(backend.modelPath)}`,
    /** Loads the model now; resolves with the execution provider it got. */
    warm: async () => (await load()).provider,
    async backends(): Promise<BackendStatus[]> {
      if (!existsSync(backend.modelPath)) return [{ name: `onnx:${modelName}`, available: false, detail: `model file ${backend.modelPath} not found` }];
      const provider = loading ? await loading.then((l) => l.provider, () => 'failed to load') : 'loaded on first use';
      return [{ name: `onnx:${modelName}`, available: true, detail: provider }];
    },
    async run(inputs, ctx) {
      if (!existsSync(backend.modelPath)) {
        throw new BrickUnavailableError(shape.name, `its model ${backend.modelPath} is not installed`, 'Put the ONNX file in the models directory (LEGO_EDIT_MODELS_DIR).');
      }
      const { session, ort } = await load();
      const args = inputs as Record<string, Value | null>;
      const first = Object.values(args).find((v): v is ImageData => typeof v === 'object' && v !== null && v.kind === 'image');
      if (!first) throw new BrickInputError(shape.name, 'needs an image input');
      const [tw, th] = backend.size ?? [first.width, first.height];
      const feeds: Record<string, Tensor> = {};
      for (const [port, spec] of Object.entries(backend.inputs)) {
        const v = args[port];
        if (v === null || v === undefined || typeof v !== 'object') throw new BrickInputError(shape.name, `input "${port}" is required by the model`);
        const { data, dims } = await toTensorData(v, spec.preprocess, tw, th);
        feeds[spec.tensor] = new ort.Tensor('float32', data, dims);
      }
      ctx.progress({ fraction: 0.1, message: 'running model' });
      const results = await session.run(feeds);
      const out: Record<string, Value> = {};
      for (const [port, spec] of Object.entries(backend.outputs)) {
        const t = results[spec.tensor];
        if (!t) throw new LegoEditError('onnx-output', `${shape.name}: the model has no output tensor "${spec.tensor}"`);
        const f = t.data as Float32Array;
        const plane = tw * th;
        if (spec.postprocess.startsWith('mask')) {
          const m = new Uint8Array(plane);
          for (let i = 0; i < plane; i++) {
            const x = spec.postprocess === 'mask-sigmoid' ? 1 / (1 + Math.exp(-f[i]!)) : f[i]!;
            m[i] = x > 0.5 ? 255 : 0;
          }
          out[port] = makeMask(first.width, first.height, await resizeRaw(m, tw, th, 1, first.width, first.height, true));
        } else {
          const scale = spec.postprocess === 'rgb-01' ? 255 : 1;
          const px = new Uint8Array(plane * 3);
          for (let p = 0; p < plane; p++) for (let ch = 0; ch < 3; ch++) px[p * 3 + ch] = Math.max(0, Math.min(255, Math.round(f[ch * plane + p]! * scale)));
          let img = makeImage(first.width, first.height, 3, await resizeRaw(px, tw, th, 3, first.width, first.height, false));
          const mask = backend.compositeInside ? args[backend.compositeInside] : null;
          if (mask && typeof mask === 'object' && mask.kind === 'mask') img = composite(first, img, mask);
          out[port] = img;
        }
      }
      ctx.progress({ fraction: 1 });
      return out as never;
    },
  };
}

/** The original outside the mask, the model's pixels inside it (soft edges blend). */
function composite(original: ImageData, generated: ImageData, mask: MaskData): ImageData {
  const out = makeImage(original.width, original.height, original.channels);
  const c = original.channels;
  for (let p = 0; p < mask.data.length; p++) {
    const a = mask.data[p]! / 255;
    for (let ch = 0; ch < c; ch++) {
      const g = ch < 3 ? generated.data[p * 3 + ch]! : original.data[p * c + ch]!;
      out.data[p * c + ch] = Math.round(original.data[p * c + ch]! * (1 - a) + g * a);
    }
  }
  return out;
}
