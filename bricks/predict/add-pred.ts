import { defineBrick, port } from '../../src/engine/brick.ts';
import type { MaskData } from '../../src/engine/values.ts';
import type { Box } from '../lib/pixels.ts';
import { boxMask, maskBounds } from '../lib/pixels.ts';
import type { CocoLabel, Detection } from '../models/human.ts';
import { detectObjects, humanStatus } from '../models/human.ts';
import { parseReference } from './referring.ts';
import { resizeMask } from './segment.ts';

/** Typical real height (metres) and width/height of things people add; the reference scale comes from detected objects. */
const SIZES: Partial<Record<CocoLabel, { h: number; aspect: number }>> = {
  person: { h: 1.7, aspect: 0.4 }, bicycle: { h: 1.0, aspect: 1.7 }, car: { h: 1.5, aspect: 2.6 }, motorcycle: { h: 1.1, aspect: 1.9 },
  airplane: { h: 4, aspect: 3 }, bus: { h: 3.2, aspect: 3.2 }, train: { h: 4, aspect: 4 }, truck: { h: 3, aspect: 2.5 }, boat: { h: 1.5, aspect: 2.5 },
  'traffic light': { h: 1, aspect: 0.4 }, 'fire hydrant': { h: 0.8, aspect: 0.6 }, 'stop sign': { h: 2.2, aspect: 0.35 }, bench: { h: 0.85, aspect: 2 },
  bird: { h: 0.25, aspect: 1 }, cat: { h: 0.35, aspect: 1.3 }, dog: { h: 0.6, aspect: 1.3 }, horse: { h: 1.7, aspect: 1.4 }, sheep: { h: 1, aspect: 1.4 },
  cow: { h: 1.5, aspect: 1.6 }, elephant: { h: 3, aspect: 1.4 }, bear: { h: 1.2, aspect: 1.5 }, zebra: { h: 1.4, aspect: 1.5 }, giraffe: { h: 5, aspect: 0.7 },
  backpack: { h: 0.5, aspect: 0.7 }, umbrella: { h: 1, aspect: 1.2 }, handbag: { h: 0.3, aspect: 1.1 }, suitcase: { h: 0.65, aspect: 0.7 },
  'sports ball': { h: 0.22, aspect: 1 }, kite: { h: 1, aspect: 1 }, skateboard: { h: 0.15, aspect: 4 }, surfboard: { h: 2, aspect: 0.3 },
  bottle: { h: 0.3, aspect: 0.3 }, cup: { h: 0.1, aspect: 0.9 }, bowl: { h: 0.1, aspect: 2 }, chair: { h: 0.9, aspect: 0.6 }, couch: { h: 0.9, aspect: 2.3 },
  'potted plant': { h: 0.8, aspect: 0.8 }, bed: { h: 0.6, aspect: 2 }, 'dining table': { h: 0.75, aspect: 1.8 }, tv: { h: 0.6, aspect: 1.7 },
  laptop: { h: 0.25, aspect: 1.4 }, book: { h: 0.25, aspect: 0.7 }, clock: { h: 0.3, aspect: 1 }, vase: { h: 0.35, aspect: 0.5 }, 'teddy bear': { h: 0.4, aspect: 0.8 },
};

/** Objects named outside COCO: rough real size, so "a tree" or "a hat" still gets a plausible box. */
const OTHER_SIZES: [RegExp, { h: number; aspect: number; sky?: boolean }][] = [
  [/\b(tree|palm)\b/, { h: 6, aspect: 0.7 }], [/\b(bush|shrub)\b/, { h: 1, aspect: 1.5 }], [/\b(flower|flowers)\b/, { h: 0.4, aspect: 1 }],
  [/\b(lamp|street ?light|lamppost)\b/, { h: 3, aspect: 0.25 }], [/\b(house|building|cabin)\b/, { h: 7, aspect: 1.3 }],
  [/\b(hat|cap|crown)\b/, { h: 0.2, aspect: 1.3 }], [/\b(glasses|sunglasses)\b/, { h: 0.06, aspect: 2.8 }], [/\b(rock|stone|boulder)\b/, { h: 0.6, aspect: 1.5 }],
  [/\b(sun|moon)\b/, { h: 1, aspect: 1, sky: true }], [/\b(cloud|clouds|rainbow|balloon|airship)\b/, { h: 1, aspect: 2, sky: true }],
  [/\b(sign|signpost|mailbox)\b/, { h: 1.5, aspect: 0.6 }], [/\b(snowman)\b/, { h: 1.5, aspect: 0.7 }], [/\b(fence)\b/, { h: 1.2, aspect: 4 }],
];

const SKY_WORDS = /\b(sky|air|flying|above|overhead)\b/;

interface Placement {
  readonly box: Box;
  readonly why: string;
}

/** Pixels per metre near the ground line, from the most confident detection of known size. */
function scaleFromDetections(dets: readonly Detection[]): { ppm: number; ground: number } | undefined {
  const known = dets.filter((d) => SIZES[d.label] && d.score >= 0.3).sort((a, b) => b.score - a.score);
  const ref = known[0];
  if (!ref) return undefined;
  return { ppm: ref.height / SIZES[ref.label]!.h, ground: ref.y + ref.height };
}

/** The box where the described object goes, inside `area` (the whole image or the user's mask). */
export function placeObject(prompt: string, dets: readonly Detection[], area: Box, imgW: number, imgH: number): Placement {
  const text = prompt.toLowerCase();
  // Relations to a detected object: "next to the car", "on the bench".
  const relation = /\b(next to|beside|near|by|behind|in front of|on top of|on|above|under|below)\s+(the|a|an)\s+([a-z ]+)/.exec(text);
  // The added object is named before the relation ("a hat on the person" adds a hat, not a person).
  const head = relation ? text.slice(0, relation.index) : text;
  const ref = parseReference(text);
  const label = parseReference(head).labels[0];
  const other = OTHER_SIZES.find(([re]) => re.test(head))?.[1];
  const size = (label && SIZES[label]) ?? other ?? { h: 0.6, aspect: 1 };
  const inSky = Boolean(other?.sky) || SKY_WORDS.test(text) || label === 'airplane' || label === 'kite';
  let anchor: Detection | undefined;
  if (relation) {
    const target = parseReference(relation[3]!);
    anchor = dets.filter((d) => target.labels.includes(d.label)).sort((a, b) => b.score - a.score)[0];
  }

  const scale = scaleFromDetections(dets);
  let h: number;
  let why: string;
  if (anchor && SIZES[anchor.label]) {
    h = (anchor.height / SIZES[anchor.label]!.h) * size.h;
    why = `sized against the ${anchor.label}`;
  } else if (scale && !inSky) {
    h = scale.ppm * size.h;
    why = 'sized against detected objects';
  } else {
    // No reference: a medium object at about a third of the frame (or of the user's region).
    h = Math.min(area.height, imgH) * (inSky ? 0.2 : 0.35);
    why = 'default size (no reference object)';
  }
  let w = h * size.aspect;
  // Never larger than the available area.
  const fit = Math.min(1, (area.width * 0.9) / w, (area.height * 0.9) / h);
  w *= fit;
  h *= fit;

  const locs = ref.locatives;
  let cx = area.x + area.width / 2;
  if (locs.includes('left')) cx = area.x + area.width * 0.25;
  else if (locs.includes('right')) cx = area.x + area.width * 0.75;

  let bottom: number;
  if (anchor && relation) {
    const rel = relation[1]!;
    const ax = anchor.x + anchor.width / 2;
    if (/next to|beside|near|by/.test(rel)) {
      const roomLeft = anchor.x - area.x;
      const roomRight = area.x + area.width - (anchor.x + anchor.width);
      const goRight = locs.includes('right') || (!locs.includes('left') && roomRight >= roomLeft);
      cx = goRight ? anchor.x + anchor.width + w * 0.55 : anchor.x - w * 0.55;
      bottom = anchor.y + anchor.height;
    } else if (/on top of|^on$|above/.test(rel)) {
      cx = ax;
      bottom = rel === 'above' ? anchor.y - h * 0.1 : anchor.y + Math.min(anchor.height * 0.15, h * 0.2);
    } else if (/under|below/.test(rel)) {
      cx = ax;
      bottom = anchor.y + anchor.height;
      h = Math.min(h, anchor.height * 0.5);
      w = h * size.aspect;
    } else if (/in front of/.test(rel)) {
      cx = ax;
      bottom = Math.min(area.y + area.height, anchor.y + anchor.height + h * 0.15);
    } else {
      cx = ax + anchor.width * 0.3;
      bottom = anchor.y + anchor.height - anchor.height * 0.1;
    }
    why += `, ${rel} the ${anchor.label}`;
  } else if (inSky || locs.includes('top')) {
    bottom = area.y + area.height * 0.1 + h;
  } else if (locs.includes('bottom') || locs.includes('front')) {
    bottom = area.y + area.height * 0.97;
  } else if (scale && scale.ground > area.y + h && scale.ground <= area.y + area.height) {
    // Stand on the same ground as the detected objects.
    bottom = scale.ground;
  } else {
    bottom = area.y + area.height * 0.92;
  }

  let x = cx - w / 2;
  let y = bottom - h;
  // Slide away from a detected object it would cover (unless it is placed on or in front of one).
  if (!anchor) {
    for (const d of dets) {
      if (d.score < 0.3) continue;
      const ox = Math.min(x + w, d.x + d.width) - Math.max(x, d.x);
      const oy = Math.min(y + h, d.y + d.height) - Math.max(y, d.y);
      if (ox > 0 && oy > 0 && (ox * oy) / (w * h) > 0.3) {
        const leftX = d.x - w - 4;
        const rightX = d.x + d.width + 4;
        const wantLeft = locs.includes('left') || (!locs.includes('right') && Math.abs(leftX + w / 2 - cx) < Math.abs(rightX + w / 2 - cx));
        const nx = wantLeft ? leftX : rightX;
        if (nx >= area.x && nx + w <= area.x + area.width) x = nx;
      }
    }
  }
  x = Math.min(Math.max(x, area.x), area.x + area.width - w);
  y = Math.min(Math.max(y, area.y), area.y + area.height - h);
  return { box: { x, y, width: w, height: h }, why };
}

export const ADD_PRED = defineBrick({
  name: 'ADD-PRED',
  kind: 'predict',
  description: 'Predict where to add the described object',
  inputs: {
    image: port.image(),
    prompt: port.str({ description: 'What is added and where: "a dog on the left", "a hat on the person", "a cat next to the car"' }),
    mask: port.mask({ optional: true, description: 'Limit the placement to this region' }),
  },
  outputs: { mask: port.mask() },
  constraint:
    'Use before FLUX-FILL when adding an object. Returns a box mask: honours left/right/top/bottom/centre, "in the sky", and ' +
    '"next to / on / under / in front of <object>" for detected COCO objects; the size comes from typical real sizes scaled ' +
    'against detected objects (a dog beside a person is about a third of their height).',
  version: '1',
  cpuHeavy: true,
  backends: () => [humanStatus('centernet', 'reference objects for size and ground line')],
  async run({ image, prompt, mask }, ctx) {
    let area: Box = { x: 0, y: 0, width: image.width, height: image.height };
    let limit: MaskData | undefined;
    if (mask) {
      limit = await resizeMask(mask, image.width, image.height);
      const b = maskBounds(limit, 127);
      if (!b) return { mask: boxMask(image.width, image.height, undefined) };
      area = b;
    }
    ctx.progress({ fraction: 0.1, message: 'finding reference objects' });
    const dets = await detectObjects(image, { minScore: 0.3 });
    ctx.signal.throwIfAborted();
    const placed = placeObject(prompt, dets, area, image.width, image.height);
    ctx.logger.debug({ prompt, placed }, 'ADD-PRED: placement');
    const out = boxMask(image.width, image.height, placed.box);
    if (limit) for (let i = 0; i < out.data.length; i++) if (limit.data[i]! < 128) out.data[i] = 0;
    return { mask: out };
  },
});
