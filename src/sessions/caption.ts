/**
 * What a result's caption says to a person: one short sentence of what was done ("Made it black and white.",
 * "Recoloured the car light blue."), read off the workflow that ran. Brick names, timings and the plan stay
 * behind "Show plan" and /plan. A workflow this cannot put in words gets the user's own instruction back.
 */
import { literal } from '../builder/draft.ts';
import type { Workflow, WorkflowNode } from '../engine/workflow/types.ts';
import { quote } from './format.ts';

/** Where the edit applied: the segmenter's words ("the car"), or undefined for the whole picture. */
function region(wf: Workflow, before: number): string | undefined {
  const seg = [...wf.nodes].reverse().find((n) => n.step < before && (n.brick === 'RES' || n.brick === 'MASK-SEG' || n.brick === 'SEGMENT') && typeof literal(n, 'prompt') === 'string');
  if (seg) return String(literal(seg, 'prompt'));
  if (wf.nodes.some((n) => n.step < before && n.brick === 'FACE-DET')) return 'the faces';
  if (wf.nodes.some((n) => n.step < before && n.brick === 'TEXT-DET')) return 'the text';
  if (wf.nodes.some((n) => n.step < before && n.brick === 'SOS')) return wf.nodes.some((n) => n.brick === 'INVERSE') ? 'the background' : 'the main subject';
  return undefined;
}

function adjustWords(n: WorkflowNode): string | undefined {
  const parts: string[] = [];
  const num = (port: string): number | undefined => (typeof literal(n, port) === 'number' ? Number(literal(n, port)) : undefined);
  const b = num('brightness');
  const c = num('contrast');
  const s = num('saturation');
  const h = num('hue');
  if (b !== undefined && b !== 1) parts.push(b > 1 ? 'brighter' : 'darker');
  if (c !== undefined && c !== 1) parts.push(c > 1 ? 'more contrasty' : 'softer in contrast');
  if (s !== undefined && s !== 1) parts.push(s === 0 ? 'grey' : s > 1 ? 'more colourful' : 'less colourful');
  if (parts.length) return `Made it ${parts.join(' and ')}`;
  if (h !== undefined && h !== 0) return 'Shifted the colours';
  return undefined;
}

/** The sentence for one step that changes the picture, or undefined for steps that only find things or prepare. */
function stepWords(wf: Workflow, n: WorkflowNode): string | undefined {
  const where = region(wf, n.step);
  const text = (port: string): string | undefined => (typeof literal(n, port) === 'string' ? String(literal(n, port)) : undefined);
  switch (n.brick) {
    case 'GRAYSCALE':
      return where ? `Made ${where} black and white` : 'Made it black and white';
    case 'ADJUST':
      return adjustWords(n);
    case 'BLUR':
      return where ? `Blurred ${where}` : 'Blurred it';
    case 'FLUX-RCM':
      return `Recoloured ${where ?? 'it'}${text('prompt') ? ` ${text('prompt')}` : ''}`;
    case 'FASTINPAINT':
    case 'FLUX-INPAINT':
      return `Removed ${where ?? 'what you asked'}`;
    case 'FLUX-CBG':
      return `Changed the background${text('prompt') ? ` to ${text('prompt')}` : ''}`;
    case 'FLUX-STYLE':
      return `Restyled it${text('style') ? ` as ${text('style')}` : ''}`;
    case 'FLUX-FILL':
      return text('prompt') ? `Painted in ${text('prompt')}` : 'Filled in the area';
    case 'FLUX-ENV':
      return 'Changed the scene';
    case 'FLUX-POSE':
      return 'Changed the pose';
    case 'PASTE':
      return 'Added it to the picture';
    case 'CROP':
      return 'Cropped it';
    case 'RESIZE':
      return 'Resized it';
    case 'ROTATE':
      return 'Rotated it';
    case 'FLIP':
      return 'Flipped it';
    default:
      return undefined;
  }
}

/** One sentence of what `workflow` did, for a result's caption. */
export function whatWasDone(workflow: Workflow, instruction: string): string {
  const said: string[] = [];
  for (const n of workflow.nodes) {
    const words = stepWords(workflow, n);
    // FASTINPAINT then FLUX-INPAINT is one removal: say it once.
    if (words && !said.includes(words)) said.push(words);
  }
  if (!said.length) return instruction ? `Done: ${quote(instruction)}.` : 'Done.';
  const [first, ...rest] = said;
  return `${[first, ...rest.map((w) => w.charAt(0).toLowerCase() + w.slice(1))].join(rest.length > 1 ? ', ' : ' and ').replace(/, ([^,]*)$/, ' and $1')}.`;
}
