import { defineBrick, port } from '../../src/engine/brick.ts';
import { makeMask } from '../../src/engine/values.ts';
import type { MaskData } from '../../src/engine/values.ts';
import { detectText, textDetectorStatus } from '../models/ocr.ts';
import { openCvStatus } from '../models/opencv.ts';

/** Fills a convex quadrilateral (scanline, even-odd over its edges). */
export function fillQuad(m: MaskData, pts: readonly (readonly [number, number])[]): void {
  const ys = pts.map((p) => p[1]);
  const y0 = Math.max(0, Math.floor(Math.min(...ys)));
  const y1 = Math.min(m.height - 1, Math.ceil(Math.max(...ys)));
  for (let y = y0; y <= y1; y++) {
    const yc = y + 0.5;
    const xs: number[] = [];
    for (let i = 0; i < pts.length; i++) {
      const [ax, ay] = pts[i]!;
      const [bx, by] = pts[(i + 1) % pts.length]!;
      if ((ay <= yc && by > yc) || (by <= yc && ay > yc)) xs.push(ax + ((yc - ay) / (by - ay)) * (bx - ax));
    }
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      const from = Math.max(0, Math.round(xs[k]!));
      const to = Math.min(m.width, Math.round(xs[k + 1]!));
      if (to > from) m.data.fill(255, y * m.width + from, y * m.width + to);
    }
  }
}

export const TEXT_DET = defineBrick({
  name: 'TEXT-DET',
  kind: 'predict',
  description: 'Detect text regions (signs, captions, watermarks)',
  inputs: { image: port.image() },
  outputs: { mask: port.mask() },
  constraint:
    'Use for "remove the text/watermark/sign lettering", then FASTINPAINT. Marks every line of printed or painted text ' +
    '(Latin and CJK scripts), each as a slightly enlarged rotated box; it does not read the text, so it cannot pick one word.',
  version: '1',
  cpuHeavy: true,
  backends: () => [textDetectorStatus(), openCvStatus('DB post-processing (contours, min-area rectangles)')],
  async run({ image }, ctx) {
    ctx.progress({ fraction: 0.1, message: 'finding text' });
    const regions = await detectText(image, { signal: ctx.signal });
    ctx.logger.debug({ regions: regions.length }, 'TEXT-DET: regions');
    const mask = makeMask(image.width, image.height);
    for (const r of regions) fillQuad(mask, r.points);
    return { mask };
  },
});
