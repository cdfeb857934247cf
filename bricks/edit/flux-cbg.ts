/**
 * FLUX-CBG, CPU variant: backgrounds that need no invention — a solid colour,
 * a gradient, a studio backdrop, a blur of the existing background, or
 * transparency. A named scene ("a beach at sunset") has to be generated.
 */
import sharp from 'sharp';
import { defineBrick, port } from '../../src/engine/brick.ts';
import type { ImageData, MaskData } from '../../src/engine/values.ts';
import { makeImage } from '../../src/engine/values.ts';
import { type GpuOnly, gpuHostBackend, gpuNeedOf, gpuOnly, orNeedsGpuHost } from '../lib/backends.ts';
import { colourLiterals, colourWords, tokens, type Rgb } from '../lib/colour.ts';
import { blendByMask, fitMask, toChannels } from '../lib/pixels.ts';
import { unknownWords } from '../lib/prompt-words.ts';

export type Backdrop =
  | { readonly kind: 'solid'; readonly rgb: Rgb }
  | { readonly kind: 'gradient'; readonly top: Rgb; readonly bottom: Rgb }
  | { readonly kind: 'studio'; readonly rgb: Rgb }
  | { readonly kind: 'blur'; readonly bokeh: boolean }
  | { readonly kind: 'transparent' };

const KEYWORDS = new Set([
  'background', 'backdrop', 'bg', 'backgrounds', 'solid', 'color', 'from', 'gradient', 'gradual', 'fade', 'fading', 'studio', 'seamless', 'paper', 'professional',
  'blur', 'blurred', 'blurry', 'bokeh', 'defocus', 'defocused', 'out', 'focus', 'shallow', 'depth', 'field', 'lens', 'portrait',
  'transparent', 'transparency', 'remove', 'removed', 'delete', 'erase', 'cutout', 'cut', 'no', 'none', 'alpha', 'top', 'bottom', 'vertical', 'behind', 'subject',
]);

/** The backdrop a prompt asks for, or what only the generative model can paint. */
function readBackdrop(prompt: string): Backdrop | GpuOnly {
  const words = tokens(prompt);
  const has = (...ws: string[]) => ws.some((w) => words.includes(w));
  const named = colourWords(words);
  const consumed = new Set<number>();
  for (const m of named) for (let i = m.start; i < m.end; i++) consumed.add(i);
  const literals = colourLiterals(prompt);
  const litWords = new Set(literals.flatMap((l) => tokens(l.text)));
  const leftovers = unknownWords(prompt, new Set([...KEYWORDS, ...litWords]), consumed);
  if (leftovers.length) return gpuOnly(`A generated background ("${prompt}")`);
  const colours: Rgb[] = [...literals.map((l) => l.rgb), ...named.map((m) => m.rgb)];
  if (has('transparent', 'transparency', 'remove', 'removed', 'delete', 'erase', 'cutout', 'none', 'alpha') && colours.length === 0) return { kind: 'transparent' };
  if (has('blur', 'blurred', 'blurry', 'bokeh', 'defocus', 'defocused', 'focus', 'shallow') && colours.length === 0) return { kind: 'blur', bokeh: has('bokeh', 'lens', 'shallow') };
  if (has('gradient', 'gradual', 'fade', 'fading')) {
    if (colours.length === 2) return { kind: 'gradient', top: colours[0]!, bottom: colours[1]! };
    const base: Rgb = colours[0] ?? [150, 150, 155];
    if (colours.length <= 1) return { kind: 'gradient', top: shade(base, 1.25), bottom: shade(base, 0.7) };
  }
  if (has('studio', 'seamless', 'professional') && colours.length <= 1) return { kind: 'studio', rgb: colours[0] ?? [255, 255, 255] };
  if (colours.length === 1) return { kind: 'solid', rgb: colours[0]! };
  return gpuOnly(`A generated background ("${prompt}")`);
}

export function parseBackdrop(prompt: string): Backdrop {
  return orNeedsGpuHost('FLUX-CBG', readBackdrop(prompt));
}

function shade(c: Rgb, f: number): Rgb {
  const t = (v: number) => Math.max(0, Math.min(255, Math.round(f > 1 ? v + (255 - v) * (f - 1) : v * f)));
  return [t(c[0]), t(c[1]), t(c[2])];
}

function paint(w: number, h: number, channels: 3 | 4, colour: (x: number, y: number) => readonly [number, number, number]): ImageData {
  const out = makeImage(w, h, channels);
  for (let y = 0, i = 0; y < h; y++) {
    for (let x = 0; x < w; x++, i += channels) {
      const c = colour(x, y);
      out.data[i] = c[0];
      out.data[i + 1] = c[1];
      out.data[i + 2] = c[2];
      if (channels === 4) out.data[i + 3] = 255;
    }
  }
  return out;
}

/**
 * The background blurred on its own: RGBA with alpha = background coverage, so
 * that sharp's premultiplied blur is a normalised convolution and the subject's
 * colours do not bleed into the blurred background as a halo.
 */
async function blurredBackground(image: ImageData, bg: MaskData, bokeh: boolean): Promise<ImageData> {
  const { width: w, height: h } = image;
  const c = image.channels;
  // Bokeh: blur in a gamma-expanded space so highlights bloom into discs of light, then undo the curve.
  const expand = new Uint8Array(256);
  const compress = new Uint8Array(256);
  for (let v = 0; v < 256; v++) {
    expand[v] = bokeh ? Math.round(255 * (v / 255) ** 2.2) : v;
    compress[v] = bokeh ? Math.round(255 * (v / 255) ** (1 / 2.2)) : v;
  }
  const rgba = new Uint8Array(w * h * 4);
  for (let p = 0; p < w * h; p++) {
    for (let k = 0; k < 3; k++) rgba[p * 4 + k] = expand[image.data[p * c + k]!]!;
    rgba[p * 4 + 3] = bg.data[p]!;
  }
  const sigma = Math.max(2, Math.hypot(w, h) * (bokeh ? 0.018 : 0.01));
  // A wide blur keeps no detail, so it is computed at reduced size and scaled back: same look, a fraction of the time.
  const k = Math.max(1, Math.floor(sigma / 4));
  const sw = Math.max(1, Math.round(w / k));
  const sh = Math.max(1, Math.round(h / k));
  const small = await sharp(rgba, { raw: { width: w, height: h, channels: 4 } }).resize(sw, sh, { fit: 'fill' }).blur(Math.max(0.3, sigma / k)).raw().toBuffer();
  const buf = k === 1 ? small : await sharp(small, { raw: { width: sw, height: sh, channels: 4 } }).resize(w, h, { fit: 'fill', kernel: 'cubic' }).raw().toBuffer();
  const out = makeImage(w, h, c);
  for (let p = 0; p < w * h; p++) {
    for (let k = 0; k < 3; k++) out.data[p * c + k] = compress[buf[p * 4 + k]!]!;
    if (c === 4) out.data[p * 4 + 3] = 255;
  }
  return out;
}

export async function replaceBackground(image: ImageData, mask: MaskData, backdrop: Backdrop): Promise<ImageData> {
  const { width: w, height: h } = image;
  const bg = await fitMask(mask, w, h);
  if (backdrop.kind === 'transparent') {
    const rgba = await toChannels(image, 4);
    const out = makeImage(w, h, 4, new Uint8Array(rgba.data));
    for (let p = 0; p < w * h; p++) out.data[p * 4 + 3] = Math.round((rgba.data[p * 4 + 3]! * (255 - bg.data[p]!)) / 255);
    return out;
  }
  let fill: ImageData;
  if (backdrop.kind === 'solid') {
    const c = backdrop.rgb;
    fill = paint(w, h, image.channels, () => c);
  } else if (backdrop.kind === 'gradient') {
    const { top, bottom } = backdrop;
    fill = paint(w, h, image.channels, (_x, y) => {
      const t = y / Math.max(1, h - 1);
      return [top[0] + (bottom[0] - top[0]) * t, top[1] + (bottom[1] - top[1]) * t, top[2] + (bottom[2] - top[2]) * t].map(Math.round) as [number, number, number];
    });
  } else if (backdrop.kind === 'studio') {
    // A lit paper sweep: full colour behind the subject, falling off about 10% towards the corners.
    const c = backdrop.rgb;
    fill = paint(w, h, image.channels, (x, y) => {
      const d = Math.min(1, ((x - w / 2) / (w / 2)) ** 2 * 0.5 + ((y - h * 0.45) / (h * 0.55)) ** 2 * 0.5);
      const f = 1 - 0.1 * d;
      return [Math.round(c[0] * f), Math.round(c[1] * f), Math.round(c[2] * f)];
    });
  } else {
    fill = await blurredBackground(image, bg, backdrop.bokeh);
  }
  return blendByMask(image, fill, bg);
}

export const FLUX_CBG = defineBrick({
  name: 'FLUX-CBG',
  kind: 'edit',
  description: 'Change the background (mask = background)',
  inputs: {
    image: port.image(),
    mask: port.mask({ description: 'The background region' }),
    prompt: port.str({ description: 'New background: "white", "studio", "blue to purple gradient", "blurred", "bokeh", "transparent", "a beach at sunset"' }),
  },
  outputs: { image: port.image() },
  constraint:
    'Get the background mask with INVERSE of the subject mask. On CPU: a solid colour (name or hex), a gradient of one or two colours, a studio backdrop, ' +
    'blur or bokeh of the existing background, or transparency (RGBA). Named scenes need a GPU host. The subject (mask 0) is untouched.',
  version: '2',
  cpuHeavy: true,
  backends: () => [
    { name: 'cpu-backdrops', available: true, detail: 'solid, gradient, studio, blur/bokeh, transparent' },
    gpuHostBackend('generated scenes'),
  ],
  gpuNeed: ({ prompt }) => gpuNeedOf(readBackdrop(prompt)),
  async run({ image, mask, prompt }, ctx) {
    const backdrop = parseBackdrop(prompt);
    ctx.signal.throwIfAborted();
    ctx.logger.debug({ backdrop: backdrop.kind }, 'FLUX-CBG backdrop');
    return { image: await replaceBackground(image, mask, backdrop) };
  },
});
