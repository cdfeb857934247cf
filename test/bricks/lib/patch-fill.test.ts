import { describe, expect, it } from 'vitest';
import { exemplarFill, membrane } from '../../../bricks/lib/patch-fill.ts';

describe('membrane', () => {
  it('carries a linear ramp of edge values straight across the hole', () => {
    const w = 40;
    const h = 30;
    const hole = new Uint8Array(w * h);
    for (let y = 8; y < 22; y++) for (let x = 6; x < 34; x++) hole[y * w + x] = 1;
    const boundary = new Float32Array(w * h * 3);
    for (let p = 0; p < w * h; p++) for (let k = 0; k < 3; k++) boundary[p * 3 + k] = (p % w) * (k + 1) - 20;
    const c = membrane(hole, boundary, w, h);
    // A linear function is harmonic: the interpolation must reproduce it inside.
    for (let p = 0; p < w * h; p++) {
      if (!hole[p]) continue;
      for (let k = 0; k < 3; k++) expect(Math.abs(c[p * 3 + k]! - ((p % w) * (k + 1) - 20))).toBeLessThan(0.5);
    }
  });
});

describe('exemplarFill', () => {
  it('continues a regular texture across a wide hole with its detail, and meets the edge without an offset', () => {
    const w = 96;
    const h = 96;
    // Diagonal stripes with a period of 6 pixels: every patch of the hole has an exact match outside it.
    const rgb = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgb.fill((x + y) % 6 < 3 ? 200 : 60, (y * w + x) * 3, (y * w + x) * 3 + 3);
    const hole = new Uint8Array(w * h);
    for (let y = 30; y < 66; y++) for (let x = 30; x < 66; x++) hole[y * w + x] = 1;
    const grey = new Uint8Array(rgb);
    for (let p = 0; p < w * h; p++) if (hole[p]) grey.fill(130, p * 3, p * 3 + 3);
    const { sharp, seam } = exemplarFill(rgb, grey, hole, w, h);
    let wrong = 0;
    let n = 0;
    for (let p = 0; p < w * h; p++) {
      if (!hole[p]) continue;
      n++;
      if (Math.abs(sharp[p * 3]! - rgb[p * 3]!) > 20) wrong++;
    }
    // A diffusion fill would be a flat grey (every pixel off by 70); the copy keeps the stripes in phase.
    expect(wrong / n).toBeLessThan(0.1);
    let offset = 0;
    for (let p = 0; p < w * h; p++) if (hole[p]) offset = Math.max(offset, Math.abs(seam[p * 3]!));
    expect(offset).toBeLessThan(10);
  });
});
