import { port, defineBrick } from '../../src/engine/brick.ts';
import { BrickInputError } from '../../src/engine/errors.ts';
import { checkResultSize, rawFromSharp, sharpFromImage } from '../../src/engine/image-io.ts';
import { type ImageData, type MaskData, makeImage, makeMask } from '../../src/engine/values.ts';
import { type Box, largestComponentBounds } from '../lib/pixels.ts';

/**
 * Where the largest object's box goes when scaled by `ratio` about its bottom
 * centre: the bottom edge stays, the box stays centred across its old centre.
 */
export function scaledAboutBottomCentre(box: Box, ratio: number): Box {
  const width = Math.max(1, Math.round(box.width * ratio));
  const height = Math.max(1, Math.round(box.height * ratio));
  return { x: box.x + Math.floor((box.width - width) / 2), y: box.y + box.height - height, width, height };
}

/** Copies `piece` (c bytes a pixel) into a zeroed w × h buffer at `at`, dropping what falls outside. */
function placeInto(out: Uint8Array, w: number, h: number, c: number, piece: Uint8Array, at: Box): void {
  for (let y = Math.max(0, -at.y); y < at.height && at.y + y < h; y++) {
    const x0 = Math.max(0, -at.x);
    const x1 = Math.min(at.width, w - at.x);
    if (x1 <= x0) return;
    out.set(piece.subarray((y * at.width + x0) * c, (y * at.width + x1) * c), ((at.y + y) * w + at.x + x0) * c);
  }
}

async function crop(img: ImageData | MaskData, box: Box, to: Box, kernel: 'nearest' | 'lanczos3'): Promise<Uint8Array> {
  const s = sharpFromImage(img).extract({ left: box.x, top: box.y, width: box.width, height: box.height }).resize(to.width, to.height, { fit: 'fill', kernel });
  if (img.kind === 'mask') return new Uint8Array(await s.toColourspace('b-w').raw().toBuffer());
  return (await rawFromSharp(s)).data;
}

/** The largest object of a mask scaled about its bottom centre, on an empty canvas of the same size. */
async function resizeMaskObject(mask: MaskData, ratio: number): Promise<MaskData> {
  const box = largestComponentBounds(mask.width, mask.height, (p) => mask.data[p]! > 127);
  const out = makeMask(mask.width, mask.height);
  if (!box) return out;
  const to = scaledAboutBottomCentre(box, ratio);
  placeInto(out.data, mask.width, mask.height, 1, await crop(mask, box, to, 'nearest'), to);
  return out;
}

/** The largest opaque object of a cut-out scaled about its bottom centre, on a transparent canvas of the same size. */
async function resizeCutout(image: ImageData, ratio: number): Promise<ImageData> {
  const box = largestComponentBounds(image.width, image.height, (p) => image.data[p * 4 + 3]! > 1);
  if (!box) return image;
  const to = scaledAboutBottomCentre(box, ratio);
  const out = makeImage(image.width, image.height, 4);
  placeInto(out.data, image.width, image.height, 4, await crop(image, box, to, 'lanczos3'), to);
  return out;
}

/** A plain picture zoomed by `ratio` about its centre on a canvas of the same size; zooming out leaves black borders. */
async function zoom(image: ImageData, ratio: number): Promise<ImageData> {
  const { width: w, height: h, channels: c } = image;
  const zw = Math.max(1, Math.round(w * ratio));
  const zh = Math.max(1, Math.round(h * ratio));
  const zoomed = await rawFromSharp(sharpFromImage(image).resize(zw, zh, { fit: 'fill', kernel: 'lanczos3' }));
  const out = makeImage(w, h, c);
  placeInto(out.data, w, h, c, zoomed.data, { x: Math.floor((w - zw) / 2), y: Math.floor((h - zh) / 2), width: zw, height: zh });
  return out;
}

/** The published Lego-Edit RESIZE: the valid part of a mask or image scaled in place; "make the dog smaller". */
export const RESIZE = defineBrick({
  name: 'RESIZE',
  kind: 'function',
  description: 'Resize the width and height of the valid part of input mask or image to the given ratio times original width and height',
  inputs: {
    mask: port.mask({ optional: true, acceptsEmpty: true, description: 'Its largest object is scaled about its bottom centre' }),
    image: port.image({ optional: true, description: 'With transparency: its largest opaque object is scaled about its bottom centre; without: the picture is zoomed about its centre' }),
    ratio: port.float({ min: 0.01, max: 8, description: 'Times the original width and height: 0.5 halves them, 2 doubles them' }),
  },
  outputs: { mask: port.mask({ optional: true, description: 'When given a mask' }), image: port.image({ optional: true, description: 'When given an image' }) },
  inputKinds: [
    { label: 'a mask', ports: ['mask'] },
    { label: 'an image', ports: ['image'] },
  ],
  constraint:
    'Input mask and image must have one to be null: a mask outputs only the resized mask, an image only the resized image. The canvas keeps its size; ' +
    'an object keeps its bottom edge and horizontal centre (the bottom edge stays on the ground). To give the whole picture new dimensions use SCALE.',
  version: '2',
  async run({ mask, image, ratio }) {
    // The validator refuses these plans; a direct call gets the same answer.
    if ((mask === null) === (image === null)) throw new BrickInputError('RESIZE', 'give a mask or an image, one kind per step');
    // The scaled piece (a whole zoomed picture at most) is made at full size before it is placed: bound it first.
    const given = (mask ?? image)!;
    checkResultSize('RESIZE', Math.round(given.width * ratio), Math.round(given.height * ratio));
    if (mask) return { mask: await resizeMaskObject(mask, ratio) };
    if (!image) return {};
    return { image: image.channels === 4 ? await resizeCutout(image, ratio) : await zoom(image, ratio) };
  },
});
