import { describe, expect, it } from 'vitest';
import { builtinBricks } from '../../bricks/index.ts';
import { BrickRegistry } from '../../src/engine/registry.ts';
import { defineBrick, port } from '../../src/engine/brick.ts';

describe('BrickRegistry', () => {
  const registry = new BrickRegistry(builtinBricks());

  it('renders the catalogue in the Lego-Edit prompt style, optional inputs marked', () => {
    const text = registry.catalogue({ only: new Set(['INVERSE']) });
    expect(text).toBe(
      [
        'INVERSE (Subtract one mask from another (or one image from another))',
        'Input: {Mask[mask1]?, Mask[mask2]?, Image[image1]?, Image[image2]?}',
        'Output: {Mask[mask]?, Image[image]?}',
        `Constraint: ${registry.get('INVERSE')!.constraint}`,
      ].join('\n'),
    );
  });

  it('finds bricks case-insensitively and suggests close names', () => {
    expect(registry.get('fastinpaint')?.name).toBe('FASTINPAINT');
    expect(registry.suggest('FAST-INPAINT')).toBe('FASTINPAINT');
    expect(registry.suggest('TOTALLY-UNRELATED-NAME')).toBeUndefined();
  });

  it('tells which bricks can run here from their backends', async () => {
    const available = await registry.available();
    expect(available.has('GRAYSCALE')).toBe(true);
    expect(available.has('FLUX-POSE')).toBe(false);
  });

  it('lets a later registration replace a built-in of the same name', () => {
    const r = new BrickRegistry(builtinBricks());
    r.register(defineBrick({ name: 'GRAYSCALE', kind: 'function', description: 'Remote grey', inputs: { image: port.image() }, outputs: { image: port.image() }, version: 'r1', run: async ({ image }) => ({ image }) }));
    expect(r.get('GRAYSCALE')!.description).toBe('Remote grey');
    expect(r.list().filter((b) => b.name === 'GRAYSCALE')).toHaveLength(1);
  });
});
