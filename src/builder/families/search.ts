/** The generic routes: a brick the instruction names that no family plans, and a search of the catalogue when no family matched. */
import type { AnyBrick } from '../../engine/brick.ts';
import { type InputValue, out } from '../draft.ts';
import { canWire, type FallbackMatch, floatInputs, needsSettings, searchBricks } from '../fallback.ts';
import { objectPhrase } from '../language.ts';
import { type Ctx, family, segment } from './context.ts';
import { PLANNED_BY_FAMILIES } from './index.ts';

/**
 * The generic route: a brick whose declaration matches the instruction, wired
 * from its ports (the image, a segmented object for a required mask, the clause
 * for a required text, numbers from the instruction for Float settings).
 */
export function viaSearch(clause: string, ctx: Ctx, why: string, only: (brick: AnyBrick) => boolean, accept: (m: FallbackMatch) => boolean): boolean {
  // The clause's leading verb ("adjust the hair…") says nothing about which brick: match on the rest.
  const body = clause.replace(/^(adjust|change|make|turn|apply|edit|fix|modify|alter|set|update|improve|enhance|do)\s+/i, '');
  for (const match of searchBricks(body, ctx.registry, only)) {
    if (match.score < 2) break;
    const { brick } = match;
    if (!accept(match) || !canWire(brick) || brick.kind === 'predict' || !Object.values(brick.outputs).some((o) => o.type === 'Image')) continue;
    const floats = floatInputs(brick, clause);
    // A Float it needs that the instruction does not give, or a brick that only changes settings and was given none.
    if (!floats || (needsSettings(brick) && Object.keys(floats).length === 0)) continue;
    const inputs: Record<string, InputValue> = { ...floats };
    for (const [name, spec] of Object.entries(brick.inputs)) {
      if (spec.type === 'Image' && !spec.optional) inputs[name] = ctx.image;
      else if (spec.type === 'Str' && !spec.optional && spec.default === undefined) inputs[name] = clause;
      else if (spec.type === 'Mask' && !spec.optional) {
        const object = /\b(the|a|an)\s+([a-z][\w\s'-]*)$/i.exec(clause);
        inputs[name] = segment(ctx, object ? objectPhrase(object[0]) : 'the main subject');
      }
    }
    const step = ctx.draft.add(brick.name, inputs);
    const outName = Object.entries(brick.outputs).find(([, o]) => o.type === 'Image')![0];
    ctx.image = out(step, outName);
    ctx.notes.push(`${why}${brick.name} ("${brick.description}") matches on ${match.matched.join(', ')}.`);
    return true;
  }
  return false;
}

export const namedBrick = family('any', (clause, ctx) =>
  viaSearch(clause, ctx, 'The instruction names a brick no built-in family plans: ', (b) => !PLANNED_BY_FAMILIES.has(b.name), (m) => m.byName.length > 0),
);

export const search = family('any', (clause, ctx) => viaSearch(clause, ctx, 'No instruction family matched; ', () => true, () => true));
