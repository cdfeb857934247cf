/** Running a predict brick directly, and measuring the masks it returns. */
import pino from 'pino';
import type { AnyBrick, BrickContext } from '../../../src/engine/brick.ts';
import { decodeImage } from '../../../src/engine/image-io.ts';
import type { ImageData, MaskData, Value } from '../../../src/engine/values.ts';
import { readPhoto } from '../../support/shared.ts';

export function testContext(signal: AbortSignal = new AbortController().signal): BrickContext {
  return { signal, progress: () => {}, logger: pino({ level: 'silent' }) };
}

export async function runBrick(brick: AnyBrick, inputs: Record<string, Value | null>, signal?: AbortSignal): Promise<Record<string, Value>> {
  return (await brick.run(inputs as never, testContext(signal))) as Record<string, Value>;
}

export async function photo(name: string): Promise<ImageData> {
  return decodeImage(readPhoto(name));
}

export interface MaskStats {
  /** Pixels with coverage above half. */
  readonly area: number;
  readonly fraction: number;
  readonly cx: number;
  readonly cy: number;
  readonly box?: { x0: number; y0: number; x1: number; y1: number };
}

export function maskStats(m: MaskData): MaskStats {
  let area = 0;
  let sx = 0;
  let sy = 0;
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < m.height; y++) {
    for (let x = 0; x < m.width; x++) {
      if (m.data[y * m.width + x]! < 128) continue;
      area++;
      sx += x;
      sy += y;
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x);
      y1 = Math.max(y1, y);
    }
  }
  return {
    area,
    fraction: area / (m.width * m.height),
    cx: area ? sx / area : NaN,
    cy: area ? sy / area : NaN,
    ...(area ? { box: { x0, y0, x1, y1 } } : {}),
  };
}

/** Fraction of the mask's pixels (above half) that lie inside the box. */
export function shareInside(m: MaskData, b: { x0: number; y0: number; x1: number; y1: number }): number {
  let inside = 0;
  let all = 0;
  for (let y = 0; y < m.height; y++) {
    for (let x = 0; x < m.width; x++) {
      if (m.data[y * m.width + x]! < 128) continue;
      all++;
      if (x >= b.x0 && x <= b.x1 && y >= b.y0 && y <= b.y1) inside++;
    }
  }
  return all ? inside / all : 0;
}
