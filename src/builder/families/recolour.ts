/** Recolour and material: "make the car red", "change the car to gold material" (RES → FLUX-RCM). */
import { out } from '../draft.ts';
import { isColourPhrase, isEmptyPhrase, isMaterialPhrase, objectPhrase } from '../language.ts';
import { COLOUR_VERBS, family, GREY, IMAGE_ITSELF, segment, SEGMENTERS, Unplannable } from './context.ts';

export const COLOUR_TARGET = /^(a |an )?(lighter|darker|brighter|deeper|paler|richer|warmer|cooler) (shade|tone|colou?r|hue)( of [\w ]+)?$/i;
/** "a bit bluer", "much redder": a colour pushed further is still a recolour target. */
export const COMPARATIVE_COLOUR = /^(?:(?:a\s+)?(?:bit|little|lot|tad|touch)\s+|much\s+|slightly\s+|even\s+)*(?:bluer|redder|greener|yellower|pinker|purpler|whiter|blacker|gr[ae]yer|more\s+(?:blue|red|green|yellow|pink|purple|orange))$/i;

export function colourTarget(text: string): string | undefined {
  const t = text.replace(/\s+(colou?r|material|finish|texture|look|paint(job)?|tones?|instead|one)$/i, '').replace(/^(a|an|the)\s+/i, '').replace(/[.!]+$/, '').trim();
  if (COMPARATIVE_COLOUR.test(text.trim())) return text.trim().replace(/^(?:(?:a\s+)?(?:bit|little|lot|tad|touch)\s+|much\s+|slightly\s+|even\s+)*/i, '');
  return t && (isColourPhrase(t) || isMaterialPhrase(t) || COLOUR_TARGET.test(t)) ? t : undefined;
}

export const recolour = family(['FLUX-RCM', ...SEGMENTERS], (clause, ctx) => {
  let object: string | undefined;
  let target: string | undefined;
  const of = /^(?:change|alter|switch|turn|set|update|modify|adjust|make)\s+(?:the\s+)?(?:surface\s+|body\s+|paint\s+)?(?:colou?r|hue|shade|tone|material|texture|finish|surface(?: texture)?)\s+of\s+(.+?)\s+(?:from\s+.+?\s+)?(?:to|into|as|in)\s+(.+)$/i.exec(clause);
  const attr = /^(?:change|alter|switch|turn|set|update|modify|make|adjust)\s+(.+?)(?:'s?)?\s+(?:colou?r|hue|shade|tone|material|texture|finish)\s+(?:from\s+.+?\s+)?(?:to|into|as|in)\s+(.+)$/i.exec(clause);
  const give = /^give\s+(.+?)\s+(?:an?\s+)?(.+?)\s+(?:colou?r|finish|look|material|texture|paint job)$/i.exec(clause);
  const verb = new RegExp(String.raw`^(${Object.keys(COLOUR_VERBS).join('|')})\s+(?:out\s+)?(.+)$`, 'i').exec(clause);
  if (verb) {
    object = verb[2]!;
    target = COLOUR_VERBS[verb[1]!.toLowerCase()];
  }
  for (const m of [of, attr, give]) {
    if (!target && m && colourTarget(m[2]!)) {
      object = m[1]!;
      target = colourTarget(m[2]!);
      break;
    }
  }
  if (!target) {
    // "make the red car blue", "paint the fence dark green", "change the bunk bed to blue", "turn the vase into gold":
    // the target is the longest tail that reads as a colour or material.
    const v = /^(recolou?r|colou?r|paint|dye|tint|spray|repaint|coat|make|turn|change|convert|transform|render|adjust|switch)\s+(.+)$/i.exec(clause);
    if (!v) return false;
    const bare = /^(recolou?r|colou?r|paint|dye|tint|spray|repaint|coat|make|turn)$/i.test(v[1]!);
    const words = v[2]!.split(' ');
    for (let i = 1; i < words.length && !target; i++) {
      const tail = words.slice(i);
      const link = /^(to|into|in|as|with)$/i.test(tail[0]!) ? 1 : /^(out|made)$/i.test(tail[0]!) && /^of$/i.test(tail[1] ?? '') ? 2 : 0;
      if (!link && !bare) continue;
      // "make the sky pink" is not "the" made "sky pink": the object must keep a noun.
      if (isEmptyPhrase(words.slice(0, i).join(' '))) continue;
      // "black and white" is one colour phrase: a target never starts at its conjunction.
      if (/^(and|or|&)$/i.test(tail[link] ?? '') || /^(and|or|&)$/i.test(words[i - 1]!)) continue;
      const t = colourTarget(tail.slice(link).join(' ').replace(/^from\s+.+?\s+to\s+/i, ''));
      if (t) {
        // "from red to blue" is the old colour; "from the left" says which one.
        object = words.slice(0, i).join(' ').replace(/\s+from\s+(?!the\s+(?:left|right|top|bottom|front|back)\b).+$/i, '');
        target = t;
      }
    }
  }
  if (!object || !target) return false;
  // Black and white is GRAYSCALE's, for an object too.
  if (GREY.test(target)) return false;
  // "make the grass look greener": the object is the grass.
  object = objectPhrase(object).replace(/^the the /i, 'the ').replace(/\s+(?:look|looks|appear|seem)$/i, '');
  if (!object || /^(colou?r|background|backdrop|style)$/i.test(object)) return false;
  if (IMAGE_ITSELF.test(object) && GREY.test(target)) return false;
  if (IMAGE_ITSELF.test(object) && !ctx.lastObject && !ctx.request.hasMask) {
    // A hue rotation is not a tint ("make it red" would rotate by 0°, changing nothing), so ask for the object instead.
    throw new Unplannable(`I can't paint the whole image ${target}; name the object to recolour ("make the car ${target}"), or send a mask of the region`);
  }
  const mask = segment(ctx, object);
  ctx.image = out(ctx.draft.add('FLUX-RCM', { image: ctx.image, mask, prompt: target }), 'image');
  ctx.notes.push(`FLUX-RCM changes "${object}" to ${target}.`);
  return true;
});
