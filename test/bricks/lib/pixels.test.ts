import { describe, expect, it } from 'vitest';
import { blendByMask, fitMask, maskBounds } from '../../../bricks/lib/pixels.ts';
import { makeMask } from '../../../src/engine/values.ts';
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

describe('maskBounds', () => {
  /** The box by looking at every pixel, to compare against. */
  const everyPixel = (width: number, height: number, data: Uint8Array) => {
    let [x0, y0, x1, y1] = [width, height, -1, -1];
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (!data[y * width + x]) continue;
        [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
      }
    }
    return x1 < 0 ? undefined : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
  };

  it('finds the box of the set pixels for any width, any placement and a buffer starting off a four-byte boundary', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let trial = 0; trial < 300; trial++) {
      const width = 1 + Math.floor(random() * 37);
      const height = 1 + Math.floor(random() * 9);
      // A view into a larger buffer at an odd offset, as a mask cut from another buffer can be.
      const offset = Math.floor(random() * 4);
      const data = new Uint8Array(width * height + offset).subarray(offset);
      const dots = Math.floor(random() * 4);
      for (let k = 0; k < dots; k++) data[Math.floor(random() * data.length)] = 1 + Math.floor(random() * 255);
      if (random() < 0.3) {
        const [x, y] = [Math.floor(random() * width), Math.floor(random() * height)];
        for (let yy = y; yy < Math.min(height, y + 4); yy++) data.fill(255, yy * width + x, yy * width + Math.min(width, x + 9));
      }
      expect(maskBounds(makeMask(width, height, data)), `trial ${trial}: ${width}×${height} at +${offset}`).toEqual(everyPixel(width, height, data));
    }
  });
});
