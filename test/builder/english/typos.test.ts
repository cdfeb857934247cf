import { describe, expect, it } from 'vitest';
import { correctTypos, correctWord } from '../../../src/builder/english/typos.ts';

describe('correctTypos', () => {
  it.each([
    ['remvoe the dog', 'remove the dog'],
    ['make it balck and white', 'make it black and white'],
    ['crop to sqaure', 'crop to square'],
    ['make the car bleu', 'make the car blue'],
    ['blurr the backround', 'blur the background'],
    ['make the sheeps pink', 'make the sheep pink'],
    ['colour the womans skirt', "colour the woman's skirt"],
    ['mak it brighter pls', 'make it brighter please'],
    ['remove teh carss', 'remove the cars'],
  ])('puts right "%s"', (typed, meant) => {
    expect(correctTypos(typed)).toBe(meant);
  });

  it('leaves real English words alone, however close to an editing word', () => {
    const sentence = 'add a swan near the lifeguard tower by the glass trunk on the ice rink at the lake';
    expect(correctTypos(sentence)).toBe(sentence);
  });

  it('leaves names and quoted words alone', () => {
    expect(correctTypos('switch to Ghibli style and write "sepai" on it')).toBe('switch to Ghibli style and write "sepai" on it');
  });

  it('makes no guess when two editing words are equally close', () => {
    expect(correctWord('rat')).toBeUndefined();
  });
});
