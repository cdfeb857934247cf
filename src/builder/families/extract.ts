/** Extract: "extract the dog", "cut out the sheep", "remove the background" (the subject's cut-out). */
import { out } from '../draft.ts';
import { objectPhrase } from '../language.ts';
import { family, segment, SEGMENTERS } from './context.ts';

export const extract = family([...SEGMENTERS], (clause, ctx) => {
  const bg = /^(?:remove|delete|erase|cut out|drop|get rid of|take out|isolate .+ from)\s+(?:the\s+)?(?:background|backdrop)(?:\s+(?:from|behind|around)\s+(.+))?$/i.exec(clause);
  const m = bg ? undefined : /^(?:extract|isolate|cut out|segment|select|crop out|single out|separate|mask(?: out)?|give me (?:a )?(?:mask|cut-?out) of|make (?:a )?(?:mask|cut-?out|sticker) of)\s+(.+)$/i.exec(clause);
  if (!bg && !m) return false;
  const object = objectPhrase(bg ? (bg[1] ?? 'the main subject') : m![1]!);
  const mask = segment(ctx, object);
  const producer = ctx.draft.nodes[mask.kind === 'step' ? mask.step - 1 : 0];
  const hasImage = producer && Object.keys(ctx.registry.get(producer.brick)?.outputs ?? {}).includes('image');
  ctx.results = [hasImage && mask.kind === 'step' ? out(mask.step, 'image') : mask];
  ctx.notes.push(`The cut-out of "${object}" is the result.`);
  return true;
});
