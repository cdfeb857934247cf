/**
 * Reads what the offline checks need from a finished run: the masks its
 * segmenters made for named objects, and the region its edits were limited to
 * (the masks given to the steps the result was made from), from the
 * executor's step outputs.
 */
import { unionMasks } from '../../bricks/lib/pixels.ts';
import type { StepOutputs } from '../engine/cache.ts';
import type { BrickRegistry } from '../engine/registry.ts';
import { type ImageData, isImage, isMask, type MaskData, type Value } from '../engine/values.ts';
import type { Source, Workflow, WorkflowNode } from '../engine/workflow/types.ts';
import type { CheckInput, SegmentUnderCheck } from './types.ts';

/** Segmenters asked for one named object, which outline it (GrabCut inside the detector's box). */
const OUTLINING_SEGMENTERS: ReadonlySet<string> = new Set(['RES', 'SOS']);

/** Edits whose `mask` port is the region they change, and nothing else. */
const REGION_EDITS: ReadonlySet<string> = new Set(['FASTINPAINT', 'FLUX-FILL', 'FLUX-INPAINT', 'FLUX-RCM', 'FLUX-CBG', 'FLUX-STYLE', 'ADJUST', 'GRAYSCALE', 'BLUR', 'COMPOSE']);

export interface FinishedRun {
  readonly workflow: Workflow;
  readonly before: ImageData;
  /** The user's own mask, when they sent one. */
  readonly userMask?: MaskData;
  readonly results: readonly Value[];
  readonly outputs: ReadonlyMap<number, StepOutputs>;
}

/** What to check, or undefined when the run made no picture to compare with the input. */
export function checkInputOf(run: FinishedRun, registry: BrickRegistry): CheckInput | undefined {
  const resultIndex = run.results.findIndex(isImage);
  if (resultIndex < 0) return undefined;
  const after = run.results[resultIndex] as ImageData;
  const nodes = new Map(run.workflow.nodes.map((n) => [n.step, n]));
  const valueOf = (src: Source): Value | undefined =>
    src.kind === 'init' ? (src.name === 'image' ? run.before : src.name === 'mask' ? run.userMask : undefined) : run.outputs.get(src.step)?.[src.output];

  const segments: SegmentUnderCheck[] = [];
  for (const node of run.workflow.nodes) {
    if (!OUTLINING_SEGMENTERS.has(node.brick)) continue;
    const mask = run.outputs.get(node.step)?.['mask'];
    if (!isMask(mask)) continue;
    const prompt = node.inputs['prompt'];
    segments.push({ step: node.step, brick: node.brick, mask, outline: true, ...(prompt?.kind === 'literal' ? { prompt: String(prompt.value) } : {}) });
  }

  const ancestry = ancestorsOf(run.workflow.results[resultIndex]!, nodes);
  const regionMasks: MaskData[] = [];
  let editStep: number | undefined;
  let unbounded = false;
  for (const step of [...ancestry].sort((a, b) => a - b)) {
    const node = nodes.get(step)!;
    const brick = registry.get(node.brick);
    if (!brick || brick.kind === 'predict') continue;
    const makesImage = Object.values(brick.outputs).some((o) => o.type === 'Image');
    if (!makesImage) continue;
    const maskBinding = node.inputs['mask'];
    const mask = maskBinding?.kind === 'ref' ? valueOf(maskBinding.source) : undefined;
    editStep = step;
    if (REGION_EDITS.has(node.brick) && isMask(mask)) regionMasks.push(mask);
    else unbounded = true;
  }
  // A step that changes the whole picture (or moves things: PASTE, RESIZE) makes no region to leak from.
  const sized = regionMasks.filter((m) => m.width === run.before.width && m.height === run.before.height);
  const editMask = !unbounded && sized.length ? (sized.length === 1 ? sized[0] : unionMasks(sized, run.before.width, run.before.height)) : undefined;
  return { before: run.before, after, segments, ...(editMask ? { editMask } : {}), ...(editStep !== undefined ? { editStep } : {}) };
}

function ancestorsOf(source: Source, nodes: ReadonlyMap<number, WorkflowNode>): Set<number> {
  const seen = new Set<number>();
  const stack: Source[] = [source];
  while (stack.length) {
    const s = stack.pop()!;
    if (s.kind !== 'step' || seen.has(s.step)) continue;
    seen.add(s.step);
    const node = nodes.get(s.step);
    for (const b of Object.values(node?.inputs ?? {})) if (b.kind === 'ref') stack.push(b.source);
  }
  return seen;
}
