/** Every built-in brick, in catalogue order: the one list the registry is built from. */
import type { AnyBrick } from '../src/engine/brick.ts';
import { FASTINPAINT } from './edit/fastinpaint.ts';
import { FLUX_CBG } from './edit/flux-cbg.ts';
import { FLUX_ENV } from './edit/flux-env.ts';
import { FLUX_FILL } from './edit/flux-fill.ts';
import { FLUX_INPAINT } from './edit/flux-inpaint.ts';
import { FLUX_POSE } from './edit/flux-pose.ts';
import { FLUX_RCM } from './edit/flux-rcm.ts';
import { FLUX_STYLE } from './edit/flux-style.ts';
import { ADJUST } from './functions/adjust.ts';
import { BBOX } from './functions/bbox.ts';
import { COMPOSE } from './functions/compose.ts';
import { PASTE } from './functions/paste.ts';
import { GRAYSCALE } from './functions/grayscale.ts';
import { INVERSE } from './functions/inverse.ts';
import { RESIZE } from './functions/resize.ts';
import { CROP } from './functions/crop.ts';
import { ROTATE } from './functions/rotate.ts';
import { FLIP } from './functions/flip.ts';
import { DILATE } from './functions/dilate.ts';
import { BLUR } from './functions/blur.ts';
import { ADD_PRED } from './predict/add-pred.ts';
import { CMI_PRED } from './predict/cmi-pred.ts';
import { FACE_DET } from './predict/face-det.ts';
import { MASK_SEG } from './predict/mask-seg.ts';
import { RES } from './predict/res.ts';
import { SOS } from './predict/sos.ts';
import { TEXT_DET } from './predict/text-det.ts';

export const predictBricks: readonly AnyBrick[] = [RES, SOS, MASK_SEG, ADD_PRED, CMI_PRED, TEXT_DET, FACE_DET];
export const editBricks: readonly AnyBrick[] = [FASTINPAINT, FLUX_FILL, FLUX_RCM, FLUX_INPAINT, FLUX_CBG, FLUX_STYLE, FLUX_ENV, FLUX_POSE];
export const functionBricks: readonly AnyBrick[] = [
  INVERSE, BBOX, COMPOSE, PASTE, RESIZE, ADJUST, GRAYSCALE,
  CROP, ROTATE, FLIP, DILATE, BLUR,
];

export function builtinBricks(): AnyBrick[] {
  return [...predictBricks, ...editBricks, ...functionBricks];
}
