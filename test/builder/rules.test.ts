import { describe, expect, it } from 'vitest';
import { builtinBricks } from '../../bricks/index.ts';
import type { Rule } from '../../src/builder/builder.ts';
import * as rules from '../../src/builder/rules.ts';
import { BrickRegistry } from '../../src/engine/registry.ts';
import { parseWorkflow } from '../../src/engine/workflow/parse.ts';

/** Rules read brick names and descriptions from the registry, as the session manager passes them. */
const registry = new BrickRegistry(builtinBricks());
const builtin = registry.list();
const parseRule = (text: string, known: readonly rules.BrickInfo[] = builtin) => rules.parseRule(text, known);
const checkRules = (w: Parameters<typeof rules.checkRules>[0], r: readonly Rule[], known: readonly rules.BrickInfo[] = builtin) => rules.checkRules(w, r, known);
const ruleViolations = (w: Parameters<typeof rules.ruleViolations>[0], r: readonly Rule[]) => rules.ruleViolations(w, r, builtin);

const rule = (text: string): Rule => {
  const r = parseRule(text);
  if (!r) throw new Error(`not a rule: ${text}`);
  return r;
};

const wf = (steps: Array<[string, Record<string, string | number>]>) =>
  parseWorkflow(
    JSON.stringify({
      pipeline: [
        ...steps.map(([model, input], i) => ({ step: i + 1, model, input, output: { image: `step${i + 1}[image]`, mask: `step${i + 1}[mask]` } })),
        { result: `[step${steps.length}[image]]` },
      ],
    }),
  );

const removal = wf([
  ['RES', { image: 'init[image]', prompt: 'the dog' }],
  ['FASTINPAINT', { image: 'init[image]', mask: 'step1[mask]' }],
]);
const refined = wf([
  ['SOS', { image: 'init[image]' }],
  ['BBOX', { mask: 'step1[mask]' }],
  ['RES', { image: 'init[image]', prompt: 'the dog' }],
  ['INVERSE', { mask1: 'step3[mask]', mask2: 'step2[mask]' }],
  ['FLUX-INPAINT', { image: 'init[image]', mask: 'step4[mask]', preimage: 'init[image]', score: 0.5 }],
]);

describe('parseRule', () => {
  it('reads "don\'t use RES before INPAINT" as forbid-before, resolving the INPAINT family to both removal bricks', () => {
    expect(rule("don't use RES before INPAINT")).toMatchObject({
      kind: 'forbid-before',
      brick: 'RES',
      before: 'INPAINT',
      bricks: ['RES'],
      beforeBricks: ['FASTINPAINT', 'FLUX-INPAINT'],
      text: "don't use RES before INPAINT",
    });
  });

  it('reads forbid, require with a purpose, and prefer', () => {
    expect(rule('never use FLUX-STYLE')).toMatchObject({ kind: 'forbid', brick: 'FLUX-STYLE' });
    expect(rule('always use SOS for segmentation')).toMatchObject({ kind: 'require', brick: 'SOS', purpose: 'segmentation' });
    expect(rule("prefer FASTINPAINT, I'm in a hurry")).toMatchObject({ kind: 'prefer', brick: 'FASTINPAINT' });
    expect(rule('RES must not come before FASTINPAINT')).toMatchObject({ kind: 'forbid-before', brick: 'RES', before: 'FASTINPAINT' });
    expect(rule('do not use the inpainting model')).toMatchObject({ kind: 'forbid', brick: 'INPAINT', bricks: ['FASTINPAINT', 'FLUX-INPAINT'] });
  });

  it('leaves edit instructions that merely start with a negation alone', () => {
    for (const text of ["don't add a hat", "don't resize it", 'make it blue', 'no, the other sheep', 'never mind']) expect(parseRule(text)).toBeUndefined();
  });

  it('reads "don\'t use res before inpaint" in lower case as forbid-before', () => {
    expect(rule("don't use res before inpaint")).toMatchObject({ kind: 'forbid-before', brick: 'RES', before: 'INPAINT', beforeBricks: ['FASTINPAINT', 'FLUX-INPAINT'] });
  });

  it('reads "don\'t use RES before inpaint" as forbid-before, not as forbidding RES altogether', () => {
    expect(rule("don't use RES before inpaint")).toMatchObject({ kind: 'forbid-before', brick: 'RES', before: 'INPAINT' });
  });

  it('reads "RES shouldn\'t feed INPAINT" and "never let res feed inpaint" as forbid-before', () => {
    expect(rule("RES shouldn't feed INPAINT")).toMatchObject({ kind: 'forbid-before', brick: 'RES', before: 'INPAINT' });
    expect(rule('never let res feed inpaint')).toMatchObject({ kind: 'forbid-before', brick: 'RES', before: 'INPAINT' });
    expect(rule("RES's output must not go into FLUX-INPAINT")).toMatchObject({ kind: 'forbid-before', brick: 'RES', before: 'FLUX-INPAINT' });
  });

  it('reads "always segment with SOS" as require SOS for segmentation', () => {
    expect(rule('always segment with SOS')).toMatchObject({ kind: 'require', brick: 'SOS', purpose: 'segmentation' });
    expect(rule('only remove using FASTINPAINT')).toMatchObject({ kind: 'require', brick: 'FASTINPAINT', purpose: 'removal' });
  });

  it('reads "never use flux style" and "avoid style transfer" as forbid FLUX-STYLE', () => {
    expect(rule('never use flux style')).toMatchObject({ kind: 'forbid', brick: 'FLUX-STYLE', bricks: ['FLUX-STYLE'] });
    expect(rule('avoid style transfer')).toMatchObject({ kind: 'forbid', brick: 'FLUX-STYLE', bricks: ['FLUX-STYLE'] });
  });

  it('never falls back to forbidding the first brick when the before clause names no brick', () => {
    for (const text of ["don't use RES before the dog", "don't use res before you are done", "RES shouldn't feed the cat"]) expect(parseRule(text), text).toBeUndefined();
  });

  it('still leaves everyday sentences alone when lower-case names are read', () => {
    for (const text of ["don't add a hat", 'never mind', "don't use the mask I sent", "don't put text before faces", 'always paint with red', "don't blur the face", 'avoid the car']) {
      expect(parseRule(text), text).toBeUndefined();
    }
  });

  it('knows bricks registered later when given the catalogue', () => {
    const known = [...builtin, { name: 'LAMA-INPAINT', description: 'Removal with LaMa' }];
    expect(parseRule('never use LAMA-INPAINT', known)).toMatchObject({ kind: 'forbid', brick: 'LAMA-INPAINT' });
    expect(parseRule('never use LAMA-INPAINT')).toBeUndefined();
  });

  it('knows every registered brick by name, PASTE included', () => {
    expect(registry.names()).toContain('PASTE');
    for (const name of registry.names()) {
      expect(parseRule(`never use ${name}`), name).toMatchObject({ kind: 'forbid', brick: name, bricks: expect.arrayContaining([name]) });
    }
  });

  it('takes a brick\'s purpose from its registered description', () => {
    const relabelled = builtin.map((b) => (b.name === 'PASTE' ? { name: b.name, description: 'Remove the object and paste a reference photo' } : b));
    expect(rules.bricksForPurpose('removal', builtin)).not.toContain('PASTE');
    expect(rules.bricksForPurpose('removal', relabelled)).toContain('PASTE');
  });
});

describe('checkRules', () => {
  it('flags RES feeding FASTINPAINT directly and FLUX-INPAINT through INVERSE', () => {
    const r = [rule("don't use RES before INPAINT")];
    expect(checkRules(removal, r)).toEqual([expect.stringContaining('step 1 (RES) feeds step 2 (FASTINPAINT)')]);
    expect(checkRules(refined, r)).toEqual([expect.stringContaining('step 3 (RES) feeds step 5 (FLUX-INPAINT)')]);
  });

  it('does not flag RES that runs but does not feed the inpainting', () => {
    const parallel = wf([
      ['RES', { image: 'init[image]', prompt: 'the dog' }],
      ['SOS', { image: 'init[image]' }],
      ['FASTINPAINT', { image: 'init[image]', mask: 'step2[mask]' }],
      ['FLUX-RCM', { image: 'step3[image]', mask: 'step1[mask]', prompt: 'red' }],
    ]);
    expect(checkRules(parallel, [rule("don't use RES before INPAINT")])).toEqual([]);
  });

  it('binds a family rule to a brick the catalogue gained after the rule was made', () => {
    const r = [rule("don't use RES before INPAINT")];
    const withNew = wf([
      ['RES', { image: 'init[image]', prompt: 'the dog' }],
      ['LAMA-INPAINT', { image: 'init[image]', mask: 'step1[mask]' }],
    ]);
    expect(checkRules(withNew, r, [...builtin, { name: 'LAMA-INPAINT' }])).toHaveLength(1);
  });

  it('names the steps of each violation, the one to change first', () => {
    expect(ruleViolations(removal, [rule("don't use RES before INPAINT")])).toEqual([expect.objectContaining({ steps: [1, 2] })]);
    expect(ruleViolations(refined, [rule('always use FLUX-RCM for recolouring'), rule('never use BBOX')]).map((v) => v.steps)).toEqual([[2]]);
  });

  it('enforces forbid and scoped require, and never fails a workflow for a preference', () => {
    expect(checkRules(removal, [rule('never use FASTINPAINT')])).toHaveLength(1);
    expect(checkRules(removal, [rule('always use SOS for segmentation')])).toEqual([expect.stringMatching(/must use SOS for segmentation.*step 1 \(RES\)/)]);
    const grey = wf([['GRAYSCALE', { image: 'init[image]' }]]);
    expect(checkRules(grey, [rule('always use SOS for segmentation')])).toEqual([]);
    expect(checkRules(removal, [rule('prefer FLUX-INPAINT')])).toEqual([]);
  });

  it('scopes an unscoped require by what its brick does', () => {
    // FLUX-INPAINT is a removal brick: removals must use it, a grayscale need not.
    expect(checkRules(removal, [rule('always use FLUX-INPAINT')])).toHaveLength(1);
    expect(checkRules(wf([['GRAYSCALE', { image: 'init[image]' }]]), [rule('always use FLUX-INPAINT')])).toEqual([]);
  });
});
