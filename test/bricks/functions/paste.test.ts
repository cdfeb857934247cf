/** PASTE: the object of a reference photo, fitted into a region of another photo; nothing outside it changes. */
import { describe, expect, it } from 'vitest';
import { PASTE, referenceCutout } from '../../../bricks/functions/paste.ts';
import type { BrickContext } from '../../../src/engine/brick.ts';
import { Executor } from '../../../src/engine/executor.ts';
import { BrickRegistry } from '../../../src/engine/registry.ts';
import { type ImageData, makeImage } from '../../../src/engine/values.ts';
import { parseWorkflow } from '../../../src/engine/workflow/parse.ts';
import { silentLogger } from '../../../src/logger.ts';
import { rectMask } from '../../support/pixels.ts';
import { solidImage } from '../../support/test-bricks.ts';

const ctx: BrickContext = { signal: new AbortController().signal, progress: () => {}, logger: silentLogger };

/** A `w`×`h` white backdrop with a red block at (x, y, bw, bh). */
function productShot(w: number, h: number, x: number, y: number, bw: number, bh: number): ImageData {
  const img = solidImage(w, h, [250, 250, 250]);
  for (let yy = y; yy < y + bh; yy++) for (let xx = x; xx < x + bw; xx++) img.data.set([220, 20, 30], (yy * w + xx) * 3);
  return img;
}

const px = (img: ImageData, x: number, y: number): number[] => [...img.data.subarray((y * img.width + x) * img.channels, (y * img.width + x) * img.channels + 3)];

describe('PASTE', () => {
  it('pastes the object off its plain backdrop, fitted to the region keeping its shape, standing on its bottom edge', async () => {
    const base = solidImage(100, 80, [90, 120, 90]);
    // A 20×10 red block on white: fitted into a 40×40 region it becomes 40×20, at the region's bottom.
    const reference = productShot(60, 50, 20, 20, 20, 10);
    const { image } = (await PASTE.run({ image: base, reference, mask: rectMask(100, 80, 30, 20, 40, 40), cutout: null } as never, ctx)) as unknown as { image: ImageData };
    expect(px(image, 50, 50)).toEqual([220, 20, 30]);
    expect(px(image, 31, 58)).toEqual([220, 20, 30]);
    // Above the fitted block, inside the region: the backdrop was not pasted.
    expect(px(image, 50, 30)).toEqual([90, 120, 90]);
    // Outside the region every pixel is the base's, bit for bit.
    for (const [x, y] of [[5, 5], [29, 50], [70, 50], [50, 61], [99, 79]] as const) expect(px(image, x, y), `${x},${y}`).toEqual([90, 120, 90]);
  });

  it('takes a reference with transparency by its alpha, and a busy photo whole', async () => {
    const rgba = makeImage(10, 10, 4, new Uint8Array(10 * 10 * 4));
    for (let p = 0; p < 100; p++) rgba.data.set(p % 10 < 5 ? [0, 0, 255, 255] : [0, 0, 0, 0], p * 4);
    expect([...referenceCutout(rgba).data.slice(0, 10)]).toEqual([255, 255, 255, 255, 255, 0, 0, 0, 0, 0]);
    const busy = makeImage(16, 16, 3, Uint8Array.from({ length: 16 * 16 * 3 }, (_, i) => (i * 97) % 256));
    expect(referenceCutout(busy).data).toEqual(new Uint8Array(16 * 16).fill(255));
  });

  it('runs in a workflow on the user’s second photo, init[reference], which the workflow must be given', async () => {
    const executor = new Executor(new BrickRegistry([PASTE]), { cacheBytes: 0 });
    const workflow = parseWorkflow(
      JSON.stringify({ pipeline: [{ step: 1, model: 'PASTE', input: { image: 'init[image]', reference: 'init[reference]', mask: 'init[mask]' }, output: {} }, { result: '[step1[image]]' }] }),
    );
    const image = solidImage(40, 40, [10, 10, 10]);
    const mask = rectMask(40, 40, 10, 10, 20, 20);
    const out = await executor.run(workflow, { image, mask, reference: productShot(30, 30, 10, 10, 10, 10) });
    expect(out.status).toBe('ok');
    if (out.status === 'ok') expect(px(out.results[0] as ImageData, 20, 20)).toEqual([220, 20, 30]);
    const without = await executor.run(workflow, { image, mask });
    expect(without.status).toBe('failed');
    if (without.status === 'failed') expect(without.error.message).toMatch(/uses init\[reference\] but the user gave no reference/);
  });
});
