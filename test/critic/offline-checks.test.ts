/**
 * The offline checks on real pixels: a recolour of a shared photo's object by
 * the real FLUX-RCM inside its ground-truth mask passes; the same photo with
 * nothing changed, with the whole picture recoloured, or with another region
 * recoloured fails, each for its own reason; a segment that is a block of the
 * picture or a rectangle where an outline was expected fails.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { grown, hasSegmentationSet, otherRegion, recolour, segmentationDir } from '../../bench/critic-cases.ts';
import { checkEffect, checkSegment, offlineChecks, offlineChecksSliced } from '../../src/critic/offline-checks.ts';
import type { CheckInput } from '../../src/critic/types.ts';
import { decodeImage, decodeMask } from '../../src/engine/image-io.ts';
import { makeImage } from '../../src/engine/values.ts';
import { discMask, rectMask } from '../support/pixels.ts';

const checks = (input: CheckInput): string[] => offlineChecks(input).map((f) => f.check);

describe.skipIf(!hasSegmentationSet())('offline checks on a shared photo (skipped: ../shared/benchmarks/segmentation is absent)', async () => {
  const before = hasSegmentationSet() ? await decodeImage(readFileSync(join(segmentationDir, 'images/davis-blackswan.jpg'))) : makeImage(1, 1, 3);
  const swan = hasSegmentationSet() ? await decodeMask(readFileSync(join(segmentationDir, 'masks/davis-blackswan.png'))) : rectMask(1, 1, 0, 0, 1, 1);
  const segments = [{ step: 1, brick: 'RES', prompt: 'the swan', mask: swan, outline: true }];
  const { width: w, height: h } = before;

  it('pass the swan recoloured inside its own outline', async () => {
    expect(checks({ before, after: await recolour(before, swan), editMask: swan, editStep: 2, segments })).toEqual([]);
  });

  it('say "no effect" when the result is the input', () => {
    const findings = offlineChecks({ before, after: before, editMask: swan, editStep: 2, segments });
    expect(findings.map((f) => [f.check, f.step])).toEqual([['no-effect', 2]]);
    expect(findings[0]!.detail).toBe('the result is the same picture as the input');
  });

  it('find a leak when the whole picture was recoloured for a masked edit', async () => {
    expect(checks({ before, after: await recolour(before, rectMask(w, h, 0, 0, w, h)), editMask: swan, editStep: 2, segments })).toEqual(['leak']);
  });

  it('find a leak when the mask was grown far past the object, but not when it grew by a few pixels', async () => {
    expect(checks({ before, after: await recolour(before, grown(swan, Math.round(0.1 * Math.hypot(w, h)))), editMask: swan, editStep: 2, segments })).toEqual(['leak']);
    expect(checks({ before, after: await recolour(before, grown(swan, 3)), editMask: swan, editStep: 2, segments })).toEqual([]);
  });

  it('find no effect inside the mask when a region of the same size elsewhere was recoloured (too small a share of the picture to count as a leak)', async () => {
    expect(checks({ before, after: await recolour(before, otherRegion(swan)), editMask: swan, editStep: 2, segments })).toEqual(['no-effect']);
  });
});

describe('checkSegment', () => {
  const seg = (mask: ReturnType<typeof rectMask>, outline = true) => ({ step: 3, brick: 'RES', prompt: 'the car', mask, outline });

  it('accepts a disc in the middle of the picture', () => {
    expect(checkSegment(seg(discMask(400, 300, 200, 150, 60)), 400, 300)).toEqual([]);
  });

  it('calls a block of the lower 60% too large, along three edges, and a rectangle', () => {
    const findings = checkSegment(seg(rectMask(400, 300, 0, 120, 400, 180)), 400, 300);
    expect(findings.map((f) => f.check).sort()).toEqual(['mask-borders', 'mask-box-shaped', 'mask-too-large']);
    expect(findings.find((f) => f.check === 'mask-too-large')!.detail).toBe('the mask of RES (step 3) for "the car" covers 60% of the picture');
  });

  it('calls a small rectangle box-shaped only where an outline was expected', () => {
    expect(checkSegment(seg(rectMask(400, 300, 100, 100, 80, 60)), 400, 300).map((f) => f.check)).toEqual(['mask-box-shaped']);
    expect(checkSegment(seg(rectMask(400, 300, 100, 100, 80, 60), false), 400, 300)).toEqual([]);
  });

  it('judges a mask of another size as stretched to the picture', () => {
    expect(checkSegment(seg(rectMask(40, 30, 0, 12, 40, 18), false), 400, 300).map((f) => f.check).sort()).toEqual(['mask-borders', 'mask-too-large']);
  });
});

describe('checkEffect without a mask', () => {
  it('accepts any visible change of the whole picture and calls an invisible one no effect', () => {
    const before = makeImage(64, 48, 3);
    const faint = makeImage(64, 48, 3, before.data.map(() => 2));
    const visible = makeImage(64, 48, 3, before.data.map((_, i) => (i < 300 ? 60 : 0)));
    expect(checkEffect({ before, after: visible })).toEqual([]);
    expect(checkEffect({ before, after: faint }).map((f) => f.detail)).toEqual(['the result differs from the input only invisibly']);
  });

  it('does not compare pictures of different sizes', () => {
    expect(checkEffect({ before: makeImage(64, 48, 3), after: makeImage(32, 24, 3) })).toEqual([]);
  });
});

describe('offlineChecksSliced', () => {
  it('finds what offlineChecks finds, and lets the event loop run between its passes', async () => {
    const before = makeImage(400, 300, 3);
    const after = makeImage(400, 300, 3, before.data.map((_, i) => (i % 3 === 0 ? 90 : 0)));
    const input: CheckInput = { before, after, editMask: discMask(400, 300, 200, 150, 60), editStep: 2, segments: [{ step: 1, brick: 'RES', prompt: 'the ball', mask: rectMask(400, 300, 0, 120, 400, 180), outline: true }] };
    let ranBetween = false;
    setImmediate(() => (ranBetween = true));
    const sliced = await offlineChecksSliced(input).then((findings) => ({ findings, ranBetween }));
    expect(sliced.ranBetween).toBe(true);
    expect(sliced.findings).toEqual(offlineChecks(input));
    expect(sliced.findings.map((f) => f.check).sort()).toEqual(['leak', 'mask-borders', 'mask-box-shaped', 'mask-too-large']);
  });
});
