/**
 * Edit quality against ground truth (issue 15), on CPU.
 *
 * Segmentation: mean IoU of RES ("the <class>"), SOS and MASK-SEG (a loose box
 * around the true object) on ../shared/benchmarks/segmentation, each photo scaled
 * to fit 1024×768, with the time per photo.
 *
 * Removal: real cut-outs pasted onto the shared photos at 1024×768 and removed
 * again; each fill is compared with the photo underneath (PSNR, and the texture
 * score: Laplacian energy of the fill ÷ that of the true background), against
 * OpenCV Telea on the same holes in the same run.
 *
 * QUALITY_QUICK=1 runs a third of the photos and half the backgrounds (for iterating);
 * QUALITY_PART=segmentation or removal runs one half.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism, loadavg } from 'node:os';
import { FASTINPAINT } from '../bricks/edit/fastinpaint.ts';
import { FLUX_INPAINT } from '../bricks/edit/flux-inpaint.ts';
import { bytesOf, disc, withMats } from '../bricks/lib/cv-mats.ts';
import { holeGrowth } from '../bricks/lib/inpaint.ts';
import { boxMask, maskBounds } from '../bricks/lib/pixels.ts';
import { loadOpenCv } from '../bricks/models/opencv.ts';
import { MASK_SEG } from '../bricks/predict/mask-seg.ts';
import { RES } from '../bricks/predict/res.ts';
import { SOS } from '../bricks/predict/sos.ts';
import type { AnyBrick, BrickContext } from '../src/engine/brick.ts';
import type { ImageData, MaskData, Value } from '../src/engine/values.ts';
import { makeImage } from '../src/engine/values.ts';
import { silentLogger } from '../src/logger.ts';
import { iou, laplacianEnergy, mean, psnr, textureScore } from './quality/metrics.ts';
import { type RemovalCase, REMOVAL_BACKGROUNDS, removalCases } from './quality/removal-set.ts';
import { hasSegmentationSet, loadSegmentationCase, referringPhrase, segmentationIndex } from './quality/segmentation-set.ts';
import { median, photosDir } from './support.ts';

const ctx: BrickContext = { signal: new AbortController().signal, progress: () => {}, logger: silentLogger };
const call = async (b: AnyBrick, inputs: Record<string, Value | null>): Promise<Record<string, Value>> => (await b.run(inputs as never, ctx)) as Record<string, Value>;
const quick = process.env.QUALITY_QUICK === '1';
const part = process.env.QUALITY_PART;

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

/** The true object's box grown by 10 % of its size on each side: a user's loose outline. */
function looseBox(truth: MaskData): MaskData {
  const b = maskBounds(truth, 127)!;
  const m = 0.1 * Math.max(b.width, b.height);
  return boxMask(truth.width, truth.height, { x: b.x - m, y: b.y - m, width: b.width + 2 * m, height: b.height + 2 * m });
}

async function segmentation(): Promise<void> {
  const entries = segmentationIndex().filter((_, i) => !quick || i % 3 === 0);
  console.log(`segmentation: ${entries.length} photos from ../shared/benchmarks/segmentation, scaled to fit 1024×768${quick ? ' (quick subset)' : ''}`);
  const bricks: [string, (img: ImageData, truth: MaskData, cls: string) => Promise<MaskData>][] = [
    ['RES', async (image, _t, cls) => (await call(RES, { image, prompt: referringPhrase(cls) })).mask as MaskData],
    ['SOS', async (image) => (await call(SOS, { image })).mask as MaskData],
    ['MASK-SEG', async (image, truth) => (await call(MASK_SEG, { image, mask: looseBox(truth) })).mask as MaskData],
  ];
  const scores = new Map<string, { iou: number[]; ms: number[]; byClass: Map<string, number[]> }>();
  for (const [name] of bricks) scores.set(name, { iou: [], ms: [], byClass: new Map() });
  // Model loads once, outside the timings.
  const first = await loadSegmentationCase(entries[0]!);
  for (const [, run] of bricks) await run(first.image, first.truth, first.class);
  console.log(`  ${'photo'.padEnd(26)} ${'class'.padEnd(18)} ${bricks.map(([n]) => n.padStart(9)).join(' ')}   (IoU)`);
  for (const e of entries) {
    const c = await loadSegmentationCase(e);
    const row: string[] = [];
    for (const [name, run] of bricks) {
      const [mask, t] = await timed(() => run(c.image, c.truth, c.class));
      const v = iou(mask, c.truth);
      const s = scores.get(name)!;
      s.iou.push(v);
      s.ms.push(t);
      const list = s.byClass.get(c.class.split('+')[0]!) ?? [];
      list.push(v);
      s.byClass.set(c.class.split('+')[0]!, list);
      row.push(v.toFixed(2).padStart(9));
    }
    console.log(`  ${c.id.padEnd(26)} ${c.class.padEnd(18)} ${row.join(' ')}`);
  }
  console.log('  per class (first named class; mean IoU, photos):');
  const classes = [...scores.get('RES')!.byClass.keys()].sort();
  for (const cls of classes) {
    const cells = bricks.map(([n]) => mean(scores.get(n)!.byClass.get(cls)!).toFixed(2).padStart(9)).join(' ');
    console.log(`    ${cls.padEnd(14)} n=${String(scores.get('RES')!.byClass.get(cls)!.length).padEnd(3)} ${cells}`);
  }
  for (const [name] of bricks) {
    const s = scores.get(name)!;
    console.log(`  ${name.padEnd(9)} mean IoU ${mean(s.iou).toFixed(3)}  median ${median(s.iou).toFixed(3)}  ≥0.8: ${s.iou.filter((v) => v >= 0.8).length}/${s.iou.length}  time per photo: median ${median(s.ms).toFixed(0)} ms, max ${Math.max(...s.ms).toFixed(0)} ms`);
  }
}

/** The hole as the removal bricks see it: binarised and dilated by the same growth. */
async function evalRegion(hole: MaskData): Promise<Uint8Array> {
  const cv = await loadOpenCv();
  return withMats(cv, (s) => {
    const m = s.fromBytes(hole.data.map((v) => (v >= 128 ? 255 : 0)), hole.height, hole.width, 1);
    cv.dilate(m, m, disc(cv, s, holeGrowth(hole.width, hole.height)));
    return bytesOf(m);
  });
}

/** OpenCV Telea at full resolution on the same dilated hole: the reference every fill is compared with. */
async function telea(image: ImageData, region: Uint8Array): Promise<ImageData> {
  const cv = await loadOpenCv();
  return withMats(cv, (s) => {
    const src = s.fromBytes(image.data, image.height, image.width, 3);
    const m = s.fromBytes(region, image.height, image.width, 1);
    const dst = s.mat();
    cv.inpaint(src, m, dst, 5, cv.INPAINT_TELEA);
    return makeImage(image.width, image.height, 3, bytesOf(dst));
  });
}

/** Background whose Laplacian energy under the hole is at least this is "textured" (grass, foliage, gravel). */
const TEXTURED = 6;

async function removal(): Promise<void> {
  if (!existsSync(join(photosDir, REMOVAL_BACKGROUNDS[0]!))) {
    console.log('removal: skipped, ../shared/photos is absent');
    return;
  }
  const objects = segmentationIndex().filter((e) => /^(person|dog|cat|bear|teddy bear|sandwich|cake|clock|potted plant|motorcycle|bird|goat|camel)$/.test(e.class));
  const backgrounds = quick ? REMOVAL_BACKGROUNDS.filter((_, i) => i % 2 === 0) : REMOVAL_BACKGROUNDS;
  const cases: RemovalCase[] = await removalCases(objects, 1024, 768, (name) => backgrounds.includes(name));
  console.log(`removal: ${cases.length} pastes of real cut-outs onto ${backgrounds.length} shared photos at 1024×768; PSNR (dB) and texture (fill ÷ truth Laplacian energy) inside the dilated hole`);
  const methods: [string, (c: RemovalCase, region: Uint8Array) => Promise<ImageData>][] = [
    ['Telea', (c, region) => telea(c.image, region)],
    ['FASTINPAINT', async (c) => (await call(FASTINPAINT, { image: c.image, mask: c.hole })).image as ImageData],
    [
      'FLUX-INPAINT',
      async (c) => {
        const fast = await call(FASTINPAINT, { image: c.image, mask: c.hole });
        return (await call(FLUX_INPAINT, { image: c.image, mask: c.hole, preimage: fast.image!, score: fast.score! })).image as ImageData;
      },
    ],
  ];
  await methods[2]![1](cases[0]!, await evalRegion(cases[0]!.hole));
  const stats = new Map(methods.map(([n]) => [n, { psnr: [] as number[], tex: [] as number[], texTextured: [] as number[], ms10: [] as number[], gain: [] as number[] }]));
  console.log(`  ${'case'.padEnd(34)} ${'truth tex'.padStart(9)} ${methods.map(([n]) => `${n} dB/tex/ms`.padStart(24)).join(' ')}`);
  for (const c of cases) {
    const region = await evalRegion(c.hole);
    const truthEnergy = laplacianEnergy(c.truth, region);
    const cells: string[] = [];
    let teleaDb = 0;
    for (const [name, run] of methods) {
      const [fill, t] = await timed(() => run(c, region));
      const db = psnr(fill, c.truth, region);
      const tex = textureScore(fill, c.truth, region);
      const s = stats.get(name)!;
      if (name === 'Telea') teleaDb = db;
      s.psnr.push(db);
      s.gain.push(db - teleaDb);
      s.tex.push(tex);
      if (truthEnergy >= TEXTURED) s.texTextured.push(tex);
      if (c.fraction > 0.07) s.ms10.push(t);
      cells.push(`${db.toFixed(1)}/${tex.toFixed(2)}/${t.toFixed(0)}`.padStart(24));
    }
    console.log(`  ${c.label.padEnd(34)} ${truthEnergy.toFixed(1).padStart(9)} ${cells.join(' ')}`);
  }
  for (const [name] of methods) {
    const s = stats.get(name)!;
    const texT = s.texTextured;
    console.log(
      `  ${name.padEnd(13)} PSNR mean ${mean(s.psnr).toFixed(2)} dB (vs Telea ${mean(s.gain) >= 0 ? '+' : ''}${mean(s.gain).toFixed(2)} dB)  ` +
        `texture median ${median(s.tex).toFixed(2)}, on ${texT.length} textured: median ${median(texT).toFixed(2)}, in 0.7–1.3: ${texT.filter((v) => v >= 0.7 && v <= 1.3).length}/${texT.length}  ` +
        `time for ~10 % holes: median ${median(s.ms10).toFixed(0)} ms`,
    );
  }
}

export async function run(): Promise<void> {
  console.log(`cores: ${availableParallelism()}, load average at start: ${loadavg()[0]!.toFixed(1)}`);
  if (!hasSegmentationSet) {
    console.log('skipped: ../shared/benchmarks/segmentation is not here');
    return;
  }
  if (part !== 'removal') await segmentation();
  if (part !== 'segmentation') await removal();
  console.log(`load average at end: ${loadavg()[0]!.toFixed(1)}`);
}
