import { describe, expect, it } from 'vitest';
import { FLUX_RCM, parseRecolourPrompt } from '../../../bricks/edit/flux-rcm.ts';
import { NeedsGpuHostError } from '../../../src/engine/errors.ts';
import type { ImageData, MaskData } from '../../../src/engine/values.ts';
import { makeMask } from '../../../src/engine/values.ts';
import { describeWithPhotos } from '../../support/shared.ts';
import { call, ellipseMask, hueAt, meanLuma, photo, pixels, rgbAt, sameAt } from './support.ts';

const isBlue = (h: number) => h >= 170 && h <= 250;

describeWithPhotos('FLUX-RCM on rally-car.jpg', () => {
  // An ellipse inside the car's box (x 38, y 134, w 212, h 71): mostly white body, red stripes, dark tyres and windows.
  const carMask = () => ellipseMask(279, 310, 144, 170, 100, 30);

  it('recolours to "light blue": masked pixels turn blue, unmasked pixels stay bit-identical', async () => {
    const img = await photo('rally-car.jpg');
    const mask = carMask();
    const { image } = await call(FLUX_RCM, { image: img, mask, prompt: 'light blue' });
    const out = image as ImageData;
    const inside = pixels(mask, true);
    // The white body has a cool cast, so some pixels read as faintly blue before; after, nearly all of them are clearly blue.
    const blueShare = (im: ImageData) =>
      inside.filter((p) => {
        const { h, s, v } = hueAt(im, p);
        return s >= 0.12 && v >= 0.15 && isBlue(h);
      }).length / inside.length;
    const coloured = inside.filter((p) => {
      const { s, v } = hueAt(out, p);
      return s >= 0.12 && v >= 0.15;
    });
    expect(blueShare(img)).toBeLessThan(0.35);
    expect(blueShare(out)).toBeGreaterThan(0.8);
    expect(coloured.filter((p) => isBlue(hueAt(out, p).h)).length / coloured.length).toBeGreaterThan(0.97);
    expect(sameAt(img, out, pixels(mask, false))).toBe(true);
  });

  it('keeps shading: the lightness order of masked pixels survives the recolour', async () => {
    const img = await photo('rally-car.jpg');
    const mask = carMask();
    const out = (await call(FLUX_RCM, { image: img, mask, prompt: 'red' })).image as ImageData;
    const inside = pixels(mask, true);
    const l = (im: ImageData, p: number) => {
      const [r, g, b] = rgbAt(im, p);
      return 0.299 * r + 0.587 * g + 0.114 * b;
    };
    // Spearman-like check on a sample: brighter before ⇒ brighter after, in the large majority of pairs.
    let agree = 0;
    let pairs = 0;
    for (let k = 0; k + 97 < inside.length; k += 53) {
      const a = inside[k]!;
      const b = inside[k + 97]!;
      const d0 = l(img, a) - l(img, b);
      if (Math.abs(d0) < 20) continue;
      pairs++;
      if (Math.sign(l(out, a) - l(out, b)) === Math.sign(d0)) agree++;
    }
    expect(pairs).toBeGreaterThan(50);
    expect(agree / pairs).toBeGreaterThan(0.9);
  });

  it('fakes gold as a warm, high-contrast metal and keeps the rest of the photo', async () => {
    const img = await photo('rally-car.jpg');
    const mask = carMask();
    const out = (await call(FLUX_RCM, { image: img, mask, prompt: 'gold' })).image as ImageData;
    const inside = pixels(mask, true);
    const warm = inside.filter((p) => {
      const { h, s, v } = hueAt(out, p);
      return v > 0.2 && s > 0.15 && h >= 25 && h <= 60;
    });
    expect(warm.length / inside.length).toBeGreaterThan(0.6);
    expect(sameAt(img, out, pixels(mask, false))).toBe(true);
  });

  it('makes "matte black" dark and flat', async () => {
    const img = await photo('rally-car.jpg');
    const mask = carMask();
    const out = (await call(FLUX_RCM, { image: img, mask, prompt: 'matte black' })).image as ImageData;
    const inside = pixels(mask, true);
    expect(meanLuma(out, inside)).toBeLessThan(60);
    expect(meanLuma(img, inside)).toBeGreaterThan(120);
  });
});

describe('FLUX-RCM prompts', () => {
  it('reads colour names, modifiers, finishes and hex codes', () => {
    expect(parseRecolourPrompt('light blue')).toMatchObject({ kind: 'colour', rgb: [173, 216, 230] });
    expect(parseRecolourPrompt('Change the car color to #1E90FF')).toMatchObject({ kind: 'colour', rgb: [30, 144, 255] });
    expect(parseRecolourPrompt('make it light red')).toMatchObject({ kind: 'colour' });
    expect(parseRecolourPrompt('matte black')).toMatchObject({ kind: 'colour', rgb: [0, 0, 0], contrast: 0.45 });
    expect(parseRecolourPrompt('gold material')).toMatchObject({ kind: 'metal', name: 'gold' });
    expect(parseRecolourPrompt('rose gold')).toMatchObject({ kind: 'metal', name: 'rose gold' });
    expect(parseRecolourPrompt('chrome')).toMatchObject({ kind: 'metal', name: 'chrome' });
  });

  it.each(['wooden', 'glass', 'marble texture', 'red and white stripes', 'something nice'])('sends "%s" to the generative variant with NeedsGpuHostError', (prompt) => {
    let err: unknown;
    try {
      parseRecolourPrompt(prompt);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NeedsGpuHostError);
    expect((err as NeedsGpuHostError).brick).toBe('FLUX-RCM');
    expect((err as NeedsGpuHostError).message).toMatch(/GPU host/);
  });

  it('raises before touching pixels when run with an unsupported material', async () => {
    const img: ImageData = { kind: 'image', width: 4, height: 4, channels: 3, data: new Uint8Array(48).fill(100) };
    const mask = ellipseMask(4, 4, 2, 2, 2, 2);
    await expect(call(FLUX_RCM, { image: img, mask, prompt: 'wooden' })).rejects.toBeInstanceOf(NeedsGpuHostError);
  });
});

describeWithPhotos('FLUX-RCM metals on white-suv.jpg', () => {
  // The SUV's doors and wings (the car spans x 35..400, y 130..270 of the 430×297 photo), with a feathered
  // edge as a segmentation mask has: pixels at 0 must come out unchanged, however close to the object.
  const bodyMask = (): MaskData => {
    const m = makeMask(430, 297);
    for (let y = 0; y < 297; y++) {
      for (let x = 0; x < 430; x++) {
        const r = Math.hypot((x - 230) / 150, (y - 212) / 40);
        m.data[y * 430 + x] = r <= 0.95 ? 255 : r >= 1.05 ? 0 : Math.round(((1.05 - r) / 0.1) * 255);
      }
    }
    return m;
  };
  const lumas = (img: ImageData, ps: readonly number[]): number[] => ps.map((p) => { const [r, g, b] = rgbAt(img, p); return 0.299 * r + 0.587 * g + 0.114 * b; }).sort((a, b) => a - b);
  const spread = (xs: readonly number[]): number => {
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
  };
  const medianSaturation = (img: ImageData, ps: readonly number[]): number => ps.map((p) => hueAt(img, p).s).sort((a, b) => a - b)[ps.length >> 1]!;

  for (const [metal, coloured] of [['gold', true], ['bronze', true], ['silver', false], ['chrome', false]] as const) {
    it(`"${metal}" keeps the body's contrast and highlights, ${coloured ? 'turns it a rich metal colour' : 'stays neutral'}, and changes no pixel outside the mask`, async () => {
      const img = await photo('white-suv.jpg');
      const mask = bodyMask();
      const out = (await call(FLUX_RCM, { image: img, mask, prompt: metal })).image as ImageData;
      const inside = pixels(mask, true);
      const before = lumas(img, inside);
      const after = lumas(out, inside);
      // Contrast: the lightness spread survives (a flat fill would shrink it), and glints stay bright.
      expect(spread(after)).toBeGreaterThan(0.85 * spread(before));
      expect(after[Math.floor(after.length * 0.95)]!).toBeGreaterThan(195);
      // A white car gilded should be gold, not pale yellow; silver and chrome carry no tint.
      if (coloured) expect(medianSaturation(out, inside)).toBeGreaterThan(0.5);
      else expect(medianSaturation(out, inside)).toBeLessThan(0.15);
      expect(sameAt(img, out, pixels(mask, false))).toBe(true);
    });
  }
});

