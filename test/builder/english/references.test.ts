import { describe, expect, it } from 'vitest';
import { readTopic, resolveReference } from '../../../src/builder/english/references.ts';

describe('readTopic', () => {
  it('takes the noun of an introduction for a later "one"', () => {
    expect(readTopic('of the two sheep, remove the one on the right')).toEqual({ text: 'remove the one on the right', noun: 'sheep' });
    expect(readTopic('there are two dogs; blur the bigger one')).toEqual({ text: 'blur the bigger one', noun: 'dogs' });
  });

  it('puts a topic said first in place of "it"', () => {
    expect(readTopic('the sheep on the right: make it black and white').text).toBe('make the sheep on the right black and white');
  });

  it('reads "the right one of the two sheep" as "the right sheep"', () => {
    expect(readTopic('remove the right one of the two sheep').text).toBe('remove the right sheep');
  });
});

describe('resolveReference', () => {
  it.each([
    ['the one on the right', 'sheep', undefined, 'the sheep on the right'],
    ['the bigger one', 'dog', undefined, 'the bigger dog'],
    ['the other one', undefined, 'the left sheep', 'the right sheep'],
    ['the other one', undefined, 'the cat', 'the other cat'],
  ])('"%s" (topic %s, before it %s) is "%s"', (phrase, topic, antecedent, meant) => {
    expect(resolveReference(phrase, topic, antecedent)).toBe(meant);
  });

  it('leaves a phrase that names its own noun alone', () => {
    expect(resolveReference('the red car', 'sheep', 'the left sheep')).toBe('the red car');
  });
});
