import { describe, expect, it } from 'vitest';
import { splitException } from '../../../src/builder/english/exceptions.ts';

describe('splitException', () => {
  it.each([
    ['make everything black and white except the girl', 'make everything black and white', 'the girl'],
    ['darken all but the sheep on the left', 'darken all', 'the sheep on the left'],
    ['make everything except the woman darker', 'make everything darker', 'the woman'],
    ['apart from the girl, make the photo sepia', 'make the photo sepia', 'the girl'],
    ['brighten the photo but do not touch the sheep', 'brighten the photo', 'the sheep'],
    ['increase the contrast but leave the car alone', 'increase the contrast', 'the car'],
    ['keep the car in colour', 'make everything black and white', 'the car'],
    ['leave the car as it is and make the rest darker', 'make everything darker', 'the car'],
    ['only the woman should stay in colour', 'make everything black and white', 'the woman'],
    ['do not blur the girl, blur the background', 'blur the background', 'the girl'],
    ['make the background black and white', 'make everything black and white', 'the main subject'],
  ])('"%s" edits "%s" and keeps %s', (said, edit, keep) => {
    expect(splitException(said)).toEqual({ edit, keep });
  });

  it('drops a colour that is ruled out rather than keeping it as an object', () => {
    expect(splitException('make the car red, not blue')).toEqual({ edit: 'make the car red' });
  });

  it('says only what to keep when no edit is given', () => {
    expect(splitException('do not touch the sky')).toEqual({ edit: '', keep: 'the sky' });
  });

  it('leaves a clause without an exception unchanged', () => {
    expect(splitException('remove the sheep and add a dog')).toEqual({ edit: 'remove the sheep and add a dog' });
  });
});
