import { describe, expect, it } from 'vitest';
import { FASTINPAINT } from '../../../bricks/edit/fastinpaint.ts';
import { FLUX_INPAINT } from '../../../bricks/edit/flux-inpaint.ts';
import { MASK_SEG } from '../../../bricks/predict/mask-seg.ts';
import { RES } from '../../../bricks/predict/res.ts';
import { SOS } from '../../../bricks/predict/sos.ts';
import { BrickInputError } from '../../../src/engine/errors.ts';
import { makeImage, makeMask } from '../../../src/engine/values.ts';
import { runBrick } from '../predict/helpers.ts';

const tiny = makeImage(1, 1, 3, new Uint8Array([200, 120, 40]));
const grey = makeImage(64, 48, 3, new Uint8Array(64 * 48 * 3).fill(128));
const full = makeMask(64, 48, new Uint8Array(64 * 48).fill(255));

async function refusal(p: Promise<unknown>): Promise<BrickInputError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BrickInputError);
  return err as BrickInputError;
}

describe('bad input to segmentation and removal bricks', () => {
  it('refuses a 1×1 image for RES, SOS and MASK-SEG, naming its size', async () => {
    for (const [brick, inputs] of [
      [RES, { image: tiny, prompt: 'the dog' }],
      [SOS, { image: tiny }],
      [MASK_SEG, { image: tiny, mask: makeMask(1, 1, new Uint8Array([255])) }],
    ] as const) {
      const err = await refusal(runBrick(brick, inputs));
      expect(err.code).toBe('brick-input');
      expect(err.message).toContain(`${brick.name}: the image is 1×1 pixels`);
    }
  });

  it('refuses a removal mask over the whole picture: there is nothing to fill it from', async () => {
    const err = await refusal(runBrick(FASTINPAINT, { image: grey, mask: full }));
    expect(err.message).toMatch(/^FASTINPAINT: the mask covers the whole picture/);
    const err2 = await refusal(runBrick(FLUX_INPAINT, { image: grey, mask: full, preimage: grey, score: 0.5 }));
    expect(err2.message).toMatch(/^FLUX-INPAINT: the mask covers the whole picture/);
  });

  it('refuses a 1×1 image for removal before looking at its mask', async () => {
    const err = await refusal(runBrick(FASTINPAINT, { image: tiny, mask: makeMask(1, 1) }));
    expect(err.message).toContain('1×1 pixels');
  });

  it('still removes from a mask covering most but not all of the picture', async () => {
    const most = makeMask(64, 48, new Uint8Array(64 * 48).fill(255));
    for (let y = 0; y < 48; y++) most.data.fill(0, y * 64, y * 64 + 4);
    const out = await runBrick(FASTINPAINT, { image: grey, mask: most });
    expect(typeof out.score).toBe('number');
  });
});
