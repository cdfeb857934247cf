/** Every built-in brick, in catalogue order: the one list the registry is built from. */
import type { AnyBrick } from '../src/engine/brick.ts';
import { type BrickEnvironment, NO_USER_MODELS } from './environment.ts';
import { FASTINPAINT } from './edit/fastinpaint.ts';
import { FLUX_CBG } from './edit/flux-cbg.ts';
import { FLUX_ENV } from './edit/flux-env.ts';
import { fluxFillBrick } from './edit/flux-fill.ts';
import { fluxInpaintBrick } from './edit/flux-inpaint.ts';
import { fluxPoseBrick } from './edit/flux-pose.ts';
import { FLUX_RCM } from './edit/flux-rcm.ts';
import { FLUX_STYLE } from './edit/flux-style.ts';
import { ADJUST } from './functions/adjust.ts';
import { BBOX } from './functions/bbox.ts';
import { COMPOSE } from './functions/compose.ts';
import { PASTE } from './functions/paste.ts';
import { GRAYSCALE } from './functions/grayscale.ts';
import { INVERSE } from './functions/inverse.ts';
import { RESIZE } from './functions/resize.ts';
import { SCALE } from './functions/scale.ts';
import { CROP } from './functions/crop.ts';
import { ROTATE } from './functions/rotate.ts';
import { FLIP } from './functions/flip.ts';
import { DILATE } from './functions/dilate.ts';
import { BLUR } from './functions/blur.ts';
import { ADD_PRED } from './predict/add-pred.ts';
import { CMI_PRED } from './predict/cmi-pred.ts';
import { FACE_DET } from './predict/face-det.ts';
import { maskSegBrick } from './predict/mask-seg.ts';
import { RES } from './predict/res.ts';
import { SOS } from './predict/sos.ts';
import { TEXT_DET } from './predict/text-det.ts';

export function predictBricks(env: BrickEnvironment = NO_USER_MODELS): AnyBrick[] {
  return [RES, SOS, maskSegBrick(env), ADD_PRED, CMI_PRED, TEXT_DET, FACE_DET];
}

export function editBricks(env: BrickEnvironment = NO_USER_MODELS): AnyBrick[] {
  return [FASTINPAINT, fluxFillBrick(env), FLUX_RCM, fluxInpaintBrick(env), FLUX_CBG, FLUX_STYLE, FLUX_ENV, fluxPoseBrick(env)];
}

export const functionBricks: readonly AnyBrick[] = [
  INVERSE, BBOX, COMPOSE, PASTE, RESIZE, SCALE, ADJUST, GRAYSCALE,
  CROP, ROTATE, FLIP, DILATE, BLUR,
];

/** The built-ins, given what they need from configuration (the runtime passes brickEnvironment(config)). */
export function builtinBricks(env: BrickEnvironment = NO_USER_MODELS): AnyBrick[] {
  return [...predictBricks(env), ...editBricks(env), ...functionBricks];
}
