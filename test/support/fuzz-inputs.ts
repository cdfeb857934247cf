/** The user inputs fuzzed runs get: tiny images (heavy bricks stay cheap), down to one pixel and one-pixel strips. */
import type { RunInputs } from '../../src/engine/executor.ts';
import { makeImage, makeMask } from '../../src/engine/values.ts';

export const FUZZ_SIZES: readonly (readonly [number, number])[] = [
  [1, 1],
  [2, 3],
  [7, 1],
  [1, 9],
  [24, 16],
  [40, 30],
];

/** A patterned image and a mask over its first half, at `size`. */
export function fuzzInputs([width, height]: readonly [number, number]): RunInputs {
  const image = makeImage(width, height, 3);
  for (let i = 0; i < image.data.length; i++) image.data[i] = (i * 37 + (i % 3) * 80) % 256;
  const mask = makeMask(width, height);
  mask.data.fill(255, 0, Math.ceil((width * height) / 2));
  return { image, mask };
}
