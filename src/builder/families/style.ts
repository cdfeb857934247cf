/** Style: black and white (GRAYSCALE) and painted looks (CMI-PRED → FLUX-STYLE), for the picture, an object, or everything but one. */
import { INIT_MASK, out } from '../draft.ts';
import { objectPhrase } from '../language.ts';
import { family, GREY, IMAGE_ITSELF, KEEPERS, keptOut, segment, STYLE_WORDS } from './context.ts';

/** "make it look old": an aged look is a style, though "old" alone ("the old car") describes an object. */
export const AGED = /\b(?:look(?:s|ing)?\s+(?:old|older|aged|antique|ancient|weathered|worn|old[- ]fashioned)|antique|old[- ]fashioned|old[- ]timey)\b/i;

export const style = family(['GRAYSCALE', 'CMI-PRED', 'FLUX-STYLE', ...KEEPERS], (clause, ctx) => {
  if (!STYLE_WORDS.test(clause) && !GREY.test(clause) && !AGED.test(clause)) return false;
  // "add a vintage car", "remove the neon sign": the style word describes an object.
  if (/^(add|insert|include|put|place|remove|erase|delete|get rid|take|replace|swap|substitute|extract|isolate|cut|segment|select)\b/i.test(clause)) return false;
  // Object-scoped: "make the car look like a watercolour", "paint the sky in Van Gogh style".
  const scoped = /^(?:make|turn|render|paint|draw|convert|transform|restyle|stylize|stylise|change|transfer)\s+(.+?)\s+(?:in|into|to|as|look like|look|like|with)\s+(.+)$/i.exec(clause);
  let object: string | undefined;
  let styleText = clause;
  if (scoped) {
    const o = objectPhrase(scoped[1]!);
    styleText = scoped[2]!;
    if (!IMAGE_ITSELF.test(o) && !/^(the )?(image|picture|photo|photograph|scene|whole|entire|style|it)\b/i.test(o) && !STYLE_WORDS.test(o) && !GREY.test(o)) object = o;
  }
  // "make the two sheep black and white": an object made black and white, with no "in" or "to" between.
  const greyed = scoped ? undefined : new RegExp(String.raw`^(?:make|turn|render|convert|paint)\s+(?!(?:to|into|in)\b)(.+?)\s+(?:in(?:to)?\s+|to\s+)?(${GREY.source})$`, 'i').exec(clause);
  if (greyed) {
    const o = objectPhrase(greyed[1]!);
    styleText = greyed[2]!;
    if (!IMAGE_ITSELF.test(o) && !/^(the )?(image|picture|photo|photograph|scene|whole|entire|it)\b/i.test(o)) object = o;
  }
  if (!STYLE_WORDS.test(styleText) && !GREY.test(styleText) && !AGED.test(`look ${styleText}`)) styleText = clause;
  // "make this black and white" with a mask sent along: the user pointed at the region.
  const pointed =
    ctx.request.hasMask &&
    (/^(?:make|turn|render|paint|draw|convert|transform|restyle|stylize|stylise|change)\s+(?:this|that)\b/i.test(clause) ||
      (scoped && /^(this|that|here|(the )?(selected|selection|masked|marked|highlighted) ?(area|region|part)?)$/i.test(objectPhrase(scoped[1]!))));
  const mask = pointed ? INIT_MASK : object ? segment(ctx, object) : keptOut(ctx);
  // FLUX-STYLE does black and white too, for users who require it or forbid GRAYSCALE.
  const greyByStyle = ctx.request.rules?.some((r) => (r.kind === 'require' && /STYLE/i.test(r.brick)) || (r.kind === 'forbid' && (r.bricks ?? [r.brick]).includes('GRAYSCALE')));
  if (GREY.test(styleText) && !/\bnoir\b/i.test(styleText) && !greyByStyle) {
    ctx.image = out(ctx.draft.add('GRAYSCALE', { image: ctx.image, mask }), 'image');
    ctx.notes.push(`GRAYSCALE makes ${object ? `"${object}"` : 'the image'} black and white.`);
    return true;
  }
  const styleName = AGED.test(clause) ? 'vintage, aged photograph' : styleText
    .replace(/^(?:(?:transfer|convert|turn|change|make|render|restyle|stylize|stylise|redo|recreate|apply|switch|go|do)\s+)?(?:(?:the|this)\s+(?:(?:whole|entire)\s+)?(?:image|picture|photo|scene|thing)|it|everything|all)?\s*/i, '')
    .replace(/^(?:into|to|in|as|look like|like|with|an?|the)\s+/gi, '')
    .replace(/^(?:an?|the)\s+/i, '')
    .replace(/\s+(?:style|look|effect|aesthetic|version|filter)$/i, '')
    .replace(/^(?:the\s+)?style\s+of\s+/i, '')
    .trim();
  const caption = ctx.draft.add('CMI-PRED', { image: ctx.image });
  ctx.image = out(ctx.draft.add('FLUX-STYLE', { image: ctx.image, mask, prompt: out(caption, 'caption'), style: styleName || styleText }), 'image');
  ctx.notes.push(`CMI-PRED captions the image so FLUX-STYLE can redraw it in "${styleName || styleText}" style.`);
  return true;
});
