/** The internal form of a Lego-Edit workflow: a graph of brick invocations joined by typed references. */

/** Where a value comes from: the user's inputs (`init[image]`) or a step's output (`step2[mask]`). */
export type Source = { readonly kind: 'init'; readonly name: string } | { readonly kind: 'step'; readonly step: number; readonly output: string };

export type Binding =
  | { readonly kind: 'ref'; readonly source: Source }
  | { readonly kind: 'literal'; readonly value: string | number }
  /** Something no port accepts (an object, an array, a boolean); kept so validation can name it. */
  | { readonly kind: 'invalid'; readonly raw: unknown };

export interface WorkflowNode {
  readonly step: number;
  readonly brick: string;
  /** Given inputs only; `null` in the source means "not given" and is dropped. */
  readonly inputs: Readonly<Record<string, Binding>>;
  /** Output names this step declares (from its `output` references). */
  readonly outputs: readonly string[];
}

export interface Workflow {
  /** The instruction this workflow carries out, as the Builder restated it. */
  readonly process?: string;
  readonly nodes: readonly WorkflowNode[];
  readonly results: readonly Source[];
}

export function refText(source: Source): string {
  return source.kind === 'init' ? `init[${source.name}]` : `step${source.step}[${source.output}]`;
}

const REF = /^\s*(init|step\s*(\d+))\s*\[\s*([A-Za-z_][\w-]*)\s*\]\s*$/i;
const REF_GLOBAL = /(init|step\s*(\d+))\s*\[\s*([A-Za-z_][\w-]*)\s*\]/gi;

/** Parses `init[image]` / `step3[mask]`; anything else is not a reference. */
export function parseRef(text: string): Source | undefined {
  const m = REF.exec(text);
  if (!m) return undefined;
  return toSource(m);
}

/** Every reference inside a text such as `"[step1[image], step3[image]]"`. */
export function findRefs(text: string): Source[] {
  return [...text.matchAll(REF_GLOBAL)].map(toSource);
}

function toSource(m: RegExpMatchArray): Source {
  const name = m[3]!.toLowerCase();
  return m[2] !== undefined ? { kind: 'step', step: Number(m[2]), output: name } : { kind: 'init', name };
}
