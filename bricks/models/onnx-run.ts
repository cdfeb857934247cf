/**
 * Running user-supplied image models on crops: resizing or padding to what the
 * graph accepts, NCHW float tensors in, pixels out.
 */
import sharp from 'sharp';
import { type LoadedModel, inputNamed, staticSize, stringInput, stringTensor, tensor } from './onnx-models.ts';

/** Largest side fed to a model with symbolic dimensions; bigger crops are downscaled (CPU time grows with area). */
export const MAX_MODEL_SIDE = 1024;

async function resizeRaw(data: Uint8Array, w: number, h: number, channels: 1 | 3, tw: number, th: number, smooth = channels === 3): Promise<Uint8Array> {
  if (w === tw && h === th) return data;
  let pipeline = sharp(data, { raw: { width: w, height: h, channels } }).resize(tw, th, { fit: 'fill', kernel: smooth ? 'lanczos3' : 'nearest' });
  if (channels === 1) pipeline = pipeline.toColourspace('b-w');
  const buf = await pipeline.raw().toBuffer();
  if (buf.length !== tw * th * channels) throw new Error(`resized buffer has ${buf.length} bytes, expected ${tw * th * channels}`);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Pads on the right and bottom by repeating the edge, so a fully convolutional model sees a size it accepts. */
function padEdge(data: Uint8Array, w: number, h: number, channels: number, pw: number, ph: number): Uint8Array {
  if (pw === w && ph === h) return data;
  const out = new Uint8Array(pw * ph * channels);
  for (let y = 0; y < ph; y++) {
    const sy = Math.min(y, h - 1);
    for (let x = 0; x < pw; x++) {
      const sx = Math.min(x, w - 1);
      for (let k = 0; k < channels; k++) out[(y * pw + x) * channels + k] = data[(sy * w + sx) * channels + k]!;
    }
  }
  return out;
}

function unpad(data: Uint8Array, pw: number, w: number, h: number, channels: number): Uint8Array {
  if (pw === w) return data.subarray(0, w * h * channels);
  const out = new Uint8Array(w * h * channels);
  for (let y = 0; y < h; y++) out.set(data.subarray(y * pw * channels, (y * pw + w) * channels), y * w * channels);
  return out;
}

interface Plan {
  /** Size the crop is resized to before padding. */
  readonly rw: number;
  readonly rh: number;
  /** Size fed to the model (after padding). */
  readonly mw: number;
  readonly mh: number;
}

function plan(model: LoadedModel, input: string, w: number, h: number, multiple: number, fallback?: number): Plan {
  const fixed = staticSize(model, input) ?? model.options.size ?? (fallback ? [fallback, fallback] : undefined);
  if (fixed) return { rw: fixed[0], rh: fixed[1], mw: fixed[0], mh: fixed[1] };
  const s = Math.min(1, MAX_MODEL_SIDE / Math.max(w, h));
  const rw = Math.max(1, Math.round(w * s));
  const rh = Math.max(1, Math.round(h * s));
  return { rw, rh, mw: Math.ceil(rw / multiple) * multiple, mh: Math.ceil(rh / multiple) * multiple };
}

function toNchw(rgb: Uint8Array, w: number, h: number, mean: readonly number[] = [0, 0, 0], std: readonly number[] = [1, 1, 1]): Float32Array {
  const n = w * h;
  const out = new Float32Array(3 * n);
  for (let p = 0; p < n; p++) for (let k = 0; k < 3; k++) out[k * n + p] = (rgb[p * 3 + k]! / 255 - mean[k]!) / std[k]!;
  return out;
}

/**
 * Inpaints a crop (packed RGB, hole 0/255) with a LaMa-convention model and
 * returns the model's RGB for the whole crop; the caller pastes the hole part.
 */
export async function runInpaintModel(model: LoadedModel, rgb: Uint8Array, hole: Uint8Array, w: number, h: number, prompt?: string): Promise<Uint8Array> {
  const imageName = inputNamed(model, /image|img|input/i);
  if (!imageName) throw new Error(`${model.path} has no float image input`);
  const maskName = inputNamed(model, /mask/i, [imageName]);
  const promptName = stringInput(model);
  const p = plan(model, imageName, w, h, 8);
  const img = padEdge(await resizeRaw(rgb, w, h, 3, p.rw, p.rh), p.rw, p.rh, 3, p.mw, p.mh);
  const msk = padEdge(await resizeRaw(hole, w, h, 1, p.rw, p.rh), p.rw, p.rh, 1, p.mw, p.mh);
  const feeds: Record<string, Awaited<ReturnType<typeof tensor>> | Awaited<ReturnType<typeof stringTensor>>> = {
    [imageName]: await tensor(toNchw(img, p.mw, p.mh, model.options.mean, model.options.std), [1, 3, p.mh, p.mw]),
  };
  if (maskName && maskName !== imageName) {
    const m = new Float32Array(p.mw * p.mh);
    for (let i = 0; i < m.length; i++) m[i] = msk[i]! > 127 ? 1 : 0;
    feeds[maskName] = await tensor(m, [1, 1, p.mh, p.mw]);
  }
  if (promptName) feeds[promptName] = await stringTensor(prompt ?? '');
  const result = await model.session.run(feeds);
  const out = result[model.session.outputNames[0]!];
  if (!out || !(out.data instanceof Float32Array)) throw new Error(`${model.path} did not return a float image`);
  const [, ch, oh, ow] = out.dims;
  if (ch !== 3 || oh !== p.mh || ow !== p.mw) throw new Error(`${model.path} returned shape [${out.dims.join(',')}], expected [1,3,${p.mh},${p.mw}]`);
  const data = out.data;
  let max = 0;
  for (let i = 0; i < data.length; i += 97) if (data[i]! > max) max = data[i]!;
  // LaMa exports disagree on output range: 0..1 or 0..255.
  const k = max > 2 ? 1 : 255;
  const n = p.mw * p.mh;
  const packed = new Uint8Array(n * 3);
  for (let q = 0; q < n; q++) for (let c = 0; c < 3; c++) packed[q * 3 + c] = Math.max(0, Math.min(255, Math.round(data[c * n + q]! * k)));
  return resizeRaw(unpad(packed, p.mw, p.rw, p.rh, 3), p.rw, p.rh, 3, w, h);
}

/** ImageNet statistics, the default for U²-Net/BiRefNet-style segmenters; ISNet uses mean 0.5, std 1. */
const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** Runs a salient-segmentation model on a crop and returns its min-max normalised mask (0..255) at crop size. */
export async function runSegmentModel(model: LoadedModel, rgb: Uint8Array, w: number, h: number): Promise<Uint8Array> {
  const imageName = inputNamed(model, /image|img|input/i);
  if (!imageName) throw new Error(`${model.path} has no float image input`);
  const isnet = /isnet/i.test(model.path);
  const p = plan(model, imageName, w, h, 32, isnet ? 1024 : 320);
  const img = padEdge(await resizeRaw(rgb, w, h, 3, p.rw, p.rh), p.rw, p.rh, 3, p.mw, p.mh);
  const mean = model.options.mean ?? (isnet ? [0.5, 0.5, 0.5] : IMAGENET.mean);
  const std = model.options.std ?? (isnet ? [1, 1, 1] : IMAGENET.std);
  const result = await model.session.run({ [imageName]: await tensor(toNchw(img, p.mw, p.mh, mean, std), [1, 3, p.mh, p.mw]) });
  const out = result[model.session.outputNames[0]!];
  if (!out || !(out.data instanceof Float32Array)) throw new Error(`${model.path} did not return a float mask`);
  const n = p.mw * p.mh;
  if (out.data.length < n) throw new Error(`${model.path} returned shape [${out.dims.join(',')}], expected [1,1,${p.mh},${p.mw}]`);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = out.data[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const span = hi - lo || 1;
  const m = new Uint8Array(n);
  for (let i = 0; i < n; i++) m[i] = Math.round(((out.data[i]! - lo) / span) * 255);
  return resizeRaw(unpad(m, p.mw, p.rw, p.rh, 1), p.rw, p.rh, 1, w, h, true);
}
