/**
 * FLUX-RCM, CPU variant: recolour the masked object in Lab, keeping each
 * pixel's lightness offset from the object's mean (its shading, highlights and
 * shadows) and replacing hue and chroma. Metals it can fake honestly are gradient
 * maps of contrast-stretched lightness (gold, silver, chrome, …). Materials with
 * texture or transparency (wood, glass, marble) need the generative model.
 */
import { defineBrick, port } from '../../src/engine/brick.ts';
import { BrickInputError } from '../../src/engine/errors.ts';
import type { ImageData, MaskData } from '../../src/engine/values.ts';
import { makeImage } from '../../src/engine/values.ts';
import { type GpuOnly, gpuHostBackend, gpuNeedOf, gpuOnly, orNeedsGpuHost } from '../lib/backends.ts';
import { colourLiterals, colourWords, labToRgb, rgbToLab, tokens, type Lab, type Rgb } from '../lib/colour.ts';
import { blendByMask, fitMask, maskBounds } from '../lib/pixels.ts';
import { hasPhrase } from '../lib/prompt-words.ts';

type Stop = readonly [number, Rgb];

/** Lightness → colour ramps, dark to light; shaped after photographed metal swatches. */
const METALS: Readonly<Record<string, { ramp: readonly Stop[]; contrast: number }>> = {
  'rose gold': { ramp: [[0, [40, 20, 18]], [0.4, [150, 95, 85]], [0.7, [215, 160, 145]], [1, [255, 236, 226]]], contrast: 1.4 },
  gold: { ramp: [[0, [35, 22, 4]], [0.3, [120, 80, 15]], [0.6, [212, 165, 55]], [0.85, [250, 220, 120]], [1, [255, 248, 215]]], contrast: 1.6 },
  golden: { ramp: [[0, [35, 22, 4]], [0.3, [120, 80, 15]], [0.6, [212, 165, 55]], [0.85, [250, 220, 120]], [1, [255, 248, 215]]], contrast: 1.6 },
  brass: { ramp: [[0, [35, 28, 5]], [0.4, [130, 105, 35]], [0.7, [200, 170, 80]], [1, [250, 240, 180]]], contrast: 1.4 },
  bronze: { ramp: [[0, [30, 16, 6]], [0.4, [120, 75, 35]], [0.7, [205, 127, 50]], [1, [250, 215, 160]]], contrast: 1.4 },
  copper: { ramp: [[0, [35, 12, 5]], [0.4, [140, 60, 30]], [0.7, [200, 110, 70]], [1, [255, 215, 180]]], contrast: 1.4 },
  silver: { ramp: [[0, [30, 32, 36]], [0.4, [120, 124, 130]], [0.75, [200, 204, 210]], [1, [250, 251, 253]]], contrast: 1.3 },
  platinum: { ramp: [[0, [60, 62, 66]], [0.5, [170, 172, 176]], [1, [245, 245, 243]]], contrast: 1.1 },
  steel: { ramp: [[0, [25, 28, 32]], [0.5, [115, 122, 132]], [1, [225, 230, 236]]], contrast: 1.3 },
  chrome: { ramp: [[0, [8, 10, 14]], [0.35, [90, 96, 106]], [0.65, [200, 206, 214]], [1, [255, 255, 255]]], contrast: 2.2 },
  mirror: { ramp: [[0, [8, 10, 14]], [0.35, [90, 96, 106]], [0.65, [200, 206, 214]], [1, [255, 255, 255]]], contrast: 2.2 },
};

/** Where on a metal's ramp its body colour sits: the saturated middle, between shadow and glint. */
const METAL_BODY = 0.55;

/** Materials and patterns a colour transform cannot fake. */
const GENERATIVE_ONLY = [
  'wood', 'wooden', 'glass', 'glassy', 'transparent', 'translucent', 'crystal', 'marble', 'stone', 'rock', 'brick', 'concrete', 'leather', 'fabric', 'cloth',
  'denim', 'velvet', 'fur', 'furry', 'wool', 'woolen', 'knitted', 'plastic', 'rubber', 'paper', 'cardboard', 'ceramic', 'porcelain', 'ice', 'icy', 'diamond',
  'carbon fiber', 'carbon fibre', 'rust', 'rusty', 'camouflage', 'camo', 'stripes', 'striped', 'pattern', 'patterned', 'checkered', 'polka', 'dots', 'flames',
  'graffiti', 'texture', 'textured', 'holographic', 'iridescent', 'rainbow', 'chameleon', 'lego', 'clay', 'jelly', 'liquid', 'water', 'lava', 'neon lights',
];

const FINISH: Readonly<Record<string, number>> = { matte: 0.45, matt: 0.45, satin: 0.7, glossy: 1.25, gloss: 1.25, shiny: 1.3, metallic: 1.5, pearl: 0.8 };

export type RecolourTarget =
  | { readonly kind: 'colour'; readonly rgb: Rgb; readonly contrast: number; readonly label: string }
  | { readonly kind: 'metal'; readonly name: string; readonly ramp: readonly Stop[]; readonly contrast: number };

/** What the prompt asks for, or why only the generative model can do it. */
function readRecolourPrompt(prompt: string): RecolourTarget | GpuOnly {
  const gen = hasPhrase(prompt, GENERATIVE_ONLY);
  if (gen) return gpuOnly(`The material or pattern "${gen}"`);
  const words = tokens(prompt);
  const finishWord = words.find((w) => FINISH[w] !== undefined);
  const metal = hasPhrase(prompt, Object.keys(METALS));
  const literals = colourLiterals(prompt);
  const named = colourWords(words).filter((m) => !(metal && metal.split(' ').includes(m.text)));
  const colours = [...literals.map((l) => ({ rgb: l.rgb, text: l.text })), ...named];
  if (metal && colours.length === 0) {
    const m = METALS[metal]!;
    return { kind: 'metal', name: metal, ramp: m.ramp, contrast: m.contrast * (finishWord ? Math.min(1, FINISH[finishWord]! * 1.6) : 1) };
  }
  if (colours.length === 1 && !metal) {
    const c = colours[0]!;
    return { kind: 'colour', rgb: c.rgb, contrast: finishWord ? FINISH[finishWord]! : 1, label: `${finishWord ? `${finishWord} ` : ''}${c.text}` };
  }
  if (colours.length + (metal ? 1 : 0) > 1) {
    return gpuOnly(`Painting several colours at once ("${prompt}")`);
  }
  return gpuOnly(`Recolouring to "${prompt}" (the CPU variant knows colour names, hex codes and gold/silver/chrome/bronze/copper)`);
}

/** What the prompt asks for, or a NeedsGpuHostError naming why only the generative model can do it. */
export function parseRecolourPrompt(prompt: string): RecolourTarget {
  return orNeedsGpuHost('FLUX-RCM', readRecolourPrompt(prompt));
}

function rampColour(ramp: readonly Stop[], t: number): [number, number, number] {
  let i = 1;
  while (i < ramp.length - 1 && ramp[i]![0] < t) i++;
  const [t0, c0] = ramp[i - 1]!;
  const [t1, c1] = ramp[i]!;
  const f = Math.max(0, Math.min(1, (t - t0) / (t1 - t0 || 1)));
  return [Math.round(c0[0] + (c1[0] - c0[0]) * f), Math.round(c0[1] + (c1[1] - c0[1]) * f), Math.round(c0[2] + (c1[2] - c0[2]) * f)];
}

/** Recolours pixels where the mask is set; everything else is copied, then blended by the mask so unmasked pixels stay bit-identical. */
export async function recolour(image: ImageData, mask: MaskData, target: RecolourTarget): Promise<ImageData> {
  const m = await fitMask(mask, image.width, image.height);
  const box = maskBounds(m);
  if (!box) return image;
  const c = image.channels;
  const src = image.data;
  const w = image.width;
  // Lightness of every masked pixel in the box, and the object's statistics from its solid part.
  const n = box.width * box.height;
  const L = new Float32Array(n);
  const hist = new Uint32Array(101);
  let sum = 0;
  let count = 0;
  for (let y = 0; y < box.height; y++) {
    for (let x = 0; x < box.width; x++) {
      const p = (box.y + y) * w + box.x + x;
      if (m.data[p]! === 0) continue;
      const i = p * c;
      const l = rgbToLab([src[i]!, src[i + 1]!, src[i + 2]!])[0];
      L[y * box.width + x] = l;
      if (m.data[p]! >= 128) {
        sum += l;
        count++;
        hist[Math.max(0, Math.min(100, Math.round(l)))]!++;
      }
    }
  }
  // The paint's own lightness is the most common one (windows, tyres and shadows are minorities), so shading is measured from it.
  let ref = count ? sum / count : 50;
  let best = -1;
  for (let k = 0; k <= 100; k++) {
    let acc = 0;
    for (let j = Math.max(0, k - 3); j <= Math.min(100, k + 3); j++) acc += hist[j]!;
    if (acc > best) {
      best = acc;
      ref = k;
    }
  }
  const pct = (q: number): number => {
    let acc = 0;
    for (let k = 0; k <= 100; k++) if ((acc += hist[k]!) >= q * count) return k;
    return 100;
  };
  const lo = pct(0.02);
  const hi = Math.max(lo + 1, pct(0.98));
  const out = makeImage(image.width, image.height, c, new Uint8Array(src));
  let tLab: Lab = [0, 0, 0];
  if (target.kind === 'colour') {
    tLab = rgbToLab(target.rgb);
    // Photographed paint never reaches Lab 0 or 100; pinning there would flatten all shading.
    tLab[0] = Math.max(10, Math.min(95, tLab[0]));
  }
  for (let y = 0; y < box.height; y++) {
    for (let x = 0; x < box.width; x++) {
      const p = (box.y + y) * w + box.x + x;
      if (m.data[p]! === 0) continue;
      const l = L[y * box.width + x]!;
      let rgb: [number, number, number];
      if (target.kind === 'metal') {
        // The paint's own lightness becomes the metal's body colour (the saturated middle of the ramp), and each
        // pixel's offset from it, stretched to the object's own range, runs up to the highlight or down to the
        // shadow end through a contrast curve: a white car turns rich gold with bright glints, not pale yellow.
        const u = l >= ref ? (l - ref) / Math.max(8, hi - ref) : (l - ref) / Math.max(8, ref - lo);
        const v = Math.tanh(target.contrast * u) / Math.tanh(target.contrast);
        rgb = rampColour(target.ramp, METAL_BODY + v * (v >= 0 ? 1 - METAL_BODY : METAL_BODY));
      } else {
        // Offsets from the paint's lightness are compressed softly into 0..100 so highlights and shadows keep their order instead of clipping.
        const delta = (l - ref) * target.contrast;
        const room = delta > 0 ? Math.max(1, 100 - tLab[0]) : Math.max(1, tLab[0]);
        const nl = tLab[0] + Math.sign(delta) * room * Math.tanh(Math.abs(delta) / room);
        // Chroma fades towards black and white, as real paint does, which also keeps the result in gamut.
        const f = Math.max(0, Math.min(1, nl / Math.max(tLab[0], 8), (100 - nl) / Math.max(100 - tLab[0], 8)));
        rgb = labToRgb([nl, tLab[1] * f, tLab[2] * f]);
      }
      const i = p * c;
      out.data[i] = rgb[0];
      out.data[i + 1] = rgb[1];
      out.data[i + 2] = rgb[2];
    }
  }
  return blendByMask(image, out, m);
}

export const FLUX_RCM = defineBrick({
  name: 'FLUX-RCM',
  kind: 'edit',
  description: 'Change the colour or material of the masked object',
  inputs: {
    image: port.image(),
    mask: port.mask({ description: 'The object to recolour' }),
    prompt: port.str({ description: 'Target colour or material: "light blue", "matte black", "#1e90ff", "gold", "chrome"' }),
  },
  outputs: { image: port.image() },
  constraint:
    'Keeps shape and shading; only colour/material changes. On CPU: any CSS colour name or hex code, light/dark/pale variants, matte/glossy/metallic finishes, ' +
    'and metals faked as tinted high-contrast lightness (gold, silver, chrome, bronze, copper, brass). Textured or transparent materials (wood, glass, marble) ' +
    'and patterns need a GPU host. Pixels outside the mask are untouched.',
  version: '1',
  cpuHeavy: true,
  backends: () => [
    { name: 'cpu-lab-recolour', available: true, detail: 'colour names, hex codes, finishes and metals as shading-preserving colour transforms' },
    gpuHostBackend('generative materials and patterns'),
  ],
  // An empty prompt is the CPU variant's own input error, not a GPU request.
  gpuNeed: ({ prompt }) => (prompt.trim() ? gpuNeedOf(readRecolourPrompt(prompt)) : undefined),
  async run({ image, mask, prompt }, ctx) {
    if (!prompt.trim()) throw new BrickInputError('FLUX-RCM', 'the prompt names no colour or material');
    const target = parseRecolourPrompt(prompt);
    ctx.signal.throwIfAborted();
    ctx.logger.debug({ target: target.kind === 'metal' ? target.name : target.label }, 'FLUX-RCM recolour');
    return { image: await recolour(image, mask, target) };
  },
});
