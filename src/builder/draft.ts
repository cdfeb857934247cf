/** Assembling and surgically editing workflows, for the offline planner and for revisions. */
import type { BrickRegistry } from '../engine/registry.ts';
import type { Binding, Source, Workflow, WorkflowNode } from '../engine/workflow/types.ts';

export const INIT_IMAGE: Source = { kind: 'init', name: 'image' };
export const INIT_MASK: Source = { kind: 'init', name: 'mask' };
export const INIT_REFERENCE: Source = { kind: 'init', name: 'reference' };

export type InputValue = Source | string | number | undefined;

function isSource(v: InputValue): v is Source {
  return typeof v === 'object' && v !== null && 'kind' in v;
}

export function toBinding(v: Source | string | number): Binding {
  return isSource(v) ? { kind: 'ref', source: v } : { kind: 'literal', value: v };
}

/** A workflow under construction: steps are numbered in the order they are added, so references always point back. */
export class Draft {
  readonly nodes: WorkflowNode[] = [];

  constructor(private readonly registry: BrickRegistry) {}

  /** Adds a step; undefined inputs are left out (optional ports). Returns the step number. */
  add(brick: string, inputs: Record<string, InputValue>): number {
    const step = this.nodes.length + 1;
    const bound: Record<string, Binding> = {};
    for (const [k, v] of Object.entries(inputs)) if (v !== undefined) bound[k] = toBinding(v);
    const outputs = Object.keys(this.registry.get(brick)?.outputs ?? { image: null });
    this.nodes.push({ step, brick, inputs: bound, outputs });
    return step;
  }

  workflow(results: readonly Source[], process?: string): Workflow {
    return { ...(process !== undefined ? { process } : {}), nodes: [...this.nodes], results: [...results] };
  }
}

export const out = (step: number, output: string): Source => ({ kind: 'step', step, output });

function mapSource(s: Source, f: (step: number) => number): Source {
  return s.kind === 'step' ? { ...s, step: f(s.step) } : s;
}

function mapRefs(node: WorkflowNode, f: (s: Source) => Source): WorkflowNode {
  const inputs: Record<string, Binding> = {};
  for (const [k, b] of Object.entries(node.inputs)) inputs[k] = b.kind === 'ref' ? { kind: 'ref', source: f(b.source) } : b;
  return { ...node, inputs };
}

/**
 * Inserts a step right after `after`, renumbering later steps and their
 * references. Inputs of every step that is not rewired stay as they were, so
 * the executor's content-keyed cache still recognises them.
 */
export function insertAfter(wf: Workflow, after: number, node: Omit<WorkflowNode, 'step'>, rewire: (n: WorkflowNode, newStep: number) => WorkflowNode = (n) => n): Workflow {
  const shift = (s: number): number => (s > after ? s + 1 : s);
  const newStep = after + 1;
  const nodes = wf.nodes.map((n) => {
    const moved = mapRefs({ ...n, step: shift(n.step) }, (s) => mapSource(s, shift));
    return moved.step > newStep ? rewire(moved, newStep) : moved;
  });
  nodes.push({ ...node, step: newStep });
  nodes.sort((a, b) => a.step - b.step);
  return { ...wf, nodes, results: wf.results.map((r) => mapSource(r, shift)) };
}

/** Removes a step, pointing its consumers at `replacement` (one of the removed step's inputs). */
export function removeStep(wf: Workflow, step: number, replacement: Source): Workflow {
  const shift = (s: number): number => (s > step ? s - 1 : s);
  const redirect = (s: Source): Source => mapSource(s.kind === 'step' && s.step === step ? replacement : s, shift);
  const nodes = wf.nodes.filter((n) => n.step !== step).map((n) => mapRefs({ ...n, step: shift(n.step) }, redirect));
  return { ...wf, nodes, results: wf.results.map(redirect) };
}

/** Replaces one literal input of one step. */
export function setLiteral(wf: Workflow, step: number, input: string, value: string | number): Workflow {
  return { ...wf, nodes: wf.nodes.map((n) => (n.step === step ? { ...n, inputs: { ...n.inputs, [input]: { kind: 'literal', value } } } : n)) };
}

/** Steps that consume an output of `step`. */
export function consumers(wf: Workflow, step: number): WorkflowNode[] {
  return wf.nodes.filter((n) => Object.values(n.inputs).some((b) => b.kind === 'ref' && b.source.kind === 'step' && b.source.step === step));
}

export function literal(node: WorkflowNode, input: string): string | number | undefined {
  const b = node.inputs[input];
  return b?.kind === 'literal' ? b.value : undefined;
}
