/** Removal: "remove the dog", "get rid of the car", "take the bin out of the shot". */
import { objectPhrase } from '../language.ts';
import { family, IMAGE_ITSELF, REMOVE_VERB, removeObject, REMOVERS, Unplannable } from './context.ts';

/** "take the dog out (of the picture)", "get the bin out of the shot", "wipe the smudge off": the object sits between verb and particle. */
export const PARTICLE_REMOVE = /^(?:take|get|edit|photoshop|rub|wipe|clean|knock)\s+(.+?)\s+(?:out|away|off)\b(?:\s+.*)?$/i;

export const remove = family([...REMOVERS], (clause, ctx) => {
  const m = new RegExp(String.raw`^${REMOVE_VERB}\s+(.+)$`, 'i').exec(clause);
  const disappear = /^make\s+(.+?)\s+(?:disappear|vanish|go away)$/i.exec(clause) ?? (m ? null : PARTICLE_REMOVE.exec(clause));
  if (!m && !disappear) return false;
  const object = objectPhrase(disappear ? disappear[1]! : (m![2] ?? m![1]!));
  // With a user mask, "remove this" means the masked region.
  if (IMAGE_ITSELF.test(object) && !ctx.lastObject && !ctx.request.hasMask) throw new Unplannable('removing the whole image leaves nothing to show');
  removeObject(ctx, object);
  return true;
});
