import type { Binding, Workflow } from './types.ts';
import { refText } from './types.ts';

/** The Lego-Edit JSON shape, as the published Builder emits it. */
export interface LegoEditJson {
  process?: string;
  pipeline: Array<
    | { step: number; model: string; input: Record<string, string | number>; output: Record<string, string> }
    | { result: string }
  >;
}

function bindingJson(b: Binding): string | number {
  if (b.kind === 'ref') return refText(b.source);
  if (b.kind === 'literal') return b.value;
  return JSON.stringify(b.raw);
}

export function toLegoEditJson(wf: Workflow): LegoEditJson {
  const steps = [...wf.nodes]
    .sort((a, b) => a.step - b.step)
    .map((n) => ({
      step: n.step,
      model: n.brick,
      input: Object.fromEntries(Object.entries(n.inputs).map(([k, b]) => [k, bindingJson(b)])),
      output: Object.fromEntries(n.outputs.map((o) => [o, `step${n.step}[${o}]`])),
    }));
  return {
    ...(wf.process !== undefined ? { process: wf.process } : {}),
    pipeline: [...steps, { result: `[${wf.results.map(refText).join(', ')}]` }],
  };
}

export function serialiseWorkflow(wf: Workflow, space = 2): string {
  return JSON.stringify(toLegoEditJson(wf), null, space);
}

/** One line for chat captions: "RES('the left sheep') → FASTINPAINT". */
export function summariseWorkflow(wf: Workflow): string {
  return [...wf.nodes]
    .sort((a, b) => a.step - b.step)
    .map((n) => {
      const literals = Object.values(n.inputs).flatMap((b) => (b.kind === 'literal' ? [typeof b.value === 'string' ? `'${b.value}'` : String(b.value)] : []));
      return literals.length ? `${n.brick}(${literals.join(', ')})` : n.brick;
    })
    .join(' → ');
}
