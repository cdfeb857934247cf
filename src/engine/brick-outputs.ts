/**
 * The one check of what a brick returned, used wherever a brick runs (the
 * Executor, `lego-edit worker`): every required output present and each a
 * well-formed value of its port's type, so a brick's mistake fails as its own
 * `brick-output` error, not later in a step that reads it or in an encoder.
 */
import type { AnyBrick } from './brick.ts';
import { BrickOutputError } from './errors.ts';
import type { Value } from './values.ts';
import { valueProblem } from './values.ts';

/** `out`'s declared outputs, checked; an optional output left out (or null) is left out, as is one in `left` (not asked for). */
export function checkedOutputs(brick: Pick<AnyBrick, 'name' | 'outputs'>, out: unknown, left: ReadonlySet<string> = new Set()): Record<string, Value> {
  if (typeof out !== 'object' || out === null) throw new BrickOutputError(brick.name, Object.keys(brick.outputs)[0] ?? 'output', `it returned ${String(out)} instead of its outputs`);
  const outputs = Object.create(null) as Record<string, Value>;
  for (const [name, spec] of Object.entries(brick.outputs)) {
    const v: unknown = Object.hasOwn(out, name) ? (out as Record<string, unknown>)[name] : undefined;
    if (v === undefined || v === null) {
      // An optional output may be left out; whether something needed it is the caller's check.
      if (spec.optional || left.has(name)) continue;
      throw new BrickOutputError(brick.name, name, 'it is missing');
    }
    const problem = valueProblem(v, spec.type);
    if (problem) throw new BrickOutputError(brick.name, name, problem);
    outputs[name] = v as Value;
  }
  return outputs;
}
