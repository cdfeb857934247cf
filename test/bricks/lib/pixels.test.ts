import { describe, expect, it } from 'vitest';
import { blendByMask, fitMask } from '../../../bricks/lib/pixels.ts';
import { rectMask } from '../../support/pixels.ts';
import { solidImage } from '../../support/test-bricks.ts';

describe('fitMask', () => {
  it('scales a mask to a new size and keeps it a one-band mask', async () => {
    const left = rectMask(10, 10, 0, 0, 5, 10);
    const m = await fitMask(left, 40, 20);
    expect([m.width, m.height, m.data.length]).toEqual([40, 20, 800]);
    expect(m.data[0]).toBe(255); // top-left stays inside
    expect(m.data[39]).toBe(0); // top-right stays outside
    expect(m.data[19 * 40 + 5]).toBe(255);
  });
});

describe('blendByMask', () => {
  it('applies a mask drawn at another resolution to the matching region', async () => {
    const base = solidImage(40, 40, [0, 0, 0]);
    const edited = solidImage(40, 40, [255, 255, 255]);
    const out = await blendByMask(base, edited, rectMask(4, 4, 0, 0, 2, 4));
    expect(out.data[(10 * 40 + 5) * 3]).toBe(255);
    expect(out.data[(10 * 40 + 35) * 3]).toBe(0);
  });
});
