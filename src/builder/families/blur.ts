/** Blur and pixelate: "blur everyone's face", "pixelate the plate", "blur everything except the car". */
import { INIT_MASK, out } from '../draft.ts';
import { objectPhrase } from '../language.ts';
import { FACE_OBJECT, family, IMAGE_ITSELF, KEEPERS, keptOut, segment } from './context.ts';

export const blurFaces = family(['BLUR', ...KEEPERS], (clause, ctx) => {
  // "blur out the plate" and "blur the plate out" alike.
  const m = /^(?:blur|pixel+ate|anonymi[sz]e|obscure|censor|hide|mask|cover|smudge)(?:\s+out)?\s+(.+?)(?:\s+(?:out|with .*))?$/i.exec(clause);
  if (!m) return false;
  const target = objectPhrase(m[1]!);
  if (/^(the )?(background|backdrop|surroundings)$/i.test(target)) return false;
  const mode = /pixel/i.test(clause) ? 'pixelate' : undefined;
  if (IMAGE_ITSELF.test(target)) {
    ctx.image = out(ctx.draft.add('BLUR', { image: ctx.image, mode, mask: ctx.request.hasMask ? INIT_MASK : keptOut(ctx) }), 'image');
    return true;
  }
  const mask = FACE_OBJECT.test(target) && ctx.registry.has('FACE-DET') ? out(ctx.draft.add('FACE-DET', { image: ctx.image }), 'mask') : segment(ctx, target);
  ctx.image = out(ctx.draft.add('BLUR', { image: ctx.image, mask, mode }), 'image');
  ctx.notes.push(`BLUR ${mode === 'pixelate' ? 'pixelates' : 'blurs'} "${target}".`);
  return true;
});
