/**
 * What a GPU host returns, brought back to the user's picture: diffusion
 * models work at their own sizes (a VAE crops to multiples of 8, Kontext snaps
 * to preset resolutions, the diptych recipe works at 768 px wide), so every
 * remote result is resized to the size of the input image, and an edit given a
 * mask keeps the original pixels outside it, bit for bit, with the generated
 * pixels feathered in over the inner edge of the mask so no seam shows.
 *
 * This happens once, where the brick runs: a ComfyUI or ONNX brick fits its
 * own result, and `lego-edit worker` fits what a served brick left at its
 * model's size. Transports carry results as they are, so a remote result is
 * what the brick gives locally; blending twice would square the feather's
 * weight on the edge (a²·generated + (1 − a²)·original).
 */
import { blurPlane } from '../../../bricks/lib/filters.ts';
import { type Box, fitImage, fitMask, maskBounds } from '../../../bricks/lib/pixels.ts';
import type { AnyBrick } from '../../engine/brick.ts';
import type { ImageData, MaskData, Value } from '../../engine/values.ts';
import { makeImage } from '../../engine/values.ts';

/** The input a result is measured against: the `image` input, else the first Image input given. */
export function referenceImage(brick: Pick<AnyBrick, 'inputs'>, inputs: Readonly<Record<string, Value | null>>): ImageData | undefined {
  const isImage = (v: Value | null | undefined): v is ImageData => typeof v === 'object' && v !== null && v.kind === 'image';
  if (isImage(inputs.image)) return inputs.image;
  for (const [name, spec] of Object.entries(brick.inputs)) if (spec.type === 'Image' && isImage(inputs[name])) return inputs[name];
  return undefined;
}

/** The Mask input an edit acts inside (`mask`), when one was given. */
function editMask(brick: Pick<AnyBrick, 'kind' | 'inputs'>, inputs: Readonly<Record<string, Value | null>>): MaskData | undefined {
  if (brick.kind !== 'edit' || brick.inputs.mask?.type !== 'Mask') return undefined;
  const m = inputs.mask;
  return typeof m === 'object' && m !== null && m.kind === 'mask' ? m : undefined;
}

/** The feather's σ: about 1/200 of the short side, 2 px on a 400 px photo, 5 on a 1024 px one, enough to hide a seam, not to wash out a small object. */
function featherSigma(mask: MaskData): number {
  return Math.max(1, Math.min(6, Math.min(mask.width, mask.height) / 200));
}

/**
 * What the blur makes of a plane that is 255 everywhere. sharp blurs 8-bit
 * planes with an integer kernel whose rounding scales everything a little
 * (255 becomes 253 at σ 5), which would leave a trace of the original all over
 * the mask's inside; the weights are divided by this. Measured once per σ.
 */
const blurPeaks = new Map<number, Promise<number>>();
function blurPeak(sigma: number): Promise<number> {
  let peak = blurPeaks.get(sigma);
  if (!peak) {
    peak = blurPlane(new Uint8Array(32 * 32).fill(255), 32, 32, sigma).then((b) => Math.max(1, b[16 * 32 + 16]!));
    blurPeaks.set(sigma, peak);
  }
  return peak;
}

/**
 * Blend weights from a mask, over `box` (the mask's bounds): the mask itself,
 * softened only on its inside. A Gaussian of the mask, capped by the mask, is
 * 0 wherever the mask is 0, so nothing outside changes, ramps up over about
 * 2σ inside the edge, and is 255 (the generated pixel alone) beyond that.
 */
export async function innerFeather(mask: MaskData, box: Box = { x: 0, y: 0, width: mask.width, height: mask.height }): Promise<Uint8Array> {
  const plane = new Uint8Array(box.width * box.height);
  for (let y = 0; y < box.height; y++) plane.set(mask.data.subarray((box.y + y) * mask.width + box.x, (box.y + y) * mask.width + box.x + box.width), y * box.width);
  const sigma = featherSigma(mask);
  const [blurred, peak] = await Promise.all([blurPlane(plane, box.width, box.height, sigma), blurPeak(sigma)]);
  const scaled = new Uint8Array(256);
  for (let v = 0; v < 256; v++) scaled[v] = Math.min(255, Math.round((v * 255) / peak));
  for (let i = 0; i < plane.length; i++) {
    const b = scaled[blurred[i]!]!;
    if (b < plane[i]!) plane[i] = b;
  }
  return plane;
}

/** Blend weights over the box around a mask's set pixels, at a picture's size; none for an empty mask. */
export interface Feather {
  readonly box: Box;
  readonly alpha: Uint8Array;
}

/**
 * The blend weights for compositing into a `width` × `height` picture. They
 * depend only on the mask, so a remote brick computes them while the GPU
 * generates, off the path from the result's arrival to the reply.
 */
export async function featherFor(mask: MaskData, width: number, height: number): Promise<Feather | undefined> {
  const m = await fitMask(mask, width, height);
  const bounds = maskBounds(m);
  if (!bounds) return undefined;
  // Outside the mask's bounds nothing changes, so only they are blurred and blended. A margin of 3σ
  // keeps the blur's view of the edge the same as on the whole plane (the mask is 0 beyond its bounds).
  const margin = Math.ceil(3 * featherSigma(m));
  const x0 = Math.max(0, bounds.x - margin);
  const y0 = Math.max(0, bounds.y - margin);
  const box = { x: x0, y: y0, width: Math.min(m.width, bounds.x + bounds.width + margin) - x0, height: Math.min(m.height, bounds.y + bounds.height + margin) - y0 };
  return { box, alpha: await innerFeather(m, box) };
}

/** `generated` inside the feathered mask, `original` elsewhere; both at the original's size. `feather` is `featherFor(mask, …)` when already made. */
export async function compositeInside(
  original: ImageData,
  generated: ImageData,
  mask: MaskData,
  feather: Promise<Feather | undefined> = featherFor(mask, original.width, original.height),
): Promise<ImageData> {
  const g = await fitImage(generated, original.width, original.height, original.channels);
  const c = original.channels;
  const out = makeImage(original.width, original.height, c, new Uint8Array(original.data));
  const f = await feather;
  if (!f) return out;
  const { box, alpha } = f;
  // The alpha channel of a transparent original stays the original's: the model knows nothing of it.
  const colour = c === 4 ? 3 : c;
  const od = original.data;
  const gd = g.data;
  const dd = out.data;
  for (let y = 0; y < box.height; y++) {
    const row = y * box.width;
    const at = ((box.y + y) * original.width + box.x) * c;
    for (let x = 0; x < box.width; ) {
      const a = alpha[row + x]!;
      if (a === 0) {
        x++;
        continue;
      }
      if (a === 255 && colour === c) {
        // The mask's inside is most of the box: copy each run of it in one go.
        let end = x + 1;
        while (end < box.width && alpha[row + end] === 255) end++;
        dd.set(gd.subarray(at + x * c, at + end * c), at + x * c);
        x = end;
        continue;
      }
      const i = at + x * c;
      if (a === 255) for (let k = 0; k < colour; k++) dd[i + k] = gd[i + k]!;
      else for (let k = 0; k < colour; k++) dd[i + k] = ((gd[i + k]! * a + od[i + k]! * (255 - a) + 127) / 255) | 0;
      x++;
    }
  }
  return out;
}

/**
 * A remote brick's outputs at the input's size, composited inside the edit's
 * mask when one was given. Outputs of a brick without an Image input are
 * returned as they are. `only: 'off-size'` is for the host that ran a brick
 * it did not write (`lego-edit worker`): outputs already at the input's size
 * are the brick's own result and stay as they are, so one it composited
 * itself is not blended again.
 */
export async function fitToInputs(
  brick: Pick<AnyBrick, 'kind' | 'inputs' | 'outputs'>,
  inputs: Readonly<Record<string, Value | null>>,
  outputs: Record<string, Value>,
  only: 'all' | 'off-size' = 'all',
  feather?: Promise<Feather | undefined>,
): Promise<Record<string, Value>> {
  const ref = referenceImage(brick, inputs);
  if (!ref) return outputs;
  const mask = editMask(brick, inputs);
  const out: Record<string, Value> = { ...outputs };
  for (const [name, v] of Object.entries(outputs)) {
    if (typeof v !== 'object' || v === null) continue;
    if (only === 'off-size' && v.width === ref.width && v.height === ref.height) continue;
    if (v.kind === 'mask') {
      out[name] = await fitMask(v, ref.width, ref.height);
    } else if (mask) {
      out[name] = await compositeInside(ref, v, mask, feather);
    } else {
      out[name] = await fitImage(v, ref.width, ref.height, v.channels);
    }
  }
  return out;
}

/** The weights `fitToInputs` will blend an edit's result with, started now; undefined when it will not composite. */
export function featherForInputs(brick: Pick<AnyBrick, 'kind' | 'inputs'>, inputs: Readonly<Record<string, Value | null>>): Promise<Feather | undefined> | undefined {
  const ref = referenceImage(brick, inputs);
  const mask = editMask(brick, inputs);
  if (!ref || !mask) return undefined;
  const feather = featherFor(mask, ref.width, ref.height);
  // Awaited later, or never if the run fails first; a failure here is the composite's to report.
  feather.catch(() => undefined);
  return feather;
}
