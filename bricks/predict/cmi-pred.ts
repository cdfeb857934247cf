import { defineBrick, port } from '../../src/engine/brick.ts';
import { BrickInputError } from '../../src/engine/errors.ts';
import { rawFromSharp, sharpFromImage } from '../../src/engine/image-io.ts';
import type { ImageData, MaskData } from '../../src/engine/values.ts';
import { makeImage, makeMask } from '../../src/engine/values.ts';
import type { Detection } from '../models/human.ts';
import { detectObjects, humanStatus } from '../models/human.ts';
import { colourOf, dominantColour } from './referring.ts';
import { mostProminent } from './sos.ts';

const NUMBERS = ['no', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
const IRREGULAR: Record<string, string> = { person: 'people', sheep: 'sheep', mouse: 'mice', knife: 'knives', bus: 'buses', skis: 'skis', 'hair drier': 'hair driers', 'wine glass': 'wine glasses', couch: 'couches', sandwich: 'sandwiches', toothbrush: 'toothbrushes', bench: 'benches' };

function plural(label: string, n: number): string {
  const noun = n === 1 ? label : (IRREGULAR[label] ?? `${label}s`);
  if (n === 1) return `${/^[aeiou]/.test(label) ? 'an' : 'a'} ${noun}`;
  return `${NUMBERS[n] ?? 'many'} ${noun}`;
}

/** What the lower and upper bands of the frame look like, in words; crude, but it is what colour alone tells. */
function sceneWords(img: ImageData): { ground?: string; sky?: string } {
  const band = (y0: number, y1: number): Map<string, number> => {
    const counts = new Map<string, number>();
    let n = 0;
    const step = Math.max(1, Math.floor(Math.sqrt((img.width * (y1 - y0)) / 3000)));
    for (let y = y0; y < y1; y += step) {
      for (let x = 0; x < img.width; x += step) {
        const i = (y * img.width + x) * img.channels;
        const c = colourOf(img.data[i]!, img.data[i + 1]!, img.data[i + 2]!);
        counts.set(c, (counts.get(c) ?? 0) + 1);
        n++;
      }
    }
    for (const [k, v] of counts) counts.set(k, v / Math.max(1, n));
    return counts;
  };
  const low = band(Math.floor(img.height * 0.8), img.height);
  const high = band(0, Math.ceil(img.height * 0.2));
  const out: { ground?: string; sky?: string } = {};
  if ((low.get('green') ?? 0) > 0.5) out.ground = 'on grass';
  else if ((low.get('gray') ?? 0) + (low.get('black') ?? 0) > 0.6) out.ground = 'on a road';
  else if ((low.get('brown') ?? 0) + (low.get('orange') ?? 0) > 0.5) out.ground = 'on sand or soil';
  else if ((low.get('blue') ?? 0) > 0.5) out.ground = 'by the water';
  if ((high.get('blue') ?? 0) > 0.5) out.sky = 'under a blue sky';
  else if ((high.get('white') ?? 0) + (high.get('gray') ?? 0) > 0.7 && (low.get('white') ?? 0) < 0.3) out.sky = 'under a pale sky';
  return out;
}

/** "a photo of a white car on a road", from the detections and the colours of the frame. */
export function composeCaption(img: ImageData, dets: readonly Detection[]): string {
  const confident = dets.filter((d) => d.score >= 0.3);
  const main = mostProminent(confident, img.width, img.height);
  const scene = sceneWords(img);
  const where = [scene.ground, scene.sky].filter(Boolean).join(' ');
  if (!main) return `a photo${where ? ` ${where}` : ''}`;
  const count = (label: string): number => confident.filter((d) => d.label === label).length;
  const n = count(main.label);
  let subject: string;
  if (n === 1) {
    const colour = main.label === 'person' ? undefined : dominantColour(img, main);
    subject = colour ? `${/^[aeiou]/.test(colour) ? 'an' : 'a'} ${colour} ${main.label}` : plural(main.label, 1);
  } else {
    subject = plural(main.label, n);
  }
  const others = [...new Set(confident.map((d) => d.label))].filter((l) => l !== main.label).slice(0, 2);
  const withOthers = others.length ? ` with ${others.map((l) => plural(l, count(l))).join(' and ')}` : '';
  return `a photo of ${subject}${withOthers}${where ? ` ${where}` : ''}`;
}

/**
 * The canvas for outpainting: the photo in the middle, the new margins filled by edge
 * replication and then heavily blurred, so a fill model starts from plausible colours
 * rather than a hard seam or black.
 */
export async function expandCanvas(img: ImageData, ratios: { left: number; right: number; top: number; bottom: number }): Promise<{ image: ImageData; mask: MaskData }> {
  const left = Math.round(img.width * ratios.left);
  const right = Math.round(img.width * ratios.right);
  const top = Math.round(img.height * ratios.top);
  const bottom = Math.round(img.height * ratios.bottom);
  const w = img.width + left + right;
  const h = img.height + top + bottom;
  const mask = makeMask(w, h);
  mask.data.fill(255);
  for (let y = 0; y < img.height; y++) mask.data.fill(0, (y + top) * w + left, (y + top) * w + left + img.width);
  if (!left && !right && !top && !bottom) return { image: img, mask };
  const extended = await rawFromSharp(sharpFromImage(img).extend({ left, right, top, bottom, extendWith: 'copy' }));
  const sigma = Math.max(2, Math.max(left, right, top, bottom) / 6);
  const blurred = await rawFromSharp(sharpFromImage(extended).blur(sigma));
  const c = img.channels;
  const out = makeImage(w, h, c, new Uint8Array(blurred.data));
  // The photo itself stays bit-identical.
  for (let y = 0; y < img.height; y++) out.data.set(img.data.subarray(y * img.width * c, (y + 1) * img.width * c), ((y + top) * w + left) * c);
  return { image: out, mask };
}

export const CMI_PRED = defineBrick({
  name: 'CMI-PRED',
  kind: 'predict',
  description: 'Caption the image; with ratios, set up an outpainting canvas',
  inputs: {
    image: port.image(),
    left_ratio: port.float({ optional: true, min: 0, max: 4 }),
    right_ratio: port.float({ optional: true, min: 0, max: 4 }),
    top_ratio: port.float({ optional: true, min: 0, max: 4 }),
    bottom_ratio: port.float({ optional: true, min: 0, max: 4 }),
  },
  outputs: { caption: port.str(), image: port.image(), mask: port.mask() },
  constraint:
    'Ratios are fractions of the width/height added on each side; give all four or none. Without ratios the image is returned ' +
    'unchanged with an empty mask. Without a configured MLLM the caption is composed from detected COCO objects and the ' +
    'colours of the frame ("a photo of a white car on a road"), so it names objects, not actions or styles.',
  version: '1',
  backends: () => [humanStatus('centernet', 'caption composed from detections'), { name: 'mllm', available: false, detail: 'no MLLM configured for captions' }],
  async run({ image, left_ratio, right_ratio, top_ratio, bottom_ratio }, ctx) {
    const ratios = [left_ratio, right_ratio, top_ratio, bottom_ratio];
    const given = ratios.filter((r) => r !== null && r !== undefined).length;
    if (given !== 0 && given !== 4) {
      throw new BrickInputError('CMI-PRED', `give all four ratios (left, right, top, bottom) or none; got ${given}`);
    }
    ctx.progress({ fraction: 0.1, message: 'describing the image' });
    const dets = await detectObjects(image, { minScore: 0.3 });
    ctx.signal.throwIfAborted();
    const caption = composeCaption(image, dets);
    if (given === 0) return { caption, image, mask: makeMask(image.width, image.height) };
    const { image: canvas, mask } = await expandCanvas(image, { left: left_ratio!, right: right_ratio!, top: top_ratio!, bottom: bottom_ratio! });
    return { caption, image: canvas, mask };
  },
});
