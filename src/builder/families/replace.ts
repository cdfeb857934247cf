/** Replace: "replace the left sheep with a dog" (RES → BBOX → FLUX-FILL). */
import { out } from '../draft.ts';
import { objectPhrase, resolveOne } from '../language.ts';
import { family, IMAGE_ITSELF, segment, SEGMENTERS } from './context.ts';

export const replace = family(['BBOX', 'FLUX-FILL', ...SEGMENTERS], (clause, ctx) => {
  const m =
    /^(?:replace|swap|substitute|exchange|switch)\s+(.+?)\s+(?:with|by|for|to|into)\s+(.+)$/i.exec(clause) ??
    /^(?:change|turn|transform|convert|morph|make)\s+(.+?)\s+(?:in)?to\s+(?:be\s+)?(.+)$/i.exec(clause) ??
    /^(?:change|turn|transform|convert|morph)\s+(.+?)\s+into\s+(.+)$/i.exec(clause) ??
    /^(?:make)\s+(.+?)\s+(?:into|a|an)\s+(.+)$/i.exec(clause);
  if (!m) return false;
  const object = objectPhrase(m[1]!);
  // "replace the sky with a stormy one": the one is a sky.
  const prompt = resolveOne(objectPhrase(m[2]!.replace(/^(be\s+)/i, '')), object);
  if (!object || !prompt || IMAGE_ITSELF.test(object) && !ctx.lastObject) return false;
  const mask = segment(ctx, object);
  const region = ctx.variant.bbox ? out(ctx.draft.add('BBOX', { mask }), 'mask') : mask;
  ctx.image = out(ctx.draft.add('FLUX-FILL', { image: ctx.image, mask: region, prompt }), 'image');
  ctx.notes.push(`FLUX-FILL draws "${prompt}" where "${object}" was${ctx.variant.bbox ? ' (BBOX gives it room)' : ''}.`);
  return true;
});
