/** The instruction families in the order they are tried: the first that recognises a clause plans it. */
import { add } from './add.ts';
import { background } from './background.ts';
import { blurFaces } from './blur.ts';
import type { Family } from './context.ts';
import { environment } from './environment.ts';
import { extract } from './extract.ts';
import { geometry } from './geometry.ts';
import { outpaint } from './outpaint.ts';
import { pose } from './pose.ts';
import { recolour } from './recolour.ts';
import { removeText } from './remove-text.ts';
import { remove } from './remove.ts';
import { replace } from './replace.ts';
import { namedBrick, search } from './search.ts';
import { style } from './style.ts';
import { tone } from './tone.ts';

export const FAMILIES: ReadonlyArray<[string, Family]> = [
  ['a brick named for it', namedBrick],
  ['background', background],
  ['extract', extract],
  ['text removal', removeText],
  ['blur', blurFaces],
  ['outpaint', outpaint],
  ['geometry', geometry],
  ['environment', environment],
  ['recolour', recolour],
  ['style', style],
  ['tone', tone],
  ['pose', pose],
  ['remove', remove],
  ['add', add],
  ['replace', replace],
  ['search', search],
];

/**
 * Bricks the families plan, from their declarations. Any other brick was
 * registered for a job they do not know, so when the instruction names it
 * ("upscale" → UPSCALER) it is tried first, before a family's generic
 * stand-in (SCALE).
 */
export const PLANNED_BY_FAMILIES: ReadonlySet<string> = new Set(FAMILIES.flatMap(([, f]) => (f.plans === 'any' ? [] : f.plans)));

export const OFFLINE_SUGGESTIONS = [
  '"remove the car"',
  '"change the car colour to light blue"',
  '"replace the left sheep with a dog"',
  '"add a red balloon on the left"',
  '"make the background white" or "blur the background"',
  '"make it look like a pencil sketch"',
  '"make it brighter" or "make it sunset"',
  '"remove the watermark"',
  '"blur everyone\'s face"',
  '"crop to a square", "rotate 90 degrees", "flip horizontally"',
  '"extract the dog"',
  '"expand the image by 25% on the left"',
];
