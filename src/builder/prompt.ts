/**
 * The MLLM Builder's prompt text, read from prompt.md: the system prompt, the
 * worked examples, and every message the Builder sends besides the user's
 * instruction (revision, run-failure feedback, self-repair). The file is split
 * at `<!-- section: NAME -->` lines; `{{name}}` placeholders are filled in one
 * pass, so a filled-in value (a workflow's JSON) is never read as a template.
 */
import { readFileSync } from 'node:fs';

const SECTION_NAMES = ['system', 'example', 'no-rules', 'first-turn', 'revise', 'revise-workflow', 'revise-user', 'run-failed', 'invalid-reply', 'intent', 'intent-last'] as const;

export type PromptSection = (typeof SECTION_NAMES)[number];

const REQUIRED: readonly PromptSection[] = SECTION_NAMES;

/** Sections by name, in file order (a name may repeat: each worked example is one `example`). */
export function parsePrompt(source: string, file = 'prompt.md'): ReadonlyMap<string, readonly string[]> {
  const sections = new Map<string, string[]>();
  const marker = /^<!--\s*section:\s*([\w-]+)\s*-->\s*$/gm;
  const found = [...source.matchAll(marker)];
  found.forEach((m, i) => {
    const body = source.slice(m.index + m[0].length, found[i + 1]?.index ?? source.length).trim();
    sections.set(m[1]!, [...(sections.get(m[1]!) ?? []), body]);
  });
  const missing = REQUIRED.filter((name) => !sections.has(name));
  if (missing.length) throw new Error(`${file} lacks the section${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (a line "<!-- section: NAME -->" starts each)`);
  return sections;
}

/** Fills `{{name}}` placeholders; a line that holds only a placeholder whose value is empty is dropped. */
export function fill(template: string, values: Readonly<Record<string, string>>): string {
  return template
    .split('\n')
    .filter((line) => {
      const only = /^\s*\{\{(\w+)\}\}\s*$/.exec(line);
      return !only || (values[only[1]!] ?? '') !== '';
    })
    .join('\n')
    .replace(/\{\{(\w+)\}\}/g, (_, k: string) => values[k] ?? '');
}

const SECTIONS = parsePrompt(readFileSync(new URL('./prompt.md', import.meta.url), 'utf8'));

/** One section of prompt.md, filled. */
export function renderPrompt(section: Exclude<PromptSection, 'example'>, values: Readonly<Record<string, string>> = {}): string {
  return fill(SECTIONS.get(section)![0]!, values).trim();
}

/** The worked examples whose bricks all exist in `bricks`, as they go into {{examples}}. */
export function workedExamples(bricks: ReadonlySet<string>): string {
  return SECTIONS.get('example')!
    .filter((example) => [...example.matchAll(/"model"\s*:\s*"([^"]+)"/g)].every((m) => bricks.has(m[1]!)))
    .join('\n\n');
}
