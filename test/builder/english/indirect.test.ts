import { describe, expect, it } from 'vitest';
import { directCommand, expandContractions } from '../../../src/builder/english/indirect.ts';

describe('directCommand', () => {
  it.each([
    ['could you remove the left sheep please?', 'remove the left sheep'],
    ['would you mind making it black and white?', 'make it black and white'],
    ['hey, can you get rid of the right sheep for me?', 'get rid of the right sheep'],
    ['I was wondering if you could add a dog next to the sheep', 'add a dog next to the sheep'],
    ['it would be nice if the photo were brighter', 'make the photo brighter'],
    ['can the sky be bluer?', 'make the sky bluer'],
    ['I need this in black and white', 'make this black and white'],
    ["I would love a sepia version of this", 'make it sepia'],
    ['how about making the car purple?', 'make the car purple'],
    ['I want the left sheep gone', 'remove the left sheep'],
  ])('reads "%s" as "%s"', (said, command) => {
    expect(directCommand(expandContractions(said))).toBe(command);
  });

  it('leaves a plain command as it is', () => {
    expect(directCommand('replace the cat with a dog')).toBe('replace the cat with a dog');
  });
});

describe('expandContractions', () => {
  it('spells out negations and "I\'d" but keeps possessives', () => {
    expect(expandContractions("don't touch the person's arm, I'd like it brighter")).toBe("do not touch the person's arm, I would like it brighter");
  });
});
