import { describe, expect, it } from 'vitest';
import { MAX_JSON_NESTING, WorkflowParseError, parseBuilderReply, parseWorkflow } from '../../../src/engine/workflow/parse.ts';
import type { Binding } from '../../../src/engine/workflow/types.ts';

const REMOVE_DOG = `{"process": "remove the dog", "pipeline": [
  {"step": 1, "model": "RES", "input": {"image": "init[image]", "prompt": "dog"}, "output": {"mask": "step1[mask]", "image": "step1[image]"}},
  {"step": 2, "model": "FASTINPAINT", "input": {"image": "init[image]", "mask": "step1[mask]"}, "output": {"image": "step2[image]", "score": "step2[score]"}},
  {"result": "[step2[image]]"}]}`;

const ref = (kind: 'init' | 'step', a: string | number, output?: string): Binding =>
  kind === 'init' ? { kind: 'ref', source: { kind: 'init', name: String(a) } } : { kind: 'ref', source: { kind: 'step', step: Number(a), output: output! } };

describe('parseBuilderReply', () => {
  it('reads the published Lego-Edit format into nodes, typed references and results', () => {
    const wf = parseWorkflow(REMOVE_DOG);
    expect(wf.process).toBe('remove the dog');
    expect(wf.nodes.map((n) => n.brick)).toEqual(['RES', 'FASTINPAINT']);
    expect(wf.nodes[0]!.inputs).toEqual({ image: ref('init', 'image'), prompt: { kind: 'literal', value: 'dog' } });
    expect(wf.nodes[1]!.inputs.mask).toEqual(ref('step', 1, 'mask'));
    expect(wf.nodes[1]!.outputs).toEqual(['image', 'score']);
    expect(wf.results).toEqual([{ kind: 'step', step: 2, output: 'image' }]);
  });

  it('keeps the <think> trace as reasoning and reads the JSON after it', () => {
    const reply = parseBuilderReply(`<think>The user wants the dog gone. RES finds it, then inpaint.</think>\n${REMOVE_DOG}`);
    expect(reply.reasoning).toBe('The user wants the dog gone. RES finds it, then inpaint.');
    expect(reply.workflow.nodes).toHaveLength(2);
  });

  it('treats text before a lone </think> as reasoning, as templates that strip the opening tag produce', () => {
    const reply = parseBuilderReply(`Segment first.\n</think>\n${REMOVE_DOG}`);
    expect(reply.reasoning).toBe('Segment first.');
    expect(reply.workflow.nodes).toHaveLength(2);
  });

  it('finds the workflow inside a code fence with prose around it', () => {
    const text = `Sure! Here is the plan:\n\n\`\`\`json\n${REMOVE_DOG}\n\`\`\`\nLet me know if you need anything else.`;
    expect(parseWorkflow(text).nodes).toHaveLength(2);
  });

  it('finds the workflow in prose without a fence', () => {
    expect(parseWorkflow(`The workflow is ${REMOVE_DOG} and that is all.`).results).toHaveLength(1);
  });

  it('repairs trailing commas and single quotes', () => {
    const text = `{'process': 'grey', 'pipeline': [{'step': 1, 'model': 'GRAYSCALE', 'input': {'image': 'init[image]',}, 'output': {'image': 'step1[image]',},}, {'result': '[step1[image]]'},],}`;
    const wf = parseWorkflow(text);
    expect(wf.nodes[0]!.brick).toBe('GRAYSCALE');
    expect(wf.results).toEqual([{ kind: 'step', step: 1, output: 'image' }]);
  });

  it('maps full-width punctuation outside strings and leaves it inside string values', () => {
    const text = `{“process”：“把车变成蓝色，谢谢”，“pipeline”：[{"step"：1，"model"："RES"，"input"：{"image"："init[image]"，"prompt"："车，左边"}，"output"：{"mask"："step1[mask]"}}，{"result"："[step1[mask]]"}]}`;
    const wf = parseWorkflow(text);
    expect(wf.process).toBe('把车变成蓝色，谢谢');
    expect(wf.nodes[0]!.inputs.prompt).toEqual({ kind: 'literal', value: '车，左边' });
    expect(wf.results).toEqual([{ kind: 'step', step: 1, output: 'mask' }]);
  });

  it('keeps full-width punctuation inside strings opened with a full-width quote and closed with an ASCII one', () => {
    const text = `{“process"：“去掉狗：快点"，"pipeline"：[{"step"：1，"model"："RES"，"input"：{"image"："init[image]"，"prompt"：「狗（左边）」}，"output"：{}}，{"result"："[step1[mask]]"}]}`;
    const wf = parseWorkflow(text);
    expect(wf.process).toBe('去掉狗：快点');
    expect(wf.nodes[0]!.inputs.prompt).toEqual({ kind: 'literal', value: '狗（左边）' });
  });

  it('leaves full-width quotes inside an ASCII-quoted string as text', () => {
    const wf = parseWorkflow(`{"process": "say “hi”，please", "pipeline": [{"step": 1, "model": "GRAYSCALE", "input": {"image": "init[image]"}, "output": {}}, {"result": "[step1[image]]"}]}`);
    expect(wf.process).toBe('say “hi”，please');
  });

  it('keeps numbers given as strings as literals for validation to coerce', () => {
    const wf = parseWorkflow(`{"pipeline": [{"step": "1", "model": "RESIZE", "input": {"image": "init[image]", "ratio": "2.0"}, "output": {"image": "step1[image]"}}, {"result": "[step1[image]]"}]}`);
    expect(wf.nodes[0]!.step).toBe(1);
    expect(wf.nodes[0]!.inputs.ratio).toEqual({ kind: 'literal', value: '2.0' });
  });

  it('drops null inputs, and "null"/"None" strings, as "not given"', () => {
    const wf = parseWorkflow(`{"pipeline": [{"step": 1, "model": "INVERSE", "input": {"mask1": null, "mask2": "init[mask]", "image1": "None", "image2": "null"}, "output": {"mask": "step1[mask]"}}, {"result": "[step1[mask]]"}]}`);
    expect(Object.keys(wf.nodes[0]!.inputs)).toEqual(['mask2']);
  });

  it('names an output by its reference when the key disagrees with it', () => {
    const wf = parseWorkflow(`{"pipeline": [{"step": 2, "model": "GRAYSCALE", "input": {"image": "init[image]"}, "output": {"mask": "step2[image]"}}, {"result": "[step2[image]]"}]}`);
    expect(wf.nodes[0]!.outputs).toEqual(['image']);
  });

  it('accepts several results, as a string list or an array of references', () => {
    const pipeline = `{"step": 1, "model": "GRAYSCALE", "input": {"image": "init[image]"}, "output": {"image": "step1[image]"}}, {"step": 2, "model": "RESIZE", "input": {"image": "init[image]", "ratio": 0.5}, "output": {"image": "step2[image]"}}`;
    const expected = [
      { kind: 'step', step: 1, output: 'image' },
      { kind: 'step', step: 2, output: 'image' },
    ];
    expect(parseWorkflow(`{"pipeline": [${pipeline}, {"result": "[step1[image], step2[image]]"}]}`).results).toEqual(expected);
    expect(parseWorkflow(`{"pipeline": [${pipeline}, {"result": ["step1[image]", "step2[image]"]}]}`).results).toEqual(expected);
  });

  it('keeps objects and booleans given as inputs as invalid bindings for validation to report', () => {
    const wf = parseWorkflow(`{"pipeline": [{"step": 1, "model": "RESIZE", "input": {"image": "init[image]", "ratio": {"x": 2}}, "output": {}}, {"result": "[step1[image]]"}]}`);
    expect(wf.nodes[0]!.inputs.ratio).toEqual({ kind: 'invalid', raw: { x: 2 } });
  });

  it('closes JSON that the model cut off', () => {
    const cut = REMOVE_DOG.slice(0, REMOVE_DOG.lastIndexOf('{"result"'));
    const wf = parseWorkflow(cut);
    expect(wf.nodes.map((n) => n.brick)).toEqual(['RES', 'FASTINPAINT']);
    expect(wf.results).toEqual([]);
  });

  it('rejects a reply with no JSON at all, keeping the text for the repair prompt', () => {
    try {
      parseWorkflow('I cannot help with that.');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(WorkflowParseError);
      expect((err as WorkflowParseError).text).toBe('I cannot help with that.');
    }
  });

  it('rejects JSON that has no pipeline', () => {
    expect(() => parseWorkflow('{"process": "x"}')).toThrow(/no "pipeline"/);
  });

  it('refuses JSON nested 100,000 deep with a parse error naming the limit, whichever shape the nesting takes', () => {
    const depth = 100_000;
    const shapes = [
      '['.repeat(depth) + ']'.repeat(depth),
      '['.repeat(depth),
      '{"a":'.repeat(depth) + '1' + '}'.repeat(depth),
      `{"pipeline": [{"step": 1, "model": "GRAYSCALE", "input": {"image": ${'['.repeat(depth)}${']'.repeat(depth)}}}, {"result": "[step1[image]]"}]}`,
    ];
    for (const text of shapes) {
      const err = (() => {
        try {
          parseWorkflow(text);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(WorkflowParseError);
      expect((err as Error).message).toBe(`The workflow JSON is nested more than ${MAX_JSON_NESTING} levels deep; a workflow needs four.`);
    }
  });

  it('still reads a workflow whose prompt holds brackets, which are text and not nesting', () => {
    const wf = parseWorkflow(`{"pipeline": [{"step": 1, "model": "RES", "input": {"image": "init[image]", "prompt": "${'['.repeat(200)}"}}, {"result": "[step1[image]]"}]}`);
    expect(wf.nodes[0]!.inputs.prompt).toEqual({ kind: 'literal', value: '['.repeat(200) });
  });

  it('keeps prototype names ("__proto__", "constructor") as plain input keys and leaves Object.prototype alone', () => {
    const wf = parseWorkflow('{"pipeline": [{"step": 1, "model": "GRAYSCALE", "input": {"__proto__": "init[image]", "constructor": 3, "image": "init[image]"}}, {"result": "[step1[image]]"}]}');
    const inputs = wf.nodes[0]!.inputs;
    expect(Object.keys(inputs).sort()).toEqual(['__proto__', 'constructor', 'image']);
    expect(inputs.constructor).toEqual({ kind: 'literal', value: 3 });
    expect(Object.getPrototypeOf(inputs)).toBe(null);
    expect(({} as Record<string, unknown>).image).toBeUndefined();
  });
});
