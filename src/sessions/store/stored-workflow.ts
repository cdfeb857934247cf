/**
 * Plans kept in the database outlive the catalogue they were written for. Each
 * stored plan carries the catalogue version it was written against; plans read
 * back from an older one are upgraded on read to the same meaning in today's
 * catalogue, so revising an old turn runs the edit it ran then. Nothing is
 * rewritten in place: an upgraded plan is stored in the new form only when a
 * turn that uses it is recorded.
 */
import { ratioInputs } from '../../../bricks/predict/cmi-ratios.ts';
import type { Binding, Workflow, WorkflowNode } from '../../engine/workflow/types.ts';

/**
 * 1: before the published Lego-Edit signatures (RESIZE scaled the whole picture,
 * CMI-PRED's ratios were fractions added on each side).
 * 2: the published signatures (RESIZE scales an object in place, whole-picture
 * scaling is SCALE; CMI-PRED's ratios multiply their sides).
 */
export const CATALOGUE_VERSION = 2;

/** The JSON a plan is stored as: the internal form with its catalogue version. */
export type StoredWorkflow = Workflow & { readonly catalogue: number };

export function toStored(workflow: Workflow): StoredWorkflow {
  return { ...workflow, catalogue: CATALOGUE_VERSION };
}

/** A stored plan in today's catalogue; rows without a version are version 1. */
export function fromStored(json: unknown): Workflow | null {
  if (!json || typeof json !== 'object') return null;
  const { catalogue, ...workflow } = json as Partial<StoredWorkflow>;
  const wf = workflow as Workflow;
  return (catalogue ?? 1) < 2 ? { ...wf, nodes: wf.nodes.map(upgradeFrom1) } : wf;
}

const literal = (b: Binding | undefined): number | undefined => (b?.kind === 'literal' && typeof b.value === 'number' ? b.value : undefined);

function upgradeFrom1(node: WorkflowNode): WorkflowNode {
  // Whole-picture scaling is SCALE now; RESIZE took the published meaning (an object scaled in place).
  if (node.brick === 'RESIZE') return { ...node, brick: 'SCALE' };
  if (node.brick === 'CMI-PRED') {
    const [left, right, top, bottom] = ['left_ratio', 'right_ratio', 'top_ratio', 'bottom_ratio'].map((k) => literal(node.inputs[k]));
    // Anything but four numbers was refused then and is left for the validator to refuse now.
    if (left === undefined || right === undefined || top === undefined || bottom === undefined) return node;
    const { left_ratio: _l, right_ratio: _r, top_ratio: _t, bottom_ratio: _b, ...rest } = node.inputs;
    // A fraction f added on a side is the multiplier 1 + f.
    const sides = ratioInputs({ left: 1 + left, right: 1 + right, top: 1 + top, bottom: 1 + bottom });
    const inputs: Record<string, Binding> = { ...rest };
    for (const [k, v] of Object.entries(sides)) inputs[k] = { kind: 'literal', value: v };
    return { ...node, inputs };
  }
  return node;
}
