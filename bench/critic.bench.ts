/**
 * The critic's offline checks (issue 21): precision and recall on the
 * evaluation set of bench/critic-cases.ts (one correct and one wrong edit per
 * shared segmentation photo), and their cost beside the run they judge: a
 * 1024×768 recolour of the rally car by the real FLUX-RCM, the cheapest run a
 * masked edit makes (no detector), timed in the same loop.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { boxMask } from '../bricks/lib/pixels.ts';
import { offlineChecks } from '../src/critic/offline-checks.ts';
import { decodeImage } from '../src/engine/image-io.ts';
import { type CaseKind, criticCases, hasSegmentationSet, recolour, segmentationDir } from './critic-cases.ts';
import { photosDir, timePair } from './support.ts';

export async function run(): Promise<void> {
  if (!hasSegmentationSet()) {
    console.log(`skipped: ${segmentationDir} not found (../shared is absent)`);
    return;
  }
  const cases = await criticCases();
  let tp = 0;
  let fp = 0;
  let fn = 0;
  const byKind = new Map<CaseKind, { flagged: number; total: number }>();
  for (const c of cases) {
    const flagged = offlineChecks(c.input).length > 0;
    const wrong = c.kind !== 'correct';
    if (flagged && wrong) tp++;
    else if (flagged) {
      fp++;
      console.log(`  false alarm on ${c.id}: ${offlineChecks(c.input).map((f) => f.detail).join('; ')}`);
    } else if (wrong) fn++;
    const k = byKind.get(c.kind) ?? { flagged: 0, total: 0 };
    byKind.set(c.kind, { flagged: k.flagged + (flagged ? 1 : 0), total: k.total + 1 });
  }
  const correct = cases.filter((c) => c.kind === 'correct').length;
  console.log(`evaluation set: ${cases.length} edits (${correct} correct, ${cases.length - correct} wrong)`);
  console.log(`precision ${(tp / Math.max(1, tp + fp)).toFixed(2)} (${tp}/${tp + fp}), recall ${(tp / Math.max(1, tp + fn)).toFixed(2)} (${tp}/${tp + fn})`);
  for (const [kind, k] of byKind) console.log(`  ${kind}: flagged ${k.flagged}/${k.total}`);

  const file = join(photosDir, 'rally-car.jpg');
  if (!existsSync(file)) return;
  const W = 1024;
  const H = 768;
  const before = await decodeImage(await sharp(readFileSync(file)).resize(W, H, { fit: 'fill' }).png().toBuffer());
  const car = boxMask(W, H, { x: (32 * W) / 279, y: (128 * H) / 310, width: (226 * W) / 279, height: (84 * H) / 310 });
  const after = await recolour(before, car);
  const input = { before, after, editMask: car, editStep: 1, segments: [{ step: 1, brick: 'RES', mask: car, outline: false }] };
  const [runMs, checkMs] = await timePair(() => recolour(before, car), async () => offlineChecks(input), 9, 2);
  console.log(`1024x768: run (FLUX-RCM) ${runMs.toFixed(1)} ms, offline checks ${checkMs.toFixed(2)} ms = ${((checkMs / runMs) * 100).toFixed(1)}% of the run`);
}
