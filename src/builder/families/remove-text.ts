/** Text removal: "remove the watermark", "erase the caption" (TEXT-DET, then inpainting). */
import { objectPhrase } from '../language.ts';
import { family, REMOVE_VERB, removeObject, REMOVERS, TEXT_OBJECT } from './context.ts';

export const removeText = family([...REMOVERS], (clause, ctx) => {
  const m = new RegExp(String.raw`^${REMOVE_VERB}\s+(.+)$`, 'i').exec(clause);
  if (!m) return false;
  const object = objectPhrase(m[2] ?? m[1] ?? '');
  if (!TEXT_OBJECT.test(object)) return false;
  removeObject(ctx, object);
  return true;
});
