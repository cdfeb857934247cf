import { describe, expect, it } from 'vitest';
import { fillHoles } from '../../../bricks/lib/mask-ops.ts';

/** A w×h 0/255 mask with the pixels `on` accepts set. */
function draw(w: number, h: number, on: (x: number, y: number) => boolean): Uint8Array {
  const m = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (on(x, y)) m[y * w + x] = 255;
  return m;
}

describe('fillHoles', () => {
  it('fills a small enclosed hole in an object', () => {
    // A 20×20 square with a 2×2 hole in it: the hole is 4 of 396 pixels.
    const m = draw(30, 30, (x, y) => x >= 5 && x < 25 && y >= 5 && y < 25 && !(x >= 14 && x < 16 && y >= 14 && y < 16));
    const out = fillHoles(m, 30, 30);
    expect(out[15 * 30 + 15]).toBe(255);
    expect(out[14 * 30 + 14]).toBe(255);
  });

  it('keeps an enclosed gap larger than the share it is given (the inside of a ring)', () => {
    // A ring 2 pixels thick around a 16×16 gap: the gap is larger than the ring.
    const m = draw(30, 30, (x, y) => x >= 5 && x < 25 && y >= 5 && y < 25 && !(x >= 7 && x < 23 && y >= 7 && y < 23));
    const out = fillHoles(m, 30, 30);
    expect(out[15 * 30 + 15]).toBe(0);
    expect(out[6 * 30 + 6]).toBe(255);
  });

  it('leaves background that reaches the frame, however small', () => {
    // An object covering everything but a 1-pixel notch at the top edge.
    const m = draw(10, 10, (x, y) => !(x === 5 && y === 0));
    const out = fillHoles(m, 10, 10);
    expect(out[5]).toBe(0);
    expect(out.filter((v) => v === 0).length).toBe(1);
  });
});
