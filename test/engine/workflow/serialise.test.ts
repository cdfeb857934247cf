import { describe, expect, it } from 'vitest';
import { parseWorkflow } from '../../../src/engine/workflow/parse.ts';
import { serialiseWorkflow, summariseWorkflow, toLegoEditJson } from '../../../src/engine/workflow/serialise.ts';

const MESSY = `<think>plan</think>\`\`\`json
{'process': 'remove the left sheep', 'pipeline': [
  {'step': 1, 'model': 'RES', 'input': {'image': 'init[image]', 'prompt': 'the left sheep'}, 'output': {'mask': 'step1[mask]'}},
  {'step': 2, 'model': 'FASTINPAINT', 'input': {'image': 'init[image]', 'mask': 'step1[mask]', 'extra': null}, 'output': {'image': 'step2[image]'}},
  {'result': '[step2[image]]'},
]}
\`\`\``;

describe('serialiseWorkflow', () => {
  it('writes the Lego-Edit format that parses back to the same workflow', () => {
    const wf = parseWorkflow(MESSY);
    const text = serialiseWorkflow(wf);
    expect(JSON.parse(text)).toEqual(toLegoEditJson(wf));
    expect(parseWorkflow(text)).toEqual(wf);
  });

  it('ends the pipeline with the result entry, as the published Builder does', () => {
    const json = toLegoEditJson(parseWorkflow(MESSY));
    expect(json.pipeline.at(-1)).toEqual({ result: '[step2[image]]' });
    expect(json.pipeline[0]).toEqual({ step: 1, model: 'RES', input: { image: 'init[image]', prompt: 'the left sheep' }, output: { mask: 'step1[mask]' } });
  });

  it('summarises a workflow in one line with its literals', () => {
    expect(summariseWorkflow(parseWorkflow(MESSY))).toBe("RES('the left sheep') → FASTINPAINT");
  });
});
