/**
 * Lenient reading of Builder output. Real MLLM output wraps the workflow in a
 * `<think>` trace, code fences and prose, and bends JSON (trailing commas,
 * single quotes, full-width punctuation, numbers as strings). We repair the
 * text with jsonrepair, then normalise the Lego-Edit shape into a Workflow.
 */
import { jsonrepair } from 'jsonrepair';
import { LegoEditError } from '../errors.ts';
import type { Binding, Source, Workflow, WorkflowNode } from './types.ts';
import { findRefs, parseRef } from './types.ts';

export class WorkflowParseError extends LegoEditError {
  constructor(
    message: string,
    /** The text that could not be read, for logs and self-repair prompts. */
    readonly text: string,
    options: { cause?: unknown } = {},
  ) {
    super('workflow-parse', message, options);
  }
}

export interface ParsedBuilderReply {
  /** The `<think>` trace, if any. */
  readonly reasoning?: string;
  readonly workflow: Workflow;
}

/** Splits a Builder reply into its reasoning trace and the rest. */
export function splitReasoning(text: string): { reasoning?: string; rest: string } {
  const open = text.search(/<think>/i);
  const close = text.search(/<\/think>/i);
  if (close === -1) {
    // An unclosed trace: the model stopped mid-thought or forgot to close it; the JSON may still follow it.
    if (open !== -1) return { reasoning: text.slice(open + 7).trim(), rest: text.slice(open + 7) };
    return { rest: text };
  }
  // Some chat templates strip the opening tag: everything before </think> is reasoning.
  const start = open !== -1 && open < close ? open + 7 : 0;
  return { reasoning: text.slice(start, close).trim(), rest: text.slice(close + 8) };
}

const FULL_WIDTH: Record<string, string> = {
  '，': ',',
  '：': ':',
  '；': ',',
  '｛': '{',
  '｝': '}',
  '［': '[',
  '］': ']',
  '（': '(',
  '）': ')',
};

/**
 * Full-width quotes that open a string, and what closes it; some models write ”
 * at both ends. An ASCII `"` closes one too: models mix them.
 */
const FULL_WIDTH_QUOTES: Record<string, string> = { '“': '”', '”': '”', '「': '」' };

/**
 * Maps full-width punctuation to ASCII outside string values; text inside
 * strings is left as written. A full-width opening quote starts a string just
 * as `"` does, or `“把车变成蓝色，谢谢”` would lose its full-width comma.
 */
export function asciiPunctuation(text: string): string {
  let out = '';
  /** What ends the string being read; undefined outside strings. */
  let closers: readonly string[] | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (closers) {
      if (closers.includes(ch)) {
        out += '"';
        closers = undefined;
      } else {
        out += ch;
        if (ch === '\\') out += text[++i] ?? '';
      }
      continue;
    }
    const fullWidthCloser = FULL_WIDTH_QUOTES[ch];
    if (fullWidthCloser !== undefined || ch === '"') {
      out += '"';
      closers = fullWidthCloser !== undefined ? [fullWidthCloser, '"'] : ['"'];
      continue;
    }
    out += FULL_WIDTH[ch] ?? ch;
  }
  return out;
}

/** The JSON part of a reply: inside a code fence if there is one, from the first `{` or `[` to its last closer. */
export function extractJsonText(text: string): string {
  const fence = /```[a-zA-Z]*\s*\n?([\s\S]*?)(```|$)/.exec(text);
  const body = fence && /[{[]/.test(fence[1]!) ? fence[1]! : text;
  const normalised = asciiPunctuation(body);
  const start = normalised.search(/[{[]/);
  if (start === -1) return normalised.trim();
  const closer = normalised[start] === '{' ? '}' : ']';
  const end = normalised.lastIndexOf(closer);
  return end > start ? normalised.slice(start, end + 1) : normalised.slice(start);
}

/**
 * How deep brackets may nest in a workflow. A real one nests four deep
 * (`{pipeline: [{input: {…}}]}`); JSON.parse, jsonrepair and every walker after
 * them recurse, so text nested thousands deep would overflow the stack.
 */
export const MAX_JSON_NESTING = 64;

/** The deepest bracket nesting in JSON text, counted outside double-quoted strings; stops counting past `limit`. */
export function jsonNesting(text: string, limit = MAX_JSON_NESTING): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === '{' || ch === '[') {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if ((ch === '}' || ch === ']') && depth > 0) depth--;
  }
  return deepest;
}

/** Whether a parsed value nests deeper than `limit`, walked with an explicit stack (the point is not to recurse). */
function nestedDeeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth + 1 > limit) return true;
    for (const child of Object.values(v)) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}

const tooDeep = (text: string): WorkflowParseError =>
  new WorkflowParseError(`The workflow JSON is nested more than ${MAX_JSON_NESTING} levels deep; a workflow needs four.`, text);

/** Reads JSON the way a forgiving human would. Throws WorkflowParseError when nothing JSON-like is there. */
export function parseLenientJson(text: string): unknown {
  const candidate = extractJsonText(text);
  if (!/[{[]/.test(candidate)) throw new WorkflowParseError('The reply contains no JSON workflow.', text);
  // Checked before any parser sees it (jsonrepair recurses), and again on what they return, since
  // text can hide nesting from a scan (an unclosed string); everything that reads the result recurses too.
  if (jsonNesting(candidate) > MAX_JSON_NESTING) throw tooDeep(text);
  let parsed: unknown;
  try {
    parsed = JSON.parse(candidate);
  } catch {
    try {
      parsed = JSON.parse(jsonrepair(candidate));
    } catch (err) {
      if (err instanceof RangeError) throw tooDeep(text);
      throw new WorkflowParseError(`The workflow JSON cannot be repaired: ${(err as Error).message}`, text, { cause: err });
    }
  }
  if (nestedDeeperThan(parsed, MAX_JSON_NESTING)) throw tooDeep(text);
  return parsed;
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function toBinding(value: unknown): Binding | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number') return { kind: 'literal', value };
  if (typeof value === 'string') {
    const ref = parseRef(value);
    if (ref) return { kind: 'ref', source: ref };
    // The model sometimes writes "null"/"None" as a string for an input it does not give.
    if (/^\s*(null|none)\s*$/i.test(value)) return undefined;
    return { kind: 'literal', value };
  }
  return { kind: 'invalid', raw: value };
}

function resultSources(value: unknown): Source[] {
  if (typeof value === 'string') return findRefs(value);
  if (Array.isArray(value)) return value.flatMap(resultSources);
  return [];
}

/** Normalises a parsed Lego-Edit object (`{process, pipeline: [...steps, {result}]}`) into a Workflow. */
export function normaliseWorkflow(raw: unknown, originalText = ''): Workflow {
  const root = asRecord(raw);
  const pipeline: unknown = Array.isArray(raw) ? raw : (root?.pipeline ?? root?.workflow ?? root?.steps);
  if (!Array.isArray(pipeline)) {
    throw new WorkflowParseError('The workflow has no "pipeline" list.', originalText || JSON.stringify(raw));
  }
  const nodes: WorkflowNode[] = [];
  const results: Source[] = root && 'result' in root ? resultSources(root.result) : [];
  pipeline.forEach((entry, index) => {
    const rec = asRecord(entry);
    if (!rec) return;
    if ('result' in rec && !('model' in rec)) {
      results.push(...resultSources(rec.result));
      return;
    }
    const stepNum = Number(rec.step);
    const step = Number.isInteger(stepNum) && stepNum > 0 ? stepNum : index + 1;
    // Keys are the Builder's words: a null prototype keeps "__proto__" or "constructor" plain keys, never Object.prototype's members.
    const inputs: Record<string, Binding> = Object.create(null) as Record<string, Binding>;
    for (const [name, value] of Object.entries(asRecord(rec.input ?? rec.inputs) ?? {})) {
      const binding = toBinding(value);
      if (binding) inputs[name.trim().toLowerCase()] = binding;
    }
    // The reference is what later steps use, so it wins over a mismatched key: {"mask": "step2[image]"} declares "image".
    const outputs: string[] = [];
    for (const [key, value] of Object.entries(asRecord(rec.output ?? rec.outputs) ?? {})) {
      const ref = typeof value === 'string' ? parseRef(value) : undefined;
      const name = ref?.kind === 'step' ? ref.output : key.trim().toLowerCase();
      if (!outputs.includes(name)) outputs.push(name);
    }
    nodes.push({ step, brick: String(rec.model ?? rec.brick ?? rec.tool ?? '').trim().toUpperCase(), inputs, outputs });
  });
  const process = typeof root?.process === 'string' ? root.process : undefined;
  return { ...(process !== undefined ? { process } : {}), nodes, results };
}

/** Reads a Builder reply or a workflow file: reasoning trace, then the workflow. */
export function parseBuilderReply(text: string): ParsedBuilderReply {
  const { reasoning, rest } = splitReasoning(text);
  const workflow = normaliseWorkflow(parseLenientJson(rest), text);
  return reasoning !== undefined ? { reasoning, workflow } : { workflow };
}

export function parseWorkflow(text: string): Workflow {
  return parseBuilderReply(text).workflow;
}
