import { defineBrick, port } from '../../src/engine/brick.ts';
import { rawFromSharp, sharpFromImage } from '../../src/engine/image-io.ts';
import type { ImageData, MaskData } from '../../src/engine/values.ts';
import { makeMask } from '../../src/engine/values.ts';
import type { FaceDetection } from '../models/human.ts';
import { detectFaces, humanStatus } from '../models/human.ts';

/**
 * BlazeFace scores real faces on the shared photos at 0.82–0.94 and fires on sheep, a car's
 * grille and a butterfly at 0.46–0.62; 0.75 separates them with margin on both sides.
 */
export const FACE_MIN_SCORE = 0.75;

function iou(a: FaceDetection, b: FaceDetection): number {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  return inter / (a.width * a.height + b.width * b.height - inter);
}

/**
 * Faces at any size: the whole image, and for large images also overlapping tiles,
 * because BlazeFace sees a 256² thumbnail and misses faces under about 20 px there.
 */
export async function findFaces(img: ImageData, signal?: AbortSignal): Promise<FaceDetection[]> {
  const all = [...(await detectFaces(img, { minScore: FACE_MIN_SCORE }))];
  const side = Math.max(img.width, img.height);
  if (side > 700) {
    const n = side > 1800 ? 3 : 2;
    const tw = Math.ceil((img.width / n) * 1.3);
    const th = Math.ceil((img.height / n) * 1.3);
    for (let ty = 0; ty < n; ty++) {
      for (let tx = 0; tx < n; tx++) {
        signal?.throwIfAborted();
        const left = Math.min(img.width - tw, Math.max(0, Math.round((tx * img.width) / n - tw * 0.115)));
        const top = Math.min(img.height - th, Math.max(0, Math.round((ty * img.height) / n - th * 0.115)));
        const tile = await rawFromSharp(sharpFromImage(img).extract({ left, top, width: tw, height: th }));
        for (const f of await detectFaces(tile, { minScore: FACE_MIN_SCORE })) {
          all.push({ ...f, x: f.x + left, y: f.y + top, landmarks: f.landmarks.map(([x, y]) => [x + left, y + top] as const) });
        }
      }
    }
  }
  all.sort((a, b) => b.score - a.score);
  const kept: FaceDetection[] = [];
  for (const f of all) if (kept.every((k) => iou(k, f) < 0.3)) kept.push(f);
  return kept;
}

/**
 * An ellipse around each face. BlazeFace's box spans brows to mouth; the ellipse is grown to
 * take in forehead, chin and cheeks (an anonymising blur must cover the whole face).
 */
export function faceEllipses(w: number, h: number, faces: readonly FaceDetection[]): MaskData {
  const m = makeMask(w, h);
  for (const f of faces) {
    const cx = f.x + f.width / 2;
    const cy = f.y + f.height * 0.45;
    const rx = f.width * 0.62;
    const ry = f.height * 0.78;
    const soft = Math.max(1.5, rx * 0.08);
    for (let y = Math.max(0, Math.floor(cy - ry - soft)); y < Math.min(h, Math.ceil(cy + ry + soft)); y++) {
      for (let x = Math.max(0, Math.floor(cx - rx - soft)); x < Math.min(w, Math.ceil(cx + rx + soft)); x++) {
        const d = Math.hypot((x + 0.5 - cx) / rx, (y + 0.5 - cy) / ry);
        // Distance from the edge in pixels (approximately), ramped over `soft` pixels.
        const edge = (1 - d) * Math.min(rx, ry);
        const v = edge >= soft / 2 ? 255 : edge <= -soft / 2 ? 0 : Math.round(((edge + soft / 2) / soft) * 255);
        const i = y * w + x;
        if (v > m.data[i]!) m.data[i] = v;
      }
    }
  }
  return m;
}

export const FACE_DET = defineBrick({
  name: 'FACE-DET',
  kind: 'predict',
  description: 'Detect faces',
  inputs: { image: port.image() },
  outputs: { mask: port.mask() },
  constraint:
    'Use for face anonymisation (blur or pixelate the faces). Marks every face that looks towards the camera, as an ellipse ' +
    'over forehead to chin; profiles turned more than about 60° and faces under ~15 px may be missed. Empty mask when there are no faces.',
  version: '1',
  cpuHeavy: true,
  backends: () => [humanStatus('blazeface', `BlazeFace (back-camera model), score ≥ ${FACE_MIN_SCORE}`)],
  async run({ image }, ctx) {
    ctx.progress({ fraction: 0.1, message: 'finding faces' });
    const faces = await findFaces(image, ctx.signal);
    ctx.logger.debug({ faces: faces.map((f) => ({ score: f.score, x: f.x, y: f.y, w: f.width, h: f.height })) }, 'FACE-DET: faces');
    return { mask: faceEllipses(image.width, image.height, faces) };
  },
});
