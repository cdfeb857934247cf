/**
 * The critic's evaluation set: edits of the shared segmentation photos whose
 * right answer is known from their ground-truth masks. For each photo, one
 * correct edit (its object recoloured by the real FLUX-RCM inside the
 * ground-truth mask) and one wrong one, the kinds taken in turn: the edit
 * landed on another region, the mask leaked (grown by a tenth of the
 * diagonal), nothing changed, the whole picture was recoloured, the segmenter
 * returned a block (the bottom 60 % of the picture, as "a block of road"), or
 * the segmenter outlined another region and the edit followed it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { builtinBricks } from '../bricks/index.ts';
import type { CheckInput } from '../src/critic/types.ts';
import { Executor } from '../src/engine/executor.ts';
import { decodeImage, decodeMask } from '../src/engine/image-io.ts';
import { BrickRegistry } from '../src/engine/registry.ts';
import { type ImageData, isImage, makeMask, type MaskData } from '../src/engine/values.ts';
import type { Workflow } from '../src/engine/workflow/types.ts';
import { repoRoot } from './support.ts';

export const segmentationDir = resolve(repoRoot, '../shared/benchmarks/segmentation');

export const WRONG_KINDS = ['edit-elsewhere', 'leaking-mask', 'no-change', 'whole-picture', 'block-mask', 'mask-on-other-object'] as const;
export type CaseKind = 'correct' | (typeof WRONG_KINDS)[number];

export interface CriticCase {
  readonly id: string;
  readonly kind: CaseKind;
  readonly input: CheckInput;
}

const registry = new BrickRegistry(builtinBricks());
const executor = new Executor(registry, { cacheBytes: 0 });

const RECOLOUR: Workflow = {
  nodes: [
    {
      step: 1,
      brick: 'FLUX-RCM',
      inputs: { image: { kind: 'ref', source: { kind: 'init', name: 'image' } }, mask: { kind: 'ref', source: { kind: 'init', name: 'mask' } }, prompt: { kind: 'literal', value: 'purple' } },
      outputs: ['image'],
    },
  ],
  results: [{ kind: 'step', step: 1, output: 'image' }],
};

/** The real FLUX-RCM, run by the Executor, recolouring `mask` of `image` purple. */
export async function recolour(image: ImageData, mask: MaskData): Promise<ImageData> {
  const out = await executor.run(RECOLOUR, { image, mask });
  if (out.status !== 'ok' || !isImage(out.results[0])) throw new Error(`FLUX-RCM did not run: ${out.status === 'failed' ? out.error.message : out.status}`);
  return out.results[0];
}

function maskWhere(w: number, h: number, on: (x: number, y: number) => boolean): MaskData {
  const m = makeMask(w, h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (on(x, y)) m.data[y * w + x] = 255;
  return m;
}

/** Another region of the picture the size of the object: its mirror image (or, for a centred object, its copy shifted by half the width), minus the object. */
export function otherRegion(mask: MaskData): MaskData {
  const { width: w, height: h } = mask;
  const at = (x: number, y: number): boolean => x >= 0 && x < w && mask.data[y * w + x]! > 127;
  const mirrored = maskWhere(w, h, (x, y) => at(w - 1 - x, y) && !at(x, y));
  let n = 0;
  for (const v of mirrored.data) if (v) n++;
  let own = 0;
  for (const v of mask.data) if (v > 127) own++;
  if (n >= own / 2) return mirrored;
  const shift = Math.round(w / 2);
  return maskWhere(w, h, (x, y) => (at(x - shift, y) || at(x + shift, y)) && !at(x, y));
}

/** Grows a mask by `r` pixels (square window). */
export function grown(mask: MaskData, r: number): MaskData {
  const { width: w, height: h } = mask;
  const rows = maskWhere(w, h, (x, y) => {
    for (let dx = -r; dx <= r; dx += Math.max(1, r >> 3)) if (x + dx >= 0 && x + dx < w && mask.data[y * w + x + dx]! > 127) return true;
    return false;
  });
  return maskWhere(w, h, (x, y) => {
    for (let dy = -r; dy <= r; dy += Math.max(1, r >> 3)) if (y + dy >= 0 && y + dy < h && rows.data[(y + dy) * w + x]! > 0) return true;
    return false;
  });
}

interface Entry {
  readonly id: string;
  readonly image: string;
  readonly mask: string;
}

export function hasSegmentationSet(): boolean {
  return existsSync(join(segmentationDir, 'index.json'));
}

/** Every case: one correct and one wrong edit per photo. */
export async function criticCases(): Promise<CriticCase[]> {
  const entries = JSON.parse(readFileSync(join(segmentationDir, 'index.json'), 'utf8')) as Entry[];
  const cases: CriticCase[] = [];
  for (const [i, e] of entries.entries()) {
    const before = await decodeImage(readFileSync(join(segmentationDir, e.image)));
    const mask = await decodeMask(readFileSync(join(segmentationDir, e.mask)));
    const { width: w, height: h } = before;
    const segment = (m: MaskData): CheckInput['segments'] => [{ step: 1, brick: 'RES', prompt: e.id, mask: m, outline: true }];
    cases.push({ id: e.id, kind: 'correct', input: { before, after: await recolour(before, mask), editMask: mask, editStep: 2, segments: segment(mask) } });
    const kind = WRONG_KINDS[i % WRONG_KINDS.length]!;
    let input: CheckInput;
    switch (kind) {
      case 'edit-elsewhere':
        input = { before, after: await recolour(before, otherRegion(mask)), editMask: mask, editStep: 2, segments: segment(mask) };
        break;
      case 'leaking-mask':
        input = { before, after: await recolour(before, grown(mask, Math.round(0.1 * Math.hypot(w, h)))), editMask: mask, editStep: 2, segments: segment(mask) };
        break;
      case 'no-change':
        input = { before, after: before, editMask: mask, editStep: 2, segments: segment(mask) };
        break;
      case 'whole-picture':
        input = { before, after: await recolour(before, maskWhere(w, h, () => true)), editMask: mask, editStep: 2, segments: segment(mask) };
        break;
      case 'block-mask': {
        const block = maskWhere(w, h, (_x, y) => y >= h * 0.4);
        input = { before, after: await recolour(before, block), editMask: block, editStep: 2, segments: segment(block) };
        break;
      }
      case 'mask-on-other-object': {
        const other = otherRegion(mask);
        input = { before, after: await recolour(before, other), editMask: other, editStep: 2, segments: segment(other) };
        break;
      }
    }
    cases.push({ id: `${e.id}/${kind}`, kind, input });
  }
  return cases;
}
