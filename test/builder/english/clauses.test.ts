import { describe, expect, it } from 'vitest';
import { splitSteps } from '../../../src/builder/english/clauses.ts';

describe('splitSteps', () => {
  it.each([
    ['remove the car and make it black and white', ['remove the car', 'make it black and white']],
    ['make the car black, also make the image a bit darker', ['make the car black', 'make the image a bit darker']],
    ['remove the left sheep. also make the photo brighter', ['remove the left sheep', 'make the photo brighter']],
    ['make the left sheep blue and the right sheep red', ['make the left sheep blue', 'make the right sheep red']],
  ])('splits "%s"', (text, steps) => {
    expect(splitSteps(text)).toEqual(steps);
  });

  it('keeps two objects of one edit together', () => {
    expect(splitSteps('remove the dog and the cat')).toEqual(['remove the dog and the cat']);
  });
});
