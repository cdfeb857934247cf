/** prompt.md holds every text the MLLM Builder sends; prompt.ts splits it into sections and fills them. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { builtinBricks } from '../../bricks/index.ts';
import { fill, parsePrompt, renderPrompt, workedExamples } from '../../src/builder/prompt.ts';
import { BrickRegistry } from '../../src/engine/registry.ts';
import { parseWorkflow } from '../../src/engine/workflow/parse.ts';
import { validateWorkflow } from '../../src/engine/workflow/validate.ts';

const source = readFileSync(new URL('../../src/builder/prompt.md', import.meta.url), 'utf8');

describe('prompt.md', () => {
  it('has every section the Builder renders, and seven worked examples', () => {
    const sections = parsePrompt(source);
    expect([...sections.keys()].sort()).toEqual(['example', 'first-turn', 'intent', 'intent-last', 'invalid-reply', 'no-rules', 'revise', 'revise-user', 'revise-workflow', 'run-failed', 'system']);
    expect(sections.get('example')).toHaveLength(7);
  });

  it('teaches only workflows the validator accepts as written', () => {
    const registry = new BrickRegistry(builtinBricks());
    for (const example of parsePrompt(source).get('example')!) {
      const checked = validateWorkflow(parseWorkflow(example.split('\n').slice(1).join('\n')), registry);
      expect(checked.ok ? [] : checked.issues.map((i) => i.message), example.split('\n')[0]).toEqual([]);
    }
  });

  it('refuses a prompt file that lacks a section, naming it', () => {
    expect(() => parsePrompt(source.replace('<!-- section: run-failed -->', ''), 'prompt.md')).toThrow(/prompt\.md lacks the section run-failed/);
  });

  it('fills placeholders in one pass and drops a line whose only placeholder is empty', () => {
    expect(fill('a\n{{x}}\nb {{y}}', { x: '', y: '{{x}}' })).toBe('a\nb {{x}}');
    expect(renderPrompt('invalid-reply', { problems: '- step 2: unknown brick' })).toBe('That workflow cannot be used:\n- step 2: unknown brick\nReply with a corrected workflow: <think> briefly, then the JSON only.');
  });

  it('shows only the worked examples whose bricks all exist', () => {
    expect(workedExamples(new Set(['RES', 'FLUX-RCM']))).toMatch(/^Instruction: Change the car colour to light blue\n\{"process"/);
    expect(workedExamples(new Set(['RES', 'FLUX-RCM'])).match(/Instruction:/g)).toHaveLength(1);
    expect(workedExamples(new Set())).toBe('');
  });
});
