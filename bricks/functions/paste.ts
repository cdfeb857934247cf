import { port, defineBrick } from '../../src/engine/brick.ts';
import { BrickInputError } from '../../src/engine/errors.ts';
import { rawFromSharp, sharpFromImage } from '../../src/engine/image-io.ts';
import { type ImageData, type MaskData, makeImage, makeMask } from '../../src/engine/values.ts';
import { type Box, fitImage, fitMask, maskBounds } from '../lib/pixels.ts';

/** How far (0–255 per channel, summed) a pixel may be from the border colour and still count as backdrop. */
const BACKDROP_TOLERANCE = 60;

/**
 * The object in a reference photo, without a model: its alpha when it has one (a sticker, a cut-out PNG),
 * else everything not connected to the border through pixels of the border's colour (a product shot on a
 * plain backdrop). When that leaves almost nothing or almost everything, the whole photo is the object.
 */
/** Calls `f` with the index of each pixel on the border of a `w` × `h` image (corners twice). */
function forEachBorderPixel(w: number, h: number, f: (p: number) => void): void {
  for (let x = 0; x < w; x++) {
    f(x);
    f((h - 1) * w + x);
  }
  for (let y = 0; y < h; y++) {
    f(y * w);
    f(y * w + w - 1);
  }
}

export function referenceCutout(ref: ImageData): MaskData {
  const { width: w, height: h, channels: c, data } = ref;
  const cut = makeMask(w, h);
  if (c === 4) {
    for (let p = 0; p < w * h; p++) cut.data[p] = data[p * 4 + 3]!;
    if (cut.data.some((a) => a < 250)) return cut;
  }
  const border: number[][] = [[], [], []];
  forEachBorderPixel(w, h, (p) => {
    for (let k = 0; k < 3; k++) border[k]!.push(data[p * c + k]!);
  });
  const backdrop = border.map((vs) => vs.sort((a, b) => a - b)[vs.length >> 1]!);
  const near = (p: number): boolean =>
    Math.abs(data[p * c]! - backdrop[0]!) + Math.abs(data[p * c + 1]! - backdrop[1]!) + Math.abs(data[p * c + 2]! - backdrop[2]!) <= BACKDROP_TOLERANCE;
  // Flood fill from the border over backdrop-coloured pixels; what it cannot reach is the object.
  const seen = new Uint8Array(w * h);
  // Each pixel is pushed at most once, so a typed stack of w × h never overflows (and stays 4 bytes a pixel).
  const stack = new Int32Array(w * h);
  let top = 0;
  const visit = (p: number): void => {
    if (!seen[p] && near(p)) {
      seen[p] = 1;
      stack[top++] = p;
    }
  };
  forEachBorderPixel(w, h, visit);
  while (top > 0) {
    const p = stack[--top]!;
    const x = p % w;
    if (x > 0) visit(p - 1);
    if (x < w - 1) visit(p + 1);
    if (p >= w) visit(p - w);
    if (p < w * (h - 1)) visit(p + w);
  }
  let inside = 0;
  for (let p = 0; p < w * h; p++) {
    if (seen[p]) continue;
    cut.data[p] = 255;
    inside++;
  }
  const share = inside / (w * h);
  if (share < 0.02 || share > 0.98) cut.data.fill(255);
  return cut;
}

/** `inner` (w × h) scaled to fit inside `box` keeping its shape, centred across it and standing on its bottom edge. */
function placeIn(box: Box, w: number, h: number): Box {
  const scale = Math.min(box.width / w, box.height / h);
  const width = Math.max(1, Math.round(w * scale));
  const height = Math.max(1, Math.round(h * scale));
  return { x: box.x + Math.floor((box.width - width) / 2), y: box.y + box.height - height, width, height };
}

async function crop(img: ImageData, box: Box): Promise<ImageData> {
  return rawFromSharp(sharpFromImage(img).extract({ left: box.x, top: box.y, width: box.width, height: box.height }));
}

async function cropMask(m: MaskData, box: Box): Promise<MaskData> {
  const out = makeMask(box.width, box.height);
  for (let y = 0; y < box.height; y++) out.data.set(m.data.subarray((box.y + y) * m.width + box.x, (box.y + y) * m.width + box.x + box.width), y * box.width);
  return out;
}

export const PASTE = defineBrick({
  name: 'PASTE',
  kind: 'function',
  description: 'Paste the object of a reference photo into the region of a mask',
  inputs: {
    image: port.image({ description: 'The photo to paste into' }),
    reference: port.image({ description: 'The photo of what to paste, usually init[reference]' }),
    mask: port.mask({ description: 'Where: the object is fitted inside this region’s bounding box, standing on its bottom edge' }),
    cutout: port.mask({ optional: true, description: 'The part of the reference to paste; omitted means its alpha, or what stands out from its plain backdrop, or all of it' }),
  },
  outputs: { image: port.image() },
  constraint: 'Needs a reference image from the user (init[reference]); use ADD-PRED for the region when the user names a place.',
  version: '1',
  async run({ image, reference, mask, cutout }, ctx) {
    const where = maskBounds(await fitMask(mask, image.width, image.height), 127);
    // The executor stops on empty masks before a brick runs; a faint one with nothing over half can still arrive.
    if (!where) throw new BrickInputError('PASTE', 'the mask has nothing over half white, so there is nowhere to paste');
    let cut = cutout ? await fitMask(cutout, reference.width, reference.height) : referenceCutout(reference);
    let objectBox = maskBounds(cut, 127);
    if (!objectBox) {
      ctx.warn?.('the cut-out of the second photo was empty, so all of it was pasted');
      cut = makeMask(reference.width, reference.height);
      cut.data.fill(255);
      objectBox = { x: 0, y: 0, width: reference.width, height: reference.height };
    }
    const place = placeIn(where, objectBox.width, objectBox.height);
    const piece = await fitImage(await crop(reference, objectBox), place.width, place.height, 3);
    const alpha = await fitMask(await cropMask(cut, objectBox), place.width, place.height);
    const out = makeImage(image.width, image.height, image.channels, new Uint8Array(image.data));
    const c = image.channels;
    for (let y = 0; y < place.height; y++) {
      const ty = place.y + y;
      if (ty < 0 || ty >= image.height) continue;
      for (let x = 0; x < place.width; x++) {
        const tx = place.x + x;
        if (tx < 0 || tx >= image.width) continue;
        const a = alpha.data[y * place.width + x]!;
        if (a === 0) continue;
        const i = (ty * image.width + tx) * c;
        const j = (y * place.width + x) * 3;
        for (let k = 0; k < 3; k++) out.data[i + k] = Math.round((piece.data[j + k]! * a + image.data[i + k]! * (255 - a)) / 255);
      }
    }
    return { image: out };
  },
});
