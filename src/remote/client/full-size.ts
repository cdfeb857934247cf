/**
 * What a GPU host returns, brought back to the user's picture: diffusion
 * models work at their own sizes (a VAE crops to multiples of 8, Kontext snaps
 * to preset resolutions, the diptych recipe works at 768 px wide), so every
 * remote result is resized to the size of the input image, and an edit given a
 * mask keeps the original pixels outside it, bit for bit, with the generated
 * pixels feathered in over the inner edge of the mask so no seam shows.
 */
import { blurPlane } from '../../../bricks/lib/filters.ts';
import { fitImage, fitMask } from '../../../bricks/lib/pixels.ts';
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

/**
 * Blend weights from a mask: the mask itself, softened only on its inside.
 * A Gaussian of the mask, capped by the mask, is 0 wherever the mask is 0, so
 * nothing outside changes, and ramps up over about 2σ inside the edge.
 */
export async function innerFeather(mask: MaskData): Promise<Uint8Array> {
  // About 1/200 of the short side: 2 px on a 400 px photo, 5 on a 1024 px one, enough to hide a seam, not to wash out a small object.
  const sigma = Math.max(1, Math.min(6, Math.min(mask.width, mask.height) / 200));
  const blurred = await blurPlane(mask.data, mask.width, mask.height, sigma);
  const out = new Uint8Array(mask.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.min(mask.data[i]!, blurred[i]!);
  return out;
}

/** `generated` inside the feathered mask, `original` elsewhere; both at the original's size. */
export async function compositeInside(original: ImageData, generated: ImageData, mask: MaskData): Promise<ImageData> {
  const g = await fitImage(generated, original.width, original.height, original.channels);
  const m = await fitMask(mask, original.width, original.height);
  const alpha = await innerFeather(m);
  const c = original.channels;
  const out = makeImage(original.width, original.height, c, new Uint8Array(original.data));
  for (let p = 0, i = 0; p < alpha.length; p++, i += c) {
    const a = alpha[p]!;
    if (a === 0) continue;
    // The alpha channel of a transparent original stays the original's: the model knows nothing of it.
    const colour = c === 4 ? 3 : c;
    for (let k = 0; k < colour; k++) out.data[i + k] = Math.round((g.data[i + k]! * a + original.data[i + k]! * (255 - a)) / 255);
  }
  return out;
}

/**
 * A remote brick's outputs at the input's size, composited inside the edit's
 * mask when one was given. Outputs of a brick without an Image input are
 * returned as they are.
 */
export async function fitToInputs(
  brick: Pick<AnyBrick, 'kind' | 'inputs' | 'outputs'>,
  inputs: Readonly<Record<string, Value | null>>,
  outputs: Record<string, Value>,
): Promise<Record<string, Value>> {
  const ref = referenceImage(brick, inputs);
  if (!ref) return outputs;
  const mask = editMask(brick, inputs);
  const out: Record<string, Value> = { ...outputs };
  for (const [name, v] of Object.entries(outputs)) {
    if (typeof v !== 'object' || v === null) continue;
    if (v.kind === 'mask') {
      out[name] = await fitMask(v, ref.width, ref.height);
    } else if (mask) {
      out[name] = await compositeInside(ref, v, mask);
    } else {
      out[name] = await fitImage(v, ref.width, ref.height, v.channels);
    }
  }
  return out;
}
