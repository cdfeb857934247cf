import sharp from 'sharp';
import { expect, it } from 'vitest';
import { TEXT_DET } from '../../../bricks/predict/text-det.ts';
import { rawFromSharp } from '../../../src/engine/image-io.ts';
import type { ImageData, MaskData } from '../../../src/engine/values.ts';
import { maskStats, runBrick, shareInside } from './helpers.ts';

async function render(svgBody: string, w = 1024, h = 768): Promise<ImageData> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><rect width="100%" height="100%" fill="#cfe3f0"/>${svgBody}</svg>`;
  return rawFromSharp(sharp(Buffer.from(svg)).removeAlpha());
}

/** Where sharp actually drew ink: pixels far from the background colour. */
function inkBox(img: ImageData): { x0: number; y0: number; x1: number; y1: number } {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const i = (y * img.width + x) * 3;
      if (Math.abs(img.data[i]! - 0xcf) + Math.abs(img.data[i + 1]! - 0xe3) + Math.abs(img.data[i + 2]! - 0xf0) < 60) continue;
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x);
      y1 = Math.max(y1, y);
    }
  }
  return { x0, y0, x1, y1 };
}

it('finds a line of rendered text: the mask covers the text and little else', async () => {
  const img = await render('<text x="120" y="300" font-family="DejaVu Sans, sans-serif" font-size="64" font-weight="bold" fill="#202020">SALE 50% OFF</text>');
  const ink = inkBox(img);
  const mask = (await runBrick(TEXT_DET, { image: img })).mask as MaskData;
  const s = maskStats(mask);
  // Covers the ink: every corner of the ink box is inside the mask.
  for (const [x, y] of [[ink.x0 + 2, ink.y0 + 2], [ink.x1 - 2, ink.y0 + 2], [ink.x0 + 2, ink.y1 - 2], [ink.x1 - 2, ink.y1 - 2]] as const) {
    expect(mask.data[y * mask.width + x]).toBe(255);
  }
  // Little outside: within a margin of a third of the text height, and not much bigger than the ink box.
  const m = (ink.y1 - ink.y0) / 3;
  expect(shareInside(mask, { x0: ink.x0 - m, y0: ink.y0 - m, x1: ink.x1 + m, y1: ink.y1 + m })).toBe(1);
  expect(s.area).toBeLessThan(2 * (ink.x1 - ink.x0) * (ink.y1 - ink.y0));
});

it('finds two separate lines (a watermark in a corner and a caption)', async () => {
  const img = await render(
    '<text x="60" y="120" font-family="DejaVu Sans, sans-serif" font-size="48" fill="#101010">Hello world</text>' +
      '<text x="700" y="720" font-family="DejaVu Sans, sans-serif" font-size="28" fill="#ffffff" stroke="#000" stroke-width="1">© photo 2024</text>',
  );
  const mask = (await runBrick(TEXT_DET, { image: img })).mask as MaskData;
  expect(shareInside(mask, { x0: 0, y0: 0, x1: 600, y1: 200 })).toBeGreaterThan(0.3);
  expect(shareInside(mask, { x0: 650, y0: 650, x1: 1023, y1: 767 })).toBeGreaterThan(0.1);
});

// Without the recogniser, glyph-sized solid blobs (a 120 px disc, a filled bar) do fire: DB alone cannot tell a "●" from a letter.
it('marks nothing on an image without text (large shape, gradient)', async () => {
  const img = await render(
    '<defs><linearGradient id="g"><stop offset="0" stop-color="#203040"/><stop offset="1" stop-color="#e0c080"/></linearGradient></defs>' +
      '<rect x="0" y="500" width="1024" height="268" fill="url(#g)"/><circle cx="500" cy="300" r="200" fill="#c04040"/>',
  );
  const mask = (await runBrick(TEXT_DET, { image: img })).mask as MaskData;
  expect(maskStats(mask).area).toBe(0);
});

it('TEXT-DET reports the ONNX backend as available', async () => {
  const [onnx] = await TEXT_DET.backends!();
  expect(onnx).toMatchObject({ name: 'onnx-cpu:ch_PP-OCRv4_det', available: true });
});
