import { describe, expect, it } from 'vitest';
import { builtinBricks } from '../../bricks/index.ts';
import { BrickRegistry, portDetail, renderBrick } from '../../src/engine/registry.ts';
import { defineBrick, port } from '../../src/engine/brick.ts';

describe('BrickRegistry', () => {
  const registry = new BrickRegistry(builtinBricks());

  it('renders the catalogue in the Lego-Edit prompt style, optional inputs marked', () => {
    const text = registry.catalogue({ only: new Set(['INVERSE']) });
    expect(text).toBe(
      [
        'INVERSE (Subtract mask2 from mask1 or subtract image2 from image1; if mask1 is null it means a mask with all pixels 1 minus mask2)',
        'Input: {Mask[mask1]?, Mask[mask2]?, Image[image1]?, Image[image2]?}',
        'Output: {Mask[mask]?, Image[image]?}',
        `Constraint: ${registry.get('INVERSE')!.constraint}`,
        '- mask1: Mask to subtract from; null means the whole image',
        '- mask2: Mask to subtract',
        '- image1: Image to subtract from; null means white, giving the negative of image2',
        '- image2: Image to subtract, stretched to the size of image1',
        '- output mask: When given masks',
        '- output image: When given images',
      ].join('\n'),
    );
  });

  // The published Lego-Edit Builder was trained on these first lines; details may only follow them.
  it('starts every brick with the published lines (name and description, Input, Output, then Constraint when there is one)', () => {
    for (const brick of registry.list()) {
      const lines = renderBrick(brick).split('\n');
      expect(lines[0], brick.name).toBe(`${brick.name} (${brick.description})`);
      expect(lines[1], brick.name).toMatch(/^Input: \{((Image|Mask|Str|Float)\[\w+\]\??(, |\}$))+/);
      expect(lines[2], brick.name).toMatch(/^Output: \{((Image|Mask|Str|Float)\[\w+\]\??(, |\}$))+/);
      const rest = lines.slice(3);
      if (brick.constraint) expect(rest.shift(), brick.name).toBe(`Constraint: ${brick.constraint}`);
      for (const line of rest) expect(line, brick.name).toMatch(/^- (output )?\w+: \S/);
    }
  });

  it('declares input kinds only over the brick\'s own ports', () => {
    const withKinds = registry.list().filter((b) => b.inputKinds);
    expect(withKinds.map((b) => b.name).sort()).toEqual(['CMI-PRED', 'COMPOSE', 'INVERSE', 'RESIZE']);
    for (const b of withKinds) {
      for (const k of b.inputKinds!) {
        for (const p of [...k.ports, ...(k.needs ?? [])]) expect(b.inputs, `${b.name} ${k.label}`).toHaveProperty(p);
        for (const p of k.needs ?? []) expect(k.ports, `${b.name} ${k.label}`).toContain(p);
      }
    }
  });

  it('shows every port description, choice, bound and default of every registered brick', () => {
    const described = registry.list().flatMap((b) => [...Object.values(b.inputs), ...Object.values(b.outputs)]).filter((p) => p.description);
    expect(described.length).toBeGreaterThan(40);
    for (const brick of registry.list()) {
      const text = registry.catalogue({ only: new Set([brick.name]) });
      for (const [side, ports] of [['', brick.inputs], ['output ', brick.outputs]] as const) {
        for (const [name, spec] of Object.entries(ports)) {
          const line = text.split('\n').find((l) => l.startsWith(`- ${side}${name}: `));
          const said = [spec.description, ...(spec.oneOf ?? []).map((c) => `"${c}"`), spec.min, spec.max, spec.default].filter((x) => x !== undefined);
          if (said.length === 0) {
            expect(line, `${brick.name}.${side}${name}`).toBeUndefined();
            continue;
          }
          expect(line, `${brick.name}.${side}${name}`).toBeDefined();
          for (const fact of said) expect(line, `${brick.name}.${side}${name}`).toContain(String(fact));
        }
      }
    }
  });

  it('words choices, bounds and defaults the way the Builder reads them', () => {
    expect(portDetail(port.str({ oneOf: ['blur', 'pixelate'], optional: true, default: 'blur' }))).toBe('one of "blur", "pixelate", default "blur"');
    expect(portDetail(port.float({ min: 0, max: 4, default: 1, description: 'Multiplier; 1 keeps it' }))).toBe('Multiplier; 1 keeps it (0 to 4, default 1)');
    expect(portDetail(port.float({ min: 1 }))).toBe('at least 1');
    expect(portDetail(port.float({ max: 8 }))).toBe('at most 8');
    expect(portDetail(port.image())).toBe('');
  });

  it('keeps a port\'s choices and bounds as data as well as in the schema that checks literals', () => {
    const mode = port.str({ oneOf: ['blur', 'pixelate'] });
    expect(mode.oneOf).toEqual(['blur', 'pixelate']);
    expect(mode.schema!.safeParse(' Pixelate ').data).toBe('pixelate');
    expect(mode.schema!.safeParse('smear').success).toBe(false);
    const ratio = port.float({ min: 0.01, max: 8 });
    expect([ratio.min, ratio.max]).toEqual([0.01, 8]);
    expect(ratio.schema!.safeParse('9').success).toBe(false);
    expect(ratio.schema!.safeParse('2.0').data).toBe(2);
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
