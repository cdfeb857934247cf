/**
 * Checks a workflow against the registry before anything runs, reporting every
 * problem at once with step, brick and field: precise enough to hand back to an
 * MLLM for self-repair.
 */
import { LegoEditError } from '../errors.ts';
import type { BrickRegistry } from '../registry.ts';
import type { ValueType } from '../values.ts';
import { type AnyBrick, type InputKind, isRequired, literalSchema, portOf } from '../brick.ts';
import type { Binding, Source, Workflow, WorkflowNode } from './types.ts';
import { refText } from './types.ts';

export type ValidationCode =
  | 'empty-pipeline'
  | 'too-many-steps'
  | 'no-result'
  | 'duplicate-step'
  | 'unknown-brick'
  | 'missing-input'
  | 'mixed-kinds'
  | 'unknown-input'
  | 'missing-step'
  | 'unknown-output'
  | 'unknown-init'
  | 'missing-user-input'
  | 'forward-reference'
  | 'cycle'
  | 'type-mismatch'
  | 'bad-literal'
  | 'result-unresolved';

export interface ValidationIssue {
  readonly code: ValidationCode;
  readonly message: string;
  readonly step?: number;
  readonly brick?: string;
  readonly field?: string;
  readonly suggestion?: string;
}

export class WorkflowValidationError extends LegoEditError {
  constructor(readonly issues: readonly ValidationIssue[]) {
    super('workflow-invalid', `The workflow is invalid:\n${formatIssues(issues)}`);
  }
}

export function formatIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((i) => `- ${i.message}`).join('\n');
}

/**
 * User inputs a run may have. `init[image]` is always there; `init[mask]` (the region to edit) and
 * `init[reference]` (a second photo, e.g. of something to paste in) only when the user gave one.
 */
export const INIT_TYPES: Readonly<Record<string, ValueType>> = { image: 'Image', mask: 'Mask', reference: 'Image' };

/** The `init[...]` names a run with these user inputs provides. */
export function providedInputs(given: { readonly hasMask?: boolean | undefined; readonly hasReference?: boolean | undefined }): Set<string> {
  return new Set(['image', ...(given.hasMask ? ['mask'] : []), ...(given.hasReference ? ['reference'] : [])]);
}

/**
 * The most steps a workflow may have. Published Lego-Edit plans use two to six;
 * the bound keeps a runaway or hostile plan from queueing thousands of brick runs.
 */
export const MAX_WORKFLOW_STEPS = 200;

export interface ValidateOptions {
  /** Which `init[...]` inputs the run will provide (default: image only). */
  readonly provided?: ReadonlySet<string>;
}

export type ValidationResult =
  | { readonly ok: true; readonly workflow: Workflow; readonly issues: readonly [] }
  | { readonly ok: false; readonly issues: readonly ValidationIssue[] };

/** A literal as the message quotes it: a 100 KB prompt is shown by its start. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function where(node: WorkflowNode, field?: string): string {
  return `step ${node.step} (${node.brick || 'no model'})${field ? ` input "${field}"` : ''}`;
}

/**
 * Validates and returns the workflow with literals coerced (e.g. "2.0" → 2) and
 * each step's outputs filled in from its brick, ready for the Executor.
 */
export function validateWorkflow(wf: Workflow, registry: BrickRegistry, options: ValidateOptions = {}): ValidationResult {
  const provided = options.provided ?? new Set(['image']);
  const issues: ValidationIssue[] = [];
  const byStep = new Map<number, WorkflowNode>();

  if (wf.nodes.length === 0) issues.push({ code: 'empty-pipeline', message: 'The pipeline has no steps.' });
  if (wf.nodes.length > MAX_WORKFLOW_STEPS) {
    issues.push({ code: 'too-many-steps', message: `The pipeline has ${wf.nodes.length} steps; at most ${MAX_WORKFLOW_STEPS} are allowed.` });
  }
  if (wf.results.length === 0) {
    issues.push({ code: 'no-result', message: 'The workflow has no result: add {"result": "[stepN[image]]"} as the last entry.' });
  }
  for (const node of wf.nodes) {
    if (byStep.has(node.step)) {
      issues.push({ code: 'duplicate-step', step: node.step, brick: node.brick, message: `Step number ${node.step} is used twice.` });
    } else {
      byStep.set(node.step, node);
    }
  }

  /** The type a reference yields, or undefined after reporting why it is unusable. */
  const resolve = (src: Source, node: WorkflowNode | undefined, field: string | undefined): ValueType | undefined => {
    const at = node ? where(node, field) : 'result';
    const base = { step: node?.step, brick: node?.brick, field } as const;
    if (src.kind === 'init') {
      const t = Object.hasOwn(INIT_TYPES, src.name) ? INIT_TYPES[src.name] : undefined;
      if (!t) {
        issues.push({ ...base, code: 'unknown-init', message: `${at}: init[${src.name}] does not exist; use init[image], init[mask] or init[reference].` });
        return undefined;
      }
      if (!provided.has(src.name)) {
        issues.push({ ...base, code: 'missing-user-input', message: `${at}: uses init[${src.name}] but the user gave no ${src.name}.` });
        return undefined;
      }
      return t;
    }
    const producer = byStep.get(src.step);
    if (!producer) {
      issues.push({
        ...base,
        code: node ? 'missing-step' : 'result-unresolved',
        message: `${at}: ${refText(src)} refers to step ${src.step}, which does not exist.`,
      });
      return undefined;
    }
    if (node && src.step >= node.step) {
      issues.push({
        ...base,
        code: 'forward-reference',
        message: `${at}: ${refText(src)} refers to ${src.step === node.step ? 'its own step' : 'a later step'}; a step may only use earlier steps' outputs.`,
      });
    }
    const brick = registry.get(producer.brick);
    if (!brick) return undefined; // reported as unknown-brick
    const out = portOf(brick.outputs, src.output);
    if (!out) {
      issues.push({
        ...base,
        code: node ? 'unknown-output' : 'result-unresolved',
        message: `${at}: ${refText(src)} does not exist; ${brick.name} outputs ${Object.keys(brick.outputs).join(', ')}.`,
      });
      return undefined;
    }
    return out.type;
  };

  const coerced: WorkflowNode[] = [];
  for (const node of wf.nodes) {
    const brick = registry.get(node.brick);
    if (!brick) {
      const suggestion = registry.suggest(node.brick);
      issues.push({
        code: 'unknown-brick',
        step: node.step,
        brick: node.brick,
        ...(suggestion ? { suggestion } : {}),
        message: `step ${node.step}: unknown brick "${node.brick}"${suggestion ? `; did you mean ${suggestion}?` : ''}.`,
      });
      for (const b of Object.values(node.inputs)) if (b.kind === 'ref') resolve(b.source, node, undefined);
      coerced.push(node);
      continue;
    }
    const inputs = Object.create(null) as Record<string, Binding>;
    for (const [field, binding] of Object.entries(node.inputs)) {
      const spec = portOf(brick.inputs, field);
      if (!spec) {
        issues.push({
          code: 'unknown-input',
          step: node.step,
          brick: brick.name,
          field,
          message: `${where(node, field)}: ${brick.name} has no such input; it takes ${Object.keys(brick.inputs).join(', ')}.`,
        });
        continue;
      }
      if (binding.kind === 'ref') {
        const t = resolve(binding.source, node, field);
        if (t && t !== spec.type) {
          issues.push({
            code: 'type-mismatch',
            step: node.step,
            brick: brick.name,
            field,
            message: `${where(node, field)}: expects ${spec.type} but ${refText(binding.source)} is ${t}.`,
          });
        }
        inputs[field] = binding;
        continue;
      }
      const schema = literalSchema(spec);
      const value = binding.kind === 'literal' ? binding.value : binding.raw;
      const parsed = schema?.safeParse(value);
      if (!schema || !parsed?.success) {
        const why = schema ? (parsed?.error?.issues[0]?.message ?? 'invalid') : `${spec.type} inputs must come from a reference such as init[image] or stepN[${spec.type.toLowerCase()}]`;
        issues.push({
          code: 'bad-literal',
          step: node.step,
          brick: brick.name,
          field,
          message: `${where(node, field)}: ${shown(value)} is not a valid ${spec.type} (${why}).`,
        });
        continue;
      }
      inputs[field] = { kind: 'literal', value: parsed.data };
    }
    for (const [field, spec] of Object.entries(brick.inputs)) {
      if (isRequired(spec) && !Object.hasOwn(node.inputs, field)) {
        issues.push({ code: 'missing-input', step: node.step, brick: brick.name, field, message: `${where(node, field)}: required ${spec.type} input is missing.` });
      }
    }
    issues.push(...kindIssues(node, brick));
    coerced.push({ ...node, brick: brick.name, inputs, outputs: Object.keys(brick.outputs) });
  }

  const cycle = findCycle(wf.nodes);
  if (cycle) {
    issues.push({ code: 'cycle', step: cycle[0], message: `Steps ${cycle.join(' → ')} depend on each other in a cycle.` });
  }
  for (const r of wf.results) resolve(r, undefined, undefined);

  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, issues: [], workflow: { ...wf, nodes: coerced } };
}

const kindText = (k: InputKind): string => `${k.label} (${k.ports.join(', ')})`;

/** One kind of input per step, with the ports that kind needs (see InputKind). */
function kindIssues(node: WorkflowNode, brick: AnyBrick): ValidationIssue[] {
  const kinds = brick.inputKinds;
  if (!kinds?.length) return [];
  const given = (port: string): boolean => Object.hasOwn(node.inputs, port);
  const used = kinds.filter((k) => k.ports.some(given));
  const base = { step: node.step, brick: brick.name } as const;
  if (used.length > 1) {
    const gives = used.map((k) => `${k.label} (${k.ports.filter(given).join(', ')})`).join(' and ');
    return [{ ...base, code: 'mixed-kinds', message: `${where(node)}: give ${kinds.map(kindText).join(' or ')}, one kind per step; this step gives ${gives}.` }];
  }
  const [kind] = used;
  if (!kind) {
    return brick.kindOptional ? [] : [{ ...base, code: 'missing-input', message: `${where(node)}: needs ${kinds.map(kindText).join(' or ')}.` }];
  }
  const needs = kind.needs ?? kind.ports;
  return needs
    .filter((port) => !given(port))
    .map((field) => ({
      ...base,
      field,
      code: 'missing-input' as const,
      message: `${where(node, field)}: required ${brick.inputs[field]?.type ?? ''} input is missing (given ${kind.label}, ${brick.name} needs ${needs.join(', ')}).`,
    }));
}

/** A dependency cycle among steps, as step numbers, if there is one. Walked with an explicit stack: pipelines may be thousands of steps long. */
function findCycle(nodes: readonly WorkflowNode[]): number[] | undefined {
  const deps = new Map<number, number[]>();
  for (const n of nodes) {
    deps.set(
      n.step,
      Object.values(n.inputs).flatMap((b) => (b.kind === 'ref' && b.source.kind === 'step' ? [b.source.step] : [])),
    );
  }
  const state = new Map<number, 'visiting' | 'done'>();
  for (const n of nodes) {
    if (state.has(n.step)) continue;
    // Each frame: a step on the current path and the index of the next dependency to visit.
    const path: { step: number; next: number }[] = [{ step: n.step, next: 0 }];
    state.set(n.step, 'visiting');
    while (path.length > 0) {
      const top = path[path.length - 1]!;
      const ds = deps.get(top.step)!;
      if (top.next === ds.length) {
        state.set(top.step, 'done');
        path.pop();
        continue;
      }
      const d = ds[top.next++]!;
      if (!deps.has(d) || state.get(d) === 'done') continue;
      if (state.get(d) === 'visiting') {
        const from = path.findIndex((f) => f.step === d);
        return [...path.slice(from).map((f) => f.step), d];
      }
      state.set(d, 'visiting');
      path.push({ step: d, next: 0 });
    }
  }
  return undefined;
}
