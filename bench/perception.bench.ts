/**
 * Perception bricks on 1024×768 versions of the shared photos: model load times
 * (once per process) and the median of 3 runs per brick after a warm-up.
 * Targets on 2 cores: RES ≤ 2 s, TEXT-DET ≤ 1.5 s.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism, loadavg } from 'node:os';
import pino from 'pino';
import type { AnyBrick, BrickContext } from '../src/engine/brick.ts';
import { decodeImage, rawFromSharp, sharpFromImage } from '../src/engine/image-io.ts';
import type { ImageData, Value } from '../src/engine/values.ts';
import { loadBlazeFace, loadCenterNet } from '../bricks/models/human.ts';
import { loadTextDetector } from '../bricks/models/ocr.ts';
import { loadOpenCv } from '../bricks/models/opencv.ts';
import { ADD_PRED } from '../bricks/predict/add-pred.ts';
import { CMI_PRED } from '../bricks/predict/cmi-pred.ts';
import { FACE_DET } from '../bricks/predict/face-det.ts';
import { RES } from '../bricks/predict/res.ts';
import { SOS } from '../bricks/predict/sos.ts';
import { TEXT_DET } from '../bricks/predict/text-det.ts';
import { median, ms, photosDir } from './support.ts';

const ctx: BrickContext = { signal: new AbortController().signal, progress: () => {}, logger: pino({ level: 'silent' }) };

async function photo1024(name: string): Promise<ImageData> {
  const img = await decodeImage(readFileSync(join(photosDir, name)));
  return rawFromSharp(sharpFromImage(img).resize(1024, 768, { fit: 'fill' }));
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

export async function run(): Promise<void> {
  if (!existsSync(join(photosDir, 'rally-car.jpg'))) {
    console.log('skipped: ../shared/photos is not here');
    return;
  }
  console.log(`cores: ${availableParallelism()}, load average at start: ${loadavg()[0]!.toFixed(1)}`);
  console.log('model loads (first use, once per process):');
  console.log(`  opencv-wasm          ${ms(await timed(loadOpenCv))}`);
  console.log(`  tfjs-wasm:centernet  ${ms(await timed(loadCenterNet))} (includes the wasm backend start)`);
  console.log(`  tfjs-wasm:blazeface  ${ms(await timed(loadBlazeFace))}`);
  console.log(`  onnx:PP-OCRv4 det    ${ms(await timed(loadTextDetector))}`);

  const car = await photo1024('rally-car.jpg');
  const sheep = await photo1024('two-sheep.jpg');
  const suv = await photo1024('white-suv.jpg');
  const portrait = await photo1024('portrait-room.jpg');
  const cases: [string, AnyBrick, Record<string, Value | null>][] = [
    ['RES "car" (rally-car)', RES, { image: car, prompt: 'car' }],
    ['RES "the left sheep"', RES, { image: sheep, prompt: 'the left sheep' }],
    ['SOS (white-suv)', SOS, { image: suv }],
    ['TEXT-DET (white-suv)', TEXT_DET, { image: suv }],
    ['FACE-DET (portrait-room)', FACE_DET, { image: portrait }],
    ['ADD-PRED "a dog on the left"', ADD_PRED, { image: sheep, prompt: 'a dog on the left', mask: null }],
    ['CMI-PRED ratios 1.25', CMI_PRED, { image: suv, left_ratio: 1.25, right_ratio: 1.25, top_ratio: 1, bottom_ratio: 1, ratio: null }],
  ];
  console.log('per brick, 1024×768, median of 3 after a warm-up:');
  for (const [label, brick, inputs] of cases) {
    await brick.run(inputs as never, ctx);
    const times: number[] = [];
    for (let i = 0; i < 3; i++) times.push(await timed(() => brick.run(inputs as never, ctx)));
    console.log(`  ${label.padEnd(32)} ${ms(median(times))}  (runs: ${times.map((t) => t.toFixed(0)).join(', ')} ms)`);
  }
  console.log(`load average at end: ${loadavg()[0]!.toFixed(1)}`);
}
