import { describe, expect, it } from 'vitest';
import { builtinBricks } from '../../../bricks/index.ts';
import { BrickRegistry } from '../../../src/engine/registry.ts';
import { parseWorkflow } from '../../../src/engine/workflow/parse.ts';
import { type ValidationIssue, formatIssues, validateWorkflow } from '../../../src/engine/workflow/validate.ts';

const registry = new BrickRegistry(builtinBricks());

function issuesOf(json: string, provided?: string[]): ValidationIssue[] {
  const result = validateWorkflow(parseWorkflow(json), registry, provided ? { provided: new Set(provided) } : {});
  return result.ok ? [] : [...result.issues];
}

const step = (n: number, model: string, input: Record<string, unknown>) =>
  JSON.stringify({ step: n, model, input, output: { image: `step${n}[image]` } });
const wf = (steps: string[], result = '[step1[image]]') => `{"pipeline": [${steps.join(',')}, {"result": "${result}"}]}`;

describe('validateWorkflow', () => {
  it('accepts a well-formed workflow and coerces numeric strings to numbers', () => {
    const result = validateWorkflow(parseWorkflow(wf([step(1, 'RESIZE', { image: 'init[image]', ratio: '2.0' })])), registry);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.workflow.nodes[0]!.inputs.ratio).toEqual({ kind: 'literal', value: 2 });
  });

  it('reports an empty pipeline', () => {
    expect(issuesOf('{"pipeline": [{"result": "[step1[image]]"}]}').map((i) => i.code)).toContain('empty-pipeline');
  });

  it('reports a missing result', () => {
    expect(issuesOf(`{"pipeline": [${step(1, 'GRAYSCALE', { image: 'init[image]' })}]}`).map((i) => i.code)).toEqual(['no-result']);
  });

  it('reports an unknown brick with the closest registered name', () => {
    const [issue] = issuesOf(wf([step(1, 'GRAYSCALLE', { image: 'init[image]' })]));
    expect(issue).toMatchObject({ code: 'unknown-brick', step: 1, brick: 'GRAYSCALLE', suggestion: 'GRAYSCALE' });
    expect(issue!.message).toMatch(/did you mean GRAYSCALE/);
  });

  it('reports a missing required input by step, brick and field', () => {
    expect(issuesOf(wf([step(1, 'RESIZE', { image: 'init[image]' })]))).toEqual([
      expect.objectContaining({ code: 'missing-input', step: 1, brick: 'RESIZE', field: 'ratio' }),
    ]);
  });

  it('reports an input the brick does not have, listing the ones it does', () => {
    const [issue] = issuesOf(wf([step(1, 'GRAYSCALE', { image: 'init[image]', strength: 2 })]));
    expect(issue).toMatchObject({ code: 'unknown-input', field: 'strength' });
    expect(issue!.message).toMatch(/takes image, mask/);
  });

  it('reports a reference to a step that does not exist', () => {
    expect(issuesOf(wf([step(1, 'GRAYSCALE', { image: 'step7[image]' })]))).toEqual([
      expect.objectContaining({ code: 'missing-step', step: 1, field: 'image' }),
    ]);
  });

  it('reports a reference to an output the producing brick lacks', () => {
    const issues = issuesOf(wf([step(1, 'GRAYSCALE', { image: 'init[image]' }), step(2, 'RESIZE', { image: 'step1[mask]', ratio: 2 })], '[step2[image]]'));
    expect(issues).toEqual([expect.objectContaining({ code: 'unknown-output', step: 2, field: 'image' })]);
    expect(issues[0]!.message).toMatch(/GRAYSCALE outputs image/);
  });

  it('reports a reference to a later step, and a cycle', () => {
    const issues = issuesOf(
      wf([step(1, 'GRAYSCALE', { image: 'step2[image]' }), step(2, 'GRAYSCALE', { image: 'step1[image]' })], '[step2[image]]'),
    );
    expect(issues.map((i) => i.code).sort()).toEqual(['cycle', 'forward-reference']);
    expect(issues.find((i) => i.code === 'cycle')!.message).toMatch(/1 → 2 → 1|2 → 1 → 2/);
  });

  it('reports a step that reads its own output', () => {
    expect(issuesOf(wf([step(1, 'GRAYSCALE', { image: 'step1[image]' })])).map((i) => i.code)).toEqual(['forward-reference', 'cycle']);
  });

  it('reports a Mask where an Image is required', () => {
    const [issue] = issuesOf(wf([step(1, 'BBOX', { mask: 'init[mask]' }), step(2, 'GRAYSCALE', { image: 'step1[mask]' })], '[step2[image]]'), ['image', 'mask']);
    expect(issue).toMatchObject({ code: 'type-mismatch', step: 2, field: 'image' });
    expect(issue!.message).toBe('step 2 (GRAYSCALE) input "image": expects Image but step1[mask] is Mask.');
  });

  it('reports a non-numeric Float literal and an out-of-range one', () => {
    expect(issuesOf(wf([step(1, 'RESIZE', { image: 'init[image]', ratio: 'big' })]))).toEqual([expect.objectContaining({ code: 'bad-literal', field: 'ratio' })]);
    expect(issuesOf(wf([step(1, 'RESIZE', { image: 'init[image]', ratio: 1000 })]))).toEqual([expect.objectContaining({ code: 'bad-literal', field: 'ratio' })]);
  });

  it('reports a literal given where an image must come from a reference', () => {
    expect(issuesOf(wf([step(1, 'GRAYSCALE', { image: 'photo.png' })]))).toEqual([expect.objectContaining({ code: 'bad-literal', field: 'image' })]);
  });

  it('reports a result that points nowhere', () => {
    expect(issuesOf(wf([step(1, 'GRAYSCALE', { image: 'init[image]' })], '[step3[image]]')).map((i) => i.code)).toEqual(['result-unresolved']);
    expect(issuesOf(wf([step(1, 'GRAYSCALE', { image: 'init[image]' })], '[step1[caption]]')).map((i) => i.code)).toEqual(['result-unresolved']);
  });

  it('reports init[mask] when the user gave no mask, and init names that do not exist', () => {
    expect(issuesOf(wf([step(1, 'BBOX', { mask: 'init[mask]' })], '[step1[mask]]')).map((i) => i.code)).toEqual(['missing-user-input']);
    expect(issuesOf(wf([step(1, 'GRAYSCALE', { image: 'init[photo]' })])).map((i) => i.code)).toEqual(['unknown-init']);
  });

  it('refuses a step that mixes kinds of input, saying which kinds it gives', () => {
    const issues = issuesOf(wf([step(1, 'INVERSE', { mask2: 'init[mask]', image1: 'init[image]' })], '[step1[mask]]'), ['image', 'mask']);
    expect(issues).toEqual([expect.objectContaining({ code: 'mixed-kinds', step: 1, brick: 'INVERSE' })]);
    expect(issues[0]!.message).toBe(
      'step 1 (INVERSE): give masks (mask1, mask2) or images (image1, image2), one kind per step; this step gives masks (mask2) and images (image1).',
    );
    expect(issuesOf(wf([step(1, 'COMPOSE', { mask1: 'init[mask]', image2: 'init[image]' })]), ['image', 'mask']).map((i) => i.code)).toEqual(['mixed-kinds']);
    expect(issuesOf(wf([step(1, 'RESIZE', { mask: 'init[mask]', image: 'init[image]', ratio: 0.5 })]), ['image', 'mask']).map((i) => i.code)).toEqual(['mixed-kinds']);
    expect(issuesOf(wf([step(1, 'CMI-PRED', { image: 'init[image]', ratio: 2, left_ratio: 1.5 })])).map((i) => i.code)).toEqual(['mixed-kinds']);
  });

  it('asks for the ports a kind needs, and for a kind when a brick gets none', () => {
    expect(issuesOf(wf([step(1, 'INVERSE', { mask1: 'init[mask]' })], '[step1[mask]]'), ['image', 'mask'])).toEqual([
      expect.objectContaining({ code: 'missing-input', field: 'mask2', message: 'step 1 (INVERSE) input "mask2": required Mask input is missing (given masks, INVERSE needs mask2).' }),
    ]);
    expect(issuesOf(wf([step(1, 'COMPOSE', { mask1: 'init[mask]' })], '[step1[mask]]'), ['image', 'mask']).map((i) => i.field)).toEqual(['mask2']);
    expect(issuesOf(wf([step(1, 'RESIZE', { ratio: 0.5 })])).map((i) => i.message)).toEqual(['step 1 (RESIZE): needs a mask (mask) or an image (image).']);
    // CMI-PRED: all four side ratios or none.
    expect(issuesOf(wf([step(1, 'CMI-PRED', { image: 'init[image]', left_ratio: 1.5 })])).map((i) => i.field)).toEqual(['right_ratio', 'top_ratio', 'bottom_ratio']);
  });

  it('takes CMI-PRED without ratios as caption only, and a ratio below 1 (a side cannot shrink) as a bad literal', () => {
    expect(issuesOf(wf([step(1, 'CMI-PRED', { image: 'init[image]' })], '[step1[caption]]'))).toEqual([]);
    expect(issuesOf(wf([step(1, 'CMI-PRED', { image: 'init[image]', ratio: 0.5 })])).map((i) => i.code)).toEqual(['bad-literal']);
  });

  it('reports a step number used twice', () => {
    expect(issuesOf(wf([step(1, 'GRAYSCALE', { image: 'init[image]' }), step(1, 'GRAYSCALE', { image: 'init[image]' })])).map((i) => i.code)).toEqual(['duplicate-step']);
  });

  it('reports every problem at once, one line each, ready for a self-repair prompt', () => {
    const issues = issuesOf(wf([step(1, 'RESIZ', { image: 'init[image]' }), step(2, 'RESIZE', { image: 'step1[image]', ratio: 'x', size: 3 })], '[step4[image]]'));
    expect(issues.map((i) => i.code).sort()).toEqual(['bad-literal', 'result-unresolved', 'unknown-brick', 'unknown-input']);
    expect(formatIssues(issues).split('\n')).toHaveLength(4);
  });
});
