import { defineBrick, port } from '../../src/engine/brick.ts';
import { rawFromSharp, sharpFromImage } from '../../src/engine/image-io.ts';
import type { ImageData, MaskData } from '../../src/engine/values.ts';
import { makeMask } from '../../src/engine/values.ts';
import { requireImageSize } from '../lib/input-checks.ts';
import type { Box } from '../lib/pixels.ts';
import type { Detection } from '../models/human.ts';
import { detectObjects, humanStatus, personSegmenterStatus } from '../models/human.ts';
import { openCvStatus } from '../models/opencv.ts';
import { prominence } from './referring.ts';
import { checkerboardView, keepComponentsNear, refineBox, refinePerson, resizeMask } from './segment.ts';

/** The detection SOS would choose, if any is confident enough. */
export function mostProminent(dets: readonly Detection[], w: number, h: number, minScore = 0.3): Detection | undefined {
  let best: Detection | undefined;
  let score = 0;
  for (const d of dets) {
    if (d.score < minScore) continue;
    const p = prominence(d, w, h);
    if (p > score) {
      best = d;
      score = p;
    }
  }
  return best;
}

const SAL = 64;

/**
 * Saliency when the detector knows nothing in the picture: colour contrast against the
 * image border (what touches the frame is mostly background), weighted towards the centre,
 * at 64² in Lab-like opponent colours.
 */
export async function saliencyMap(img: ImageData): Promise<MaskData> {
  const small = await rawFromSharp(sharpFromImage(img).removeAlpha().resize(SAL, SAL, { fit: 'fill' }).blur(1));
  const n = SAL * SAL;
  const f = new Float32Array(n * 3);
  for (let p = 0; p < n; p++) {
    const r = small.data[p * 3]!;
    const g = small.data[p * 3 + 1]!;
    const b = small.data[p * 3 + 2]!;
    f[p * 3] = 0.299 * r + 0.587 * g + 0.114 * b;
    f[p * 3 + 1] = r - g;
    f[p * 3 + 2] = 0.5 * (r + g) - b;
  }
  // Border colour clusters: sample the frame and keep its colours.
  const border: number[] = [];
  for (let i = 0; i < SAL; i++) border.push(i, (SAL - 1) * SAL + i, i * SAL, i * SAL + SAL - 1);
  const sal = new Float32Array(n);
  let max = 0;
  for (let p = 0; p < n; p++) {
    // Distance to the nearest border colours (mean of the 8 closest), so a two-coloured background is still background.
    const ds: number[] = [];
    for (const q of border) {
      const d0 = f[p * 3]! - f[q * 3]!;
      const d1 = f[p * 3 + 1]! - f[q * 3 + 1]!;
      const d2 = f[p * 3 + 2]! - f[q * 3 + 2]!;
      ds.push(d0 * d0 + d1 * d1 + d2 * d2);
    }
    ds.sort((a, b) => a - b);
    let s = 0;
    for (let k = 0; k < 8; k++) s += Math.sqrt(ds[k]!);
    const x = (p % SAL) / SAL - 0.5;
    const y = Math.floor(p / SAL) / SAL - 0.5;
    const v = (s / 8) * Math.exp(-(x * x + y * y) / (2 * 0.25 * 0.25));
    sal[p] = v;
    if (v > max) max = v;
  }
  const m = makeMask(SAL, SAL);
  for (let p = 0; p < n; p++) m.data[p] = max > 0 ? Math.round((sal[p]! / max) * 255) : 0;
  return m;
}

/** Box around the salient region: threshold at the mean of the map plus a margin (Achanta et al.), largest blob. */
async function salientBox(img: ImageData, sal: MaskData): Promise<Box | undefined> {
  let mean = 0;
  for (const v of sal.data) mean += v;
  mean /= sal.data.length;
  const bin = makeMask(SAL, SAL);
  const t = Math.max(40, Math.min(200, mean * 2));
  for (let i = 0; i < bin.data.length; i++) bin.data[i] = sal.data[i]! >= t ? 255 : 0;
  const blob = makeMask(SAL, SAL, keepComponentsNear(bin, SAL / 2, SAL / 2));
  let x0 = SAL;
  let y0 = SAL;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < SAL; y++) {
    for (let x = 0; x < SAL; x++) {
      if (!blob.data[y * SAL + x]) continue;
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x);
      y1 = Math.max(y1, y);
    }
  }
  if (x1 < 0 || (x1 - x0 + 1) * (y1 - y0 + 1) < 6) return undefined;
  const kx = img.width / SAL;
  const ky = img.height / SAL;
  return { x: x0 * kx, y: y0 * ky, width: (x1 - x0 + 1) * kx, height: (y1 - y0 + 1) * ky };
}

export const SOS = defineBrick({
  name: 'SOS',
  kind: 'predict',
  description: 'Segmentation of the most salient object',
  inputs: { image: port.image() },
  outputs: { mask: port.mask(), image: port.image({ description: 'Checkerboard-transparency view of the segment' }) },
  constraint:
    'Use when the instruction names no object but means the main subject. Picks the largest, most central, most confident ' +
    'of the 80 COCO object classes; otherwise the region that contrasts most with the image border. One object only.',
  version: '1',
  cpuHeavy: true,
  backends: () => [humanStatus('centernet', 'CenterNet COCO-80 detector'), openCvStatus('GrabCut refinement'), { name: 'saliency', available: true, detail: 'border-contrast saliency when nothing is detected' }, personSegmenterStatus()],
  async run({ image }, ctx) {
    requireImageSize('SOS', image);
    ctx.progress({ fraction: 0.1, message: 'detecting objects' });
    // Low-confidence detections count too (a cat scored 0.21 is still the cat); prominence weighs their score.
    const dets = await detectObjects(image, { minScore: 0.2 });
    ctx.signal.throwIfAborted();
    const best = mostProminent(dets, image.width, image.height, 0.2);
    let mask: MaskData;
    if (best) {
      ctx.logger.debug({ best }, 'SOS: detection');
      const person = best.label === 'person' ? await refinePerson(image, best, ctx.signal) : undefined;
      mask = person ?? (await refineBox(image, best, { signal: ctx.signal }));
    } else {
      const sal = await saliencyMap(image);
      const box = await salientBox(image, sal);
      ctx.logger.debug({ box }, 'SOS: saliency');
      mask = box ? await refineBox(image, box, { signal: ctx.signal, prior: await resizeMask(sal, image.width, image.height) }) : makeMask(image.width, image.height);
    }
    return { mask, image: checkerboardView(image, mask) };
  },
});
