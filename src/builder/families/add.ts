/** Add: "add a red balloon on the left" (ADD-PRED → FLUX-FILL), or the object of the user's second photo (ADD-PRED → PASTE). */
import { INIT_MASK, INIT_REFERENCE, out } from '../draft.ts';
import { location, objectPhrase } from '../language.ts';
import { type Ctx, family } from './context.ts';

/** "this", "it", "the hat from the second photo": the object of the user's second photo. */
export const REFERENCE_OBJECT =
  /^(?:(?:the |a |an )?([a-z]+(?: [a-z]+){0,2}) (?:from|in|of|on) (?:the |my )?(?:second|other|2nd|next|attached|last) (?:photo|image|picture|pic)|(?:this|that|these|those) (?!(?:on|in|at|to|into|onto|next|near|beside|behind|above|below|under|over|between|by|left|right|here|there)\b)([a-z]+)|this|that|it|these|those|them|the (?:object|thing|item))\b\s*/i;

/** Verbs that, with a second photo, mean "put that object in"; draw, paint and generate still mean drawing. */
export const PLACING_VERBS = new Set(['add', 'insert', 'include', 'put', 'place', 'attach', 'stick', 'paste']);

/** The bricks `pasteReference` may add. */
export const PASTERS = ['ADD-PRED', 'PASTE'] as const;

/** ADD-PRED finds where; PASTE puts the object of the user's second photo there. */
export function pasteReference(what: string, ctx: Ctx): void {
  const ref = REFERENCE_OBJECT.exec(what);
  const prompt = objectPhrase(ref ? `${ref[1] ?? ref[2] ?? 'object'} ${what.slice(ref[0].length)}` : what, 24);
  const predicted = ctx.draft.add('ADD-PRED', { image: ctx.image, prompt, mask: ctx.request.hasMask ? INIT_MASK : undefined });
  ctx.image = out(ctx.draft.add('PASTE', { image: ctx.image, reference: INIT_REFERENCE, mask: out(predicted, 'mask') }), 'image');
  const hint = location(what);
  ctx.notes.push(`ADD-PRED places "${prompt}"${hint ? ` (${hint})` : ''}; PASTE puts the object of your second photo there.`);
}

export const add = family(['ADD-PRED', 'FLUX-FILL', ...PASTERS], (clause, ctx) => {
  const m = /^(?:add|insert|include|introduce|draw|paint|put|place|attach|stick|generate|create|give|paste)\s+(.+)$/i.exec(clause);
  if (!m) return false;
  let what = m[1]!.trim();
  const verb = clause.split(' ')[0]!.toLowerCase();
  if (ctx.request.hasReference && PLACING_VERBS.has(verb)) {
    pasteReference(what, ctx);
    return true;
  }
  // "give the dog a hat" → "a hat on the dog".
  const give = verb === 'give' ? /^(.+?)\s+((?:a|an|some|two|three)\s+.+|[a-z]+s)$/i.exec(what) : null;
  if (verb === 'give' && !give) return false;
  if (give) what = `${give[2]} on ${give[1]}`;
  if (/^(put|place|paint|draw|create|generate)$/.test(verb) && !/^(a|an|some|one|two|three|four|five|several|many|more|few|another|the words?|text)\b/i.test(what)) return false;
  const full = objectPhrase(what, 24);
  const objectOnly = full.replace(/\s+(?:on|to|at|in|into|onto|near|next to|beside|behind|in front of|above|below|under|over|along|across|inside|outside|around|between|by|floating|sitting|standing|lying|leaning|parked|flying|swimming|walking|running|hanging|perched|grazing)\b.*$/i, '').trim();
  const hint = location(what);
  const predicted = ctx.draft.add('ADD-PRED', { image: ctx.image, prompt: full, mask: ctx.request.hasMask ? INIT_MASK : undefined });
  ctx.image = out(ctx.draft.add('FLUX-FILL', { image: ctx.image, mask: out(predicted, 'mask'), prompt: objectOnly || full }), 'image');
  ctx.notes.push(`ADD-PRED places "${full}"${hint ? ` (${hint})` : ''}; FLUX-FILL draws "${objectOnly || full}" there.`);
  return true;
});
