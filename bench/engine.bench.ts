/**
 * Engine figures (issue 2), each a ratio against a baseline measured in the same run:
 * 1. executor overhead: a 6-step workflow of real sharp bricks vs. calling the same bricks directly in sequence;
 * 2. revision reuse: the workflow with only the last step's literal changed, after a first run, vs. a fresh run;
 * 3. encode avoidance: raw pixels between steps vs. a PNG encode/decode between each step.
 */
import { availableParallelism } from 'node:os';
import sharp from 'sharp';
import { ADJUST } from '../bricks/functions/adjust.ts';
import { BBOX } from '../bricks/functions/bbox.ts';
import { COMPOSE } from '../bricks/functions/compose.ts';
import { GRAYSCALE } from '../bricks/functions/grayscale.ts';
import { SCALE } from '../bricks/functions/scale.ts';
import { functionBricks } from '../bricks/index.ts';
import type { AnyBrick, BrickContext } from '../src/engine/brick.ts';
import { Executor } from '../src/engine/executor.ts';
import { decodeImage, decodeMask, encodeImage } from '../src/engine/image-io.ts';
import { BrickRegistry } from '../src/engine/registry.ts';
import type { ImageData, MaskData, Value } from '../src/engine/values.ts';
import { parseWorkflow } from '../src/engine/workflow/parse.ts';
import { silentLogger } from '../src/logger.ts';
import { median, ms, photoBytes, timePair } from './support.ts';

const ctx: BrickContext = { signal: new AbortController().signal, progress: () => {}, logger: silentLogger };
const call = async (b: AnyBrick, inputs: Record<string, Value | null>): Promise<Record<string, Value>> =>
  (await b.run(inputs as never, ctx)) as Record<string, Value>;

function workflow(saturation: number) {
  return parseWorkflow(
    JSON.stringify({
      pipeline: [
        { step: 1, model: 'ADJUST', input: { image: 'init[image]', brightness: 1.1, contrast: 1.2 } },
        { step: 2, model: 'GRAYSCALE', input: { image: 'init[image]' } },
        { step: 3, model: 'BBOX', input: { mask: 'init[mask]' } },
        { step: 4, model: 'COMPOSE', input: { image1: 'step1[image]', image2: 'step2[image]', mask: 'step3[mask]' } },
        { step: 5, model: 'SCALE', input: { image: 'step4[image]', ratio: 0.5 } },
        { step: 6, model: 'ADJUST', input: { image: 'step5[image]', saturation } },
        { result: '[step6[image]]' },
      ],
    }),
  );
}

/** The same six bricks, called by hand in a valid order; `between` runs on every intermediate value. */
async function direct(image: ImageData, mask: MaskData, between: (v: Value) => Promise<Value> = async (v) => v): Promise<Value> {
  const adj = { brightness: 1, contrast: 1, saturation: 1, hue: 0, mask: null };
  const s1 = await between((await call(ADJUST, { ...adj, image, brightness: 1.1, contrast: 1.2 })).image!);
  const s2 = await between((await call(GRAYSCALE, { image, mask: null })).image!);
  const s3 = await between((await call(BBOX, { mask })).mask!);
  const s4 = await between((await call(COMPOSE, { image1: s1, image2: s2, mask: s3, mask1: null, mask2: null })).image!);
  const s5 = await between((await call(SCALE, { image: s4, ratio: 0.5 })).image!);
  return (await call(ADJUST, { ...adj, image: s5, saturation: 1.4 })).image!;
}

async function pngRoundTrip(v: Value): Promise<Value> {
  if (typeof v !== 'object') return v;
  const png = await encodeImage(v, 'png');
  return v.kind === 'mask' ? decodeMask(png) : decodeImage(png);
}

export async function run(): Promise<void> {
  const { bytes, source } = photoBytes();
  const image = await decodeImage(await sharp(bytes).resize(1024, 1024, { fit: 'fill' }).png().toBuffer());
  const maskPng = await sharp({ create: { width: 1024, height: 1024, channels: 3, background: '#000' } })
    .composite([{ input: Buffer.from('<svg width="1024" height="1024"><circle cx="500" cy="540" r="260" fill="#fff"/></svg>') }])
    .png()
    .toBuffer();
  const mask = await decodeMask(maskPng);
  const registry = new BrickRegistry(functionBricks);
  const inputs = { image, mask };

  const check = async (e: Executor): Promise<void> => {
    const o = await e.run(workflow(1.4), inputs);
    if (o.status !== 'ok') throw new Error(`bench workflow failed: ${o.status}`);
  };

  console.log(`photo: ${source}, resized to 1024x1024; medians of 21 interleaved runs after 2 warm-ups`);
  // A fresh Executor per run so nothing is served from cache: this is the cost of scheduling, keys and hashing.
  const [tDirect, tSerial] = await timePair(() => direct(image, mask), () => check(new Executor(registry, { concurrency: 1 })), 21);
  console.log(`1. executor overhead: direct calls ${ms(tDirect)}, executor one step at a time ${ms(tSerial)} → ratio ${(tSerial / tDirect).toFixed(3)} (target ≤ 1.05)`);
  const [tDirect2, tParallel] = await timePair(() => direct(image, mask), () => check(new Executor(registry)), 21);
  console.log(`   executor with concurrency ${availableParallelism()} ${ms(tParallel)} vs direct ${ms(tDirect2)} → ratio ${(tParallel / tDirect2).toFixed(3)}`);

  const revisedTimes: number[] = [];
  const freshTimes: number[] = [];
  for (let i = 0; i < 7; i++) {
    const e = new Executor(registry);
    let t0 = performance.now();
    await e.run(workflow(1.4), inputs);
    freshTimes.push(performance.now() - t0);
    t0 = performance.now();
    const o = await e.run(workflow(1.4 + 0.1 * (i + 1)), inputs);
    revisedTimes.push(performance.now() - t0);
    if (o.trace.filter((t) => t.cache === 'hit').length !== 5) throw new Error('revision did not reuse the five unchanged steps');
  }
  console.log(`2. revision reuse: fresh ${ms(median(freshTimes))}, revised (last literal changed) ${ms(median(revisedTimes))} → ratio ${(median(revisedTimes) / median(freshTimes)).toFixed(3)} (target ≤ 0.25)`);

  const [tRaw, tPng] = await timePair(() => direct(image, mask), () => direct(image, mask, pngRoundTrip), 21);
  console.log(`3. encode avoidance: raw pixels ${ms(tRaw)}, PNG encode/decode between steps ${ms(tPng)} → raw takes ${(tRaw / tPng).toFixed(2)} of the PNG path's time`);

  // Per-brick times for the README's brick table: medians over fresh runs, one step at a time.
  const perStep = new Map<string, number[]>();
  for (let i = 0; i < 7; i++) {
    const o = await new Executor(registry, { concurrency: 1 }).run(workflow(1.4), inputs);
    for (const t of o.trace) if (t.durationMs !== undefined) perStep.set(`${t.step} ${t.brick}`, [...(perStep.get(`${t.step} ${t.brick}`) ?? []), t.durationMs]);
  }
  console.log(`function bricks at 1024×1024, median of 7: ${[...perStep].map(([k, v]) => `${k} ${ms(median(v))}`).join(', ')}`);
}
