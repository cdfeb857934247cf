import { describe, expect, it } from 'vitest';
import { builtinBricks } from '../../../bricks/index.ts';
import { BrickRegistry } from '../../../src/engine/registry.ts';
import { parseWorkflow } from '../../../src/engine/workflow/parse.ts';
import { MAX_TEXT_LENGTH } from '../../../src/engine/brick.ts';
import { MAX_WORKFLOW_STEPS, type ValidationIssue, formatIssues, validateWorkflow } from '../../../src/engine/workflow/validate.ts';
import { longChain } from '../../support/workflow-arbitraries.ts';

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

  it('reports prototype names as unknown bricks, inputs, outputs and user inputs, never as members of Object.prototype', () => {
    // The published crash: an input called "constructor" on a brick called HASOWNPROPERTY.
    const crash = issuesOf(wf([step(1, 'HASOWNPROPERTY', { constructor: 'init[image]' })]));
    expect(crash.map((i) => i.code)).toEqual(['unknown-brick']);
    const issues = issuesOf(
      wf(
        [step(1, 'GRAYSCALE', { image: 'init[image]', constructor: 1, toString: 'x' }), step(2, 'GRAYSCALE', { image: 'step1[constructor]' }), step(3, 'BLUR', { image: 'init[__proto__]' })],
        '[step1[hasOwnProperty]]',
      ),
    );
    expect(issues.map((i) => `${i.code}:${i.field ?? ''}`).sort()).toEqual([
      'result-unresolved:',
      'unknown-init:image',
      'unknown-input:constructor',
      'unknown-input:tostring',
      'unknown-output:image',
    ]);
    expect(issues.find((i) => i.code === 'unknown-input')!.message).toBe('step 1 (GRAYSCALE) input "constructor": GRAYSCALE has no such input; it takes image, mask.');
  });

  it('refuses literals outside their port\'s declared bounds, naming the range', () => {
    const issues = issuesOf(
      wf([
        step(1, 'RESIZE', { image: 'init[image]', ratio: -1 }),
        step(2, 'RESIZE', { image: 'init[image]', ratio: 'NaN' }),
        step(3, 'RESIZE', { image: 'init[image]', ratio: '1e999' }),
        step(4, 'CROP', { image: 'init[image]', left: 1.5 }),
        step(5, 'CROP', { image: 'init[image]', aspect: -2 }),
      ]),
    );
    expect(issues.map((i) => i.message)).toEqual([
      'step 1 (RESIZE) input "ratio": -1 is not a valid Float (must be between 0.01 and 8).',
      'step 2 (RESIZE) input "ratio": "NaN" is not a valid Float (not a number).',
      'step 3 (RESIZE) input "ratio": "1e999" is not a valid Float (must be between 0.01 and 8).',
      'step 4 (CROP) input "left": 1.5 is not a valid Float (must be between 0 and 0.99).',
      'step 5 (CROP) input "aspect": -2 is not a valid Float (must be between 0 and 20).',
    ]);
  });

  it('refuses a text literal longer than the Str limit, quoting only its start', () => {
    const [issue] = issuesOf(wf([step(1, 'RES', { image: 'init[image]', prompt: 'a'.repeat(MAX_TEXT_LENGTH + 1) })]));
    expect(issue!.message).toBe(`step 1 (RES) input "prompt": "${'a'.repeat(76)}... is not a valid Str (must be at most ${MAX_TEXT_LENGTH} characters).`);
  });

  it('checks a 10,000-step chain without overflowing the stack, refusing it for its length', () => {
    const issues = issuesOf(longChain(10_000));
    expect(issues.map((i) => i.code)).toEqual(['too-many-steps']);
    expect(issues[0]!.message).toBe(`The pipeline has 10000 steps; at most ${MAX_WORKFLOW_STEPS} are allowed.`);
  });

  it('finds a cycle that runs through 10,000 steps', () => {
    const steps = Array.from({ length: 10_000 }, (_, i) => step(i + 1, 'GRAYSCALE', { image: `step${i === 0 ? 10_000 : i}[image]` }));
    const issues = issuesOf(wf(steps));
    const cycle = issues.find((i) => i.code === 'cycle');
    expect(cycle?.message).toMatch(/^Steps 1 → 10000 → 9999 → .* → 2 → 1 depend on each other in a cycle\.$/);
  });
});
