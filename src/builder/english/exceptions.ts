/**
 * Exceptions and negation: what an edit must leave alone. "make everything
 * black and white except the girl", "darken all but the sheep on the left",
 * "apart from the girl, make it sepia", "brighten it but don't touch the sky",
 * "leave her face alone", "keep the car in colour", "don't blur the girl, blur
 * the background". The result is the edit (as a command) and the object to keep
 * out of it; "the rest" becomes "everything".
 */
import { isColourPhrase } from '../language.ts';

export interface Scoped {
  /** The edit to make, as a command ("make everything black and white"); empty when the sentence only says what to keep. */
  readonly edit: string;
  /** What the edit must leave alone ("the girl"). */
  readonly keep?: string;
}

/** Words after which an object phrase ends and the edit's predicate goes on ("except the woman darker"). */
const PREDICATE =
  /\s+(?=(?:in\s+)?(?:black\s+and\s+white|gr[ae]y(?:\s?scale)?|monochrome|sepia|colou?rless|darker|brighter|lighter|dimmer|blurr?(?:y|ed)|warmer|cooler|more\b|less\b|vivid|saturated|desaturated|pixelated|a (?:bit|little|lot)\b|slightly|much|should|must|needs?\s+to|has\s+to|ought\s+to|will\s+be|to\s+be)\b)/i;

const WHOLE = String.raw`(?:everything(?:\s+else)?|all|anything|the\s+rest|the\s+(?:whole|entire)\s+(?:photo|picture|image|scene|thing)|the\s+(?:photo|picture|image|scene))`;
const EXCEPT = String.raw`(?:except(?:\s+for)?|apart\s+from|aside\s+from|other\s+than|save\s+for|excluding|but\s+not|without\s+(?:touching|changing|affecting|including)|leaving\s+out)`;
const KEEP_STATE = String.raw`(?:alone|as\s+(?:it\s+is|they\s+are|is|it\s+was)|untouched|unchanged|the\s+same|intact|in\s+(?:its\s+|their\s+)?(?:original\s+)?colou?rs?|colou?red|colou?rful|in\s+its\s+original\s+state|original)`;
const TOUCH = String.raw`(?:touch|change|edit|affect|alter|modify|include|mess\s+with)`;
const COLOUR_KEPT = /in\s+(?:its\s+|their\s+)?(?:original\s+)?colou?rs?|colou?red|colou?rful/i;

/** "the rest" and "all" as the whole picture; a dangling comma or "and" dropped. */
function tidy(edit: string): string {
  return edit
    .replace(/\bthe\s+rest(?:\s+of\s+(?:it|the\s+(?:photo|picture|image)))?\b/gi, 'everything')
    .replace(/^[\s,;]+|[\s,;]+$/g, '')
    .replace(/^(?:and|but|then|just|only|so)\s+/i, '')
    .replace(/\s+(?:and|but)$/i, '')
    .trim();
}

/** The object phrase and whatever of the predicate followed it: "the woman darker" → ["the woman", "darker"]. */
function splitObject(text: string): [string, string] {
  const at = PREDICATE.exec(text);
  return at ? [text.slice(0, at.index).trim(), text.slice(at.index).trim()] : [text.trim(), ''];
}

const isPronounOnly = (t: string): boolean => /^(it|this|that|them|everything|the (?:photo|picture|image))$/i.test(t.trim());

/** "make the background black and white": a look for everything but the subject (the named one, or the main subject). */
const BACKGROUND_LOOK =
  /^(make|turn|render|convert)\s+(?:the\s+)?(?:background|backdrop|surroundings)\s+((?:in(?:to)?\s+)?(?:black\s+and\s+white|gr[ae]y(?:\s?scale)?|monochrome|sepia|darker|brighter|lighter|dimmer|warmer|cooler|(?:more|less)\s+\w+|desaturated|(?:a\s+(?:bit|little|lot)\s+|slightly\s+|much\s+)(?:darker|brighter|lighter)))$/i;

function backgroundLook(scoped: Scoped): Scoped {
  const m = BACKGROUND_LOOK.exec(scoped.edit);
  return m ? { edit: `${m[1]} everything ${m[2]}`, keep: scoped.keep ?? 'the main subject' } : scoped;
}

/** Reads what a clause must leave alone, if anything. */
export function splitException(clause: string): Scoped {
  return backgroundLook(readException(clause));
}

function readException(clause: string): Scoped {
  const t = clause.trim();
  let m: RegExpExecArray | null;
  // "apart from the girl, make the photo sepia"
  if ((m = new RegExp(String.raw`^${EXCEPT}\s+(.+?),\s*(.+)$`, 'i').exec(t))) return { edit: tidy(m[2]!), keep: m[1]!.trim() };
  // "only the woman should stay in colour"
  if ((m = /^only\s+(.+?)\s+(?:should|must|may|can|is to|will)\s+(?:stay|remain|be|keep)\s+(?:in\s+)?colou?r(?:ed|ful)?$/i.exec(t))) return { edit: 'make everything black and white', keep: m[1]! };
  // "keep the car in colour (and make the rest black and white)", "leave the car as it is and make the rest darker"
  if ((m = new RegExp(String.raw`^(?:keep|leave)\s+(?:only\s+|just\s+)?(.+?)\s+${KEEP_STATE}\s*(?:[,;]\s*|\s+(?:and|but|while)\s+)?(.*)$`, 'i').exec(t))) {
    const rest = tidy(m[2]!);
    return { edit: rest || (COLOUR_KEPT.test(t) ? 'make everything black and white' : ''), keep: m[1]! };
  }
  // "do not touch the sky, just brighten it", "do not change the car, just blur the background"
  if ((m = new RegExp(String.raw`^(?:do\s+not|never|please\s+do\s+not)\s+${TOUCH}\s+(.+?)\s*(?:[,;]\s*|\s+(?:and|but)\s+)(.+)$`, 'i').exec(t))) return { edit: tidy(m[2]!), keep: m[1]! };
  // "do not touch the sky" alone says only what to keep.
  if ((m = new RegExp(String.raw`^(?:do\s+not|never)\s+${TOUCH}\s+(.+)$`, 'i').exec(t))) return { edit: '', keep: m[1]! };
  // "do not blur the girl, blur the background", "do not make it black and white, make it sepia": the negated edit is dropped; its object is kept.
  if ((m = /^(?:do\s+not|never|please\s+do\s+not)\s+([a-z]+)\s+(.+?)\s*(?:[,;]\s*|\s+but\s+|\s+instead\s+)(?:just\s+|only\s+|instead\s+)?(.+)$/i.exec(t))) {
    const [object] = splitObject(m[2]!);
    const keep = isPronounOnly(object) || /^(it|this)\b/i.test(object) ? undefined : object;
    return { edit: tidy(m[3]!), ...(keep ? { keep } : {}) };
  }
  // "do not blur the girl" said alone: that object is kept, and the edit is another clause's.
  if ((m = /^(?:do\s+not|never|please\s+do\s+not)\s+([a-z]+)\s+(.+)$/i.exec(t))) {
    const [object] = splitObject(m[2]!);
    return { edit: '', ...(isPronounOnly(object) || /^(it|this)\b/i.test(object) ? {} : { keep: object }) };
  }
  // "brighten the photo but do not touch the sheep", "make it warmer but don't touch the girl"
  if ((m = new RegExp(String.raw`^(.+?)\s*,?\s*(?:but|and|while|though)?\s*(?:do\s+not|never)\s+${TOUCH}\s+(.+)$`, 'i').exec(t))) return { edit: tidy(m[1]!), keep: m[2]! };
  // "increase the contrast but leave the car alone", "make it black and white but leave the girl in colour", ", keep the car in colour"
  if ((m = new RegExp(String.raw`^(.+?)\s*(?:,\s*|\s+)(?:but\s+|and\s+|while\s+)?(?:leave|keep|leaving|keeping)\s+(?:only\s+|just\s+)?(.+?)\s+${KEEP_STATE}$`, 'i').exec(t))) return { edit: tidy(m[1]!), keep: m[2]! };
  // "make everything black and white except the girl", "make everything except the woman darker", "grayscale all but the girl"
  if ((m = new RegExp(String.raw`^(.*?\b${WHOLE})\s*,?\s*(?:${EXCEPT}|but)\s+(.+)$`, 'i').exec(t)) || (m = new RegExp(String.raw`^(.+?)\s*,?\s+${EXCEPT}\s+(.+)$`, 'i').exec(t))) {
    const [object, predicate] = splitObject(m[2]!);
    // "make the car red, not blue": a colour ruled out, not an object kept.
    if (isColourPhrase(object)) return { edit: tidy(`${m[1]} ${predicate}`) };
    return { edit: tidy(`${m[1]} ${predicate}`), keep: object };
  }
  // "make the car red, not blue"
  if ((m = /^(.+?)\s*,?\s+(?:and\s+|but\s+)?not\s+(.+)$/i.exec(t)) && isColourPhrase(m[2]!)) return { edit: tidy(m[1]!) };
  return { edit: t };
}
