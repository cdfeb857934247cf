/**
 * FLUX-STYLE, CPU variant: the styles a deterministic filter renders faithfully.
 * Painterly and artist styles ("Ghibli", "Van Gogh", "oil painting") change
 * content and brushwork, so they need the generative model on a GPU host.
 */
import { defineBrick, port } from '../../src/engine/brick.ts';
import type { ImageData } from '../../src/engine/values.ts';
import { type GpuOnly, gpuHostBackend, gpuNeedOf, gpuOnly, orNeedsGpuHost } from '../lib/backends.ts';
import { tokens } from '../lib/colour.ts';
import { cartoon, filmNoir, grayscale, negative, pencilSketch, posterise, sepia, vintage } from '../lib/filters.ts';
import { blendByMask } from '../lib/pixels.ts';
import { unknownWords } from '../lib/prompt-words.ts';

type Filter = (img: ImageData) => ImageData | Promise<ImageData>;

/** Phrase → filter. Longer phrases are tried first so "black and white" is not read as "white". */
const STYLES: readonly (readonly [string, Filter])[] = [
  ['black and white', grayscale],
  ['black white', grayscale],
  ['b w', grayscale],
  ['bw', grayscale],
  ['monochrome', grayscale],
  ['grayscale', grayscale],
  ['greyscale', grayscale],
  ['gray', grayscale],
  ['grey', grayscale],
  ['film noir', filmNoir],
  ['noir', filmNoir],
  ['sepia', sepia],
  ['pencil sketch', pencilSketch],
  ['pencil drawing', pencilSketch],
  ['pencil', pencilSketch],
  ['sketch', pencilSketch],
  ['posterize', (img) => posterise(img)],
  ['posterise', (img) => posterise(img)],
  ['posterized', (img) => posterise(img)],
  ['posterised', (img) => posterise(img)],
  ['poster', (img) => posterise(img)],
  ['cartoon', cartoon],
  ['cartoonish', cartoon],
  ['comic', cartoon],
  ['vintage', vintage],
  ['retro', vintage],
  ['old photo', vintage],
  ['negative', negative],
  ['inverted', negative],
  ['invert', negative],
];

/** Words that may accompany a style name without changing what it means. */
const ALLOWED = new Set(['old', 'classic', 'film', 'movie', 'drawing', 'drawn', 'hand', 'effect', 'photo', 'colors', 'color', 'fashioned', 'school', 'art']);

/** The filter for a style name, or what only a generative model can render. */
function readStyle(style: string): { name: string; filter: Filter } | GpuOnly {
  const words = tokens(style);
  const joined = ` ${words.join(' ')} `;
  for (const [name, filter] of STYLES) {
    const at = joined.indexOf(` ${name} `);
    if (at < 0) continue;
    // Only the style phrase and harmless words may be present: "sepia" yes, "sepia watercolour" no.
    const rest = `${joined.slice(0, at)} ${joined.slice(at + name.length + 2)}`;
    if (unknownWords(rest, ALLOWED).length === 0) return { name, filter };
    break;
  }
  return gpuOnly(`The "${style}" style (generative style transfer)`);
}

/** The filter for a style name, or a NeedsGpuHostError when only a generative model can render it. */
export function styleFilter(style: string): { name: string; filter: Filter } {
  return orNeedsGpuHost('FLUX-STYLE', readStyle(style));
}

export const FLUX_STYLE = defineBrick({
  name: 'FLUX-STYLE',
  kind: 'edit',
  description: 'Style transfer, whole image or masked part',
  inputs: {
    image: port.image(),
    mask: port.mask({ optional: true, description: 'Only restyle this region; whole image when absent' }),
    prompt: port.str({ description: 'What the image shows' }),
    style: port.str({ description: 'Target style: "sepia", "pencil sketch", "film noir", "Ghibli"' }),
  },
  outputs: { image: port.image() },
  constraint:
    'Changes rendering style, not content. On CPU: black and white, sepia, film noir, pencil sketch, posterise, cartoon, vintage, negative. ' +
    'Artist and painterly styles (Ghibli, Van Gogh, oil painting, watercolour, anime) need a GPU host.',
  version: '1',
  cpuHeavy: true,
  backends: () => [
    { name: 'cpu-filters', available: true, detail: 'black and white, sepia, film noir, pencil sketch, posterise, cartoon, vintage, negative' },
    gpuHostBackend('generative styles'),
  ],
  gpuNeed: ({ style }) => gpuNeedOf(readStyle(style)),
  async run({ image, mask, style }, ctx) {
    const { name, filter } = styleFilter(style);
    ctx.signal.throwIfAborted();
    ctx.logger.debug({ style: name }, 'FLUX-STYLE filter');
    const styled = await filter(image);
    ctx.signal.throwIfAborted();
    return { image: await blendByMask(image, styled, mask) };
  },
});
