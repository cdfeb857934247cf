/**
 * The small amount of English the offline Builder needs: splitting multi-step
 * instructions, cutting an object phrase down to what a segmenter can use,
 * telling colours and materials from objects, and reading locations.
 */
import { colord, extend } from 'colord';
import namesPlugin from 'colord/plugins/names';

extend([namesPlugin]);

/** Verbs that open an edit clause; a clause after "and"/"then" must start with one to be split off. */
export const EDIT_VERBS =
  'remove|erase|delete|eliminate|get rid of|take out|take away|clear|add|insert|put|place|include|replace|swap|substitute|change|turn|make|convert|transform|transfer|render|paint|recolou?r|colou?r|dye|tint|adjust|increase|decrease|reduce|raise|lower|lift|boost|brighten|darken|lighten|enhance|sharpen|blur|pixelate|anonymi[sz]e|crop|trim|rotate|flip|mirror|resize|scale|shrink|enlarge|upscale|downscale|extract|isolate|segment|cut out|select|expand|extend|outpaint|zoom out|uncrop|apply|give|set|restyle|stylize|stylise|warm|cool|desaturate|saturate|show|let|have';

const CLAUSE_SPLIT = new RegExp(String.raw`\s*(?:[;.]\s+|,?\s+(?:and\s+then|and\s+also|then|and|after\s+that|afterwards|finally)\s*,?\s+)(?=(?:also\s+|please\s+|finally\s+)?(?:${EDIT_VERBS})\b)`, 'i');

/** Splits "remove the dog and then make it brighter" into its edit clauses, keeping "the dog and the cat" together. */
export function splitClauses(instruction: string): string[] {
  return instruction
    .replace(/\s+/g, ' ')
    .trim()
    .split(CLAUSE_SPLIT)
    .map((c) => c.trim().replace(/^(also|please|finally)\s+/i, '').replace(/[.!]+$/, '').trim())
    .filter((c) => c.length > 0);
}

/** Leading chatter that is not part of the edit. */
export function stripPoliteness(text: string): string {
  return text
    .replace(/^(now|ok(ay)?|so|please|pls|can you|could you|would you|will you|i want( you)? to|i'?d like( you)? to|let'?s|go ahead and|just|also|and)\b[\s,]*/gi, '')
    .replace(/^(now|ok(ay)?|so|please|pls|can you|could you|would you|will you|i want( you)? to|i'?d like( you)? to|let'?s|go ahead and|just|also|and)\b[\s,]*/gi, '')
    .replace(/\s*(,\s*)?(please|thanks|thank you)[.!?]*$/i, '')
    .replace(/[?!.]+$/, '')
    .trim();
}

const IMAGE_NOUN = String.raw`(?:image|picture|photo|photograph|pic|scene|shot|frame|painting|view)`;

/**
 * The object a segmenter should look for, from a phrase such as "the red trolley
 * (marked "77") from the railway track in the foreground, ensuring the
 * background stays intact": trailing purposes, asides and "in the image" go;
 * adjectives and locative words stay, because RES honours them.
 */
export function objectPhrase(text: string, maxWords = 12): string {
  let t = ` ${text} `
    .replace(/\b(the|a|an)\s+\1\b/gi, '$1')
    .replace(/\([^)]*\)/g, ' ')
    .replace(/"[^"]*"/g, (m) => m)
    .replace(/\s+/g, ' ');
  // Purpose and manner clauses: ", ensuring…", ", blending…", " so that…", " while…", " to make…".
  t = t.replace(/\s*(,|;|—|–|-\s)\s*(?:\w+ing\b|so\b|while\b|and\s+\w+ing\b|leaving\b|keeping\b|making\b|which\b|who\b|that\b|but\b|as\b|to\b|with\b|and\b).*$/i, ' ');
  t = t.replace(/\s+(?:so that|so as|while|leaving|keeping|making sure|ensuring|to make|to reveal|to show|to leave|without|seamlessly|and seamlessly|and blend|and fill|and replace|and keep|and leave|and ensure|and make)\b.*$/i, ' ');
  t = t.replace(new RegExp(String.raw`\s+(?:from|in|of|on|out of|within|inside)\s+(?:the|this|that|my|our)\s+${IMAGE_NOUN}\b`, 'gi'), ' ');
  t = t.replace(new RegExp(String.raw`\s+(?:from|out of)\s+(?:the|this)\s+${IMAGE_NOUN}\b.*$`, 'i'), ' ');
  t = t.replace(/\b(completely|entirely|fully|totally|altogether|visible|shown|present|seen)\b/gi, ' ');
  // "all of the sheep" is all of them ("all the sheep"); "each of", "every one of" likewise.
  t = t.replace(/^\s*(?:just|only)\s+(?=the\b|this\b|that\b|his\b|her\b|their\b)/i, ' ').replace(/^\s*(?:all|each|every one|both) of (?:the|these|those)\s+/i, 'all the ').replace(/^\s*(all of|each of|every one of)\s+/i, ' ');
  t = t.replace(/\s+/g, ' ').trim().replace(/[,.;:]+$/, '').trim();
  // Object phrases past a dozen words are descriptions, not referring expressions: keep the head.
  const words = t.split(' ');
  if (words.length > maxWords) {
    const kept = words.slice(0, maxWords);
    while (kept.length > 1 && /^(the|a|an|of|on|in|at|to|with|and|or|by|near|from|its|their|his|her)$/i.test(kept.at(-1)!)) kept.pop();
    t = kept.join(' ');
  }
  return t;
}

/** Whether a phrase names nothing at all: empty, or only articles and determiners ("the", "the the", "a"). */
export function isEmptyPhrase(phrase: string): boolean {
  return /^(?:(?:the|a|an|this|that|these|those|some|any)\b\s*)*$/i.test(phrase.trim());
}

const WISH_SUBJECT = String.raw`(?<object>(?:the|this|that|these|those|my|our|his|her|their|its)\s+.+?|it|everything)`;
const WISH_VERB = String.raw`(?<verb>be|look|become|appear|turn|have|wear)`;
/** "I want X (to be) Y", "I'd like X to be Y". */
const WISH = new RegExp(String.raw`^(?:i|we)(?:\s+(?:really\s+)?(?:want|need|would\s+like|wish\s+for)|['’]d\s+(?:really\s+)?like)\s+${WISH_SUBJECT}\s+(?:to\s+${WISH_VERB}\s+)?(?<rest>.+)$`, 'i');
/** "X should be Y", "X needs to look Y". */
const SHOULD = new RegExp(String.raw`^${WISH_SUBJECT}\s+(?:should|must|needs?\s+to|has\s+to|ought\s+to|could|would)\s+${WISH_VERB}\s+(?<rest>.+)$`, 'i');
const GONE = /^(removed|gone|deleted|erased|taken out|out of (?:the )?(?:picture|photo|image|shot))$/i;
/** A state with no "to be": one word ("red", "brighter", "gone"), "more X", or black and white. */
const PLAIN_STATE = /^(?:[a-z]+|more\s+\w+|less\s+\w+|black and white)$/i;

/**
 * Wishes and states said instead of commands, as the command the families read:
 * "I want the car to be red" / "the car should be red" → "make the car red",
 * "I'd like the dog gone" / "the dog should be removed" → "remove the dog",
 * "I want the dog to have a hat" → "give the dog a hat". Anything else is returned as it was.
 */
export function rephraseWish(clause: string): string {
  const m = (WISH.exec(clause) ?? SHOULD.exec(clause))?.groups;
  if (!m) return clause;
  const { object, verb, rest } = m as { object: string; verb?: string; rest: string };
  if (GONE.test(rest)) return `remove ${object}`;
  if (verb && /^(have|wear)$/i.test(verb)) return `give ${object} ${rest}`;
  // "I want the dog in the photo" says nothing about how it looks: without "to be", only a plain state counts.
  if (!verb && !PLAIN_STATE.test(rest)) return clause;
  return `make ${object} ${verb && /^look$/i.test(verb) ? 'look ' : ''}${rest}`;
}

/** "a stormy one" after "the sky" → "a stormy sky": the "one" of a replacement is the replaced thing's noun. */
export function resolveOne(phrase: string, antecedent: string): string {
  const noun = headNoun(antecedent).replace(/^the\s+/i, '');
  if (!/\b(one|ones)$/i.test(phrase) || /^(?:the\s+)?(?:one|ones)$/i.test(phrase.trim()) || !noun) return phrase;
  return phrase.replace(/\b(one|ones)$/i, (w) => (w.toLowerCase() === 'ones' ? `${noun}s` : noun));
}

/** Whether an object phrase points at nothing in particular ("it", "them", "this"), so the conversation must say what. */
export function isPronoun(phrase: string): boolean {
  return /^(it|them|this|that|these|those|this one|that one|the same( one| thing)?|the object|the thing|him|her)$/i.test(phrase.trim());
}

/** The head noun of an object phrase, for a retry when the full phrase matched nothing. */
export function headNoun(phrase: string): string {
  const core = phrase
    .replace(/\b(on|in|at|near|next to|beside|behind|under|over|above|below|by|with|wearing|holding|sitting|standing|lying|from|to|of|that|which|who|worn|held|placed|located|positioned|situated|seen|shown|dressed|covered|parked|hung|carried|attached|mounted)\b.*$/i, '')
    .trim();
  const words = core.split(/\s+/).filter(Boolean);
  const last = words[words.length - 1] ?? phrase;
  return `the ${last.replace(/'s$/, '')}`;
}

const SHADE = /^(light|dark|pale|bright|deep|soft|vivid|vibrant|rich|warm|cool|pastel|neon|matte|glossy|metallic|shiny|dusty|muted|hot|baby|sky|navy|royal|forest|olive|lime|mint|emerald|ruby|wine|blood|fire|lemon|golden|silvery|solid|a|an|the|shade|of|color|colour|tone|lighter|darker)$/i;
const EXTRA_COLOURS = /^(blond|blonde|brunette|auburn|ginger|beige|burgundy|maroon|teal|turquoise|cream|ivory|khaki|mauve|magenta|cyan|lilac|lavender|peach|coral|amber|bronze|copper|rainbow|multicolou?red|colou?rful|pink|purple|grey|gray)$/i;

/** Whether a word names a colour ("navy", "light blue", "teal"), by CSS colour names plus common extras. */
export function isColourWord(word: string): boolean {
  const w = word.toLowerCase().replace(/[^a-z]/g, '');
  if (!w) return false;
  return EXTRA_COLOURS.test(w) || (colord(w).isValid() && !/^(tan|linen|snow|chocolate|tomato|wheat|salmon|orchid|plum|gold|silver)$/.test(w)) || /^(tan|gold|silver)$/.test(w);
}

/** Whether a phrase is a colour, possibly with shades: "light blue", "a soft beige", "matte black", "#ff0000". */
export function isColourPhrase(phrase: string): boolean {
  const p = phrase.trim().toLowerCase();
  if (/^#[0-9a-f]{3,8}$/.test(p) || /^rgb\(/.test(p)) return true;
  const words = p.split(/[\s-]+/).filter(Boolean);
  if (words.length === 0 || words.length > 6) return false;
  return words.some(isColourWord) && words.every((w) => isColourWord(w) || SHADE.test(w) || /^(and|with|or|stripes?|spots?|polka|dots|tones?|hues?|shades?|gradient|ombre|mix|blend|accents?|pattern|checkered|striped)$/.test(w));
}

const MATERIALS =
  'gold|golden|silver|bronze|copper|brass|chrome|chromed|metal|metallic|steel|iron|aluminium|aluminum|wood|wooden|glass|crystal|marble|stone|granite|concrete|brick|plastic|rubber|leather|denim|velvet|silk|wool|woollen|fabric|cotton|paper|cardboard|ceramic|porcelain|clay|ice|jade|diamond|carbon fiber|carbon fibre|lego|knitted|knit|fur|furry|neon|rusty|rust|glossy|matte|shiny|polished|satin|smooth|rough|textured|brushed|frosted|mirrored|iridescent|holographic';

const MATERIAL_RE = new RegExp(String.raw`\b(${MATERIALS})\b`, 'i');

/** Whether a phrase is a material ("gold material", "made of wood", "glass"). */
export function isMaterialPhrase(phrase: string): boolean {
  const p = phrase.trim().toLowerCase().replace(/^(a|an|the)\s+/, '');
  if (!MATERIAL_RE.test(p)) return false;
  const rest = p.replace(new RegExp(String.raw`\b(${MATERIALS})\b`, 'gi'), '').replace(/\b(made|of|material|texture|finish|surface|look|like|shiny|polished|brushed|matte|glossy|solid|pure|and|a|an|the|real|style)\b/g, '').trim();
  return rest.length === 0 || isColourPhrase(rest);
}

/** Where an added object should go, as ADD-PRED reads it; undefined when the instruction says nothing about it. */
export function location(text: string): string | undefined {
  const m = /\b(on|to|at|in|into|towards?|near)\s+(the\s+)?(far\s+)?(left|right|top|bottom|upper|lower|middle|cent(?:er|re)|foreground|background)\b[\w\s-]*/i.exec(text);
  return m ? m[0].trim() : undefined;
}

/** "left" ↔ "right", "top" ↔ "bottom", for "no, the other one". */
export function oppositeLocative(phrase: string): string | undefined {
  const pairs: Array<[RegExp, string, string]> = [
    [/\bleft\b/i, 'left', 'right'],
    [/\bright\b/i, 'right', 'left'],
    [/\b(top|upper)\b/i, 'top', 'bottom'],
    [/\b(bottom|lower)\b/i, 'bottom', 'top'],
    [/\bfront\b|\bforeground\b/i, 'front', 'back'],
    [/\bback\b|\bbackground\b/i, 'back', 'front'],
    [/\bfirst\b/i, 'first', 'second'],
    [/\bsecond\b/i, 'second', 'first'],
    [/\bbigger\b|\blarger\b/i, 'bigger', 'smaller'],
    [/\bsmaller\b/i, 'smaller', 'bigger'],
  ];
  for (const [re, , to] of pairs) {
    if (re.test(phrase)) return phrase.replace(re, to);
  }
  return undefined;
}

/** A ratio from "by 20%", "by half", "twice", "2x"; undefined when none is stated. */
export function statedRatio(text: string): number | undefined {
  const pct = /(\d+(?:\.\d+)?)\s*(%|percent|per cent)/i.exec(text);
  if (pct) return Number(pct[1]) / 100;
  const x = /(\d+(?:\.\d+)?)\s*(x|×|times)\b/i.exec(text);
  if (x) return Number(x[1]);
  if (/\b(twice|double)\b/i.test(text)) return 2;
  if (/\b(half|halve)\b/i.test(text)) return 0.5;
  if (/\b(a third|one third)\b/i.test(text)) return 1 / 3;
  if (/\b(a quarter|one quarter)\b/i.test(text)) return 0.25;
  return undefined;
}

/** The numbers an instruction states, in order: "4x" → 4, "by 50%" → 0.5, "twice" → 2 when no digit is given. */
export function statedNumbers(text: string): number[] {
  const found = [...text.matchAll(/(?<![\w.])(-?\d+(?:\.\d+)?)\s*(%|percent\b|per cent\b)?/gi)].map((m) => (m[2] ? Number(m[1]) / 100 : Number(m[1])));
  if (found.length) return found;
  const ratio = statedRatio(text);
  return ratio === undefined ? [] : [ratio];
}

/** An aspect ratio from "16:9", "4 by 3", "square", "portrait", "landscape". */
export function statedAspect(text: string): number | undefined {
  const m = /\b(\d+(?:\.\d+)?)\s*(?::|by|x|×|\/)\s*(\d+(?:\.\d+)?)\b/i.exec(text);
  if (m && Number(m[2]) > 0) return Number(m[1]) / Number(m[2]);
  if (/\bsquare\b/i.test(text)) return 1;
  if (/\bportrait\b/i.test(text)) return 4 / 5;
  if (/\blandscape\b|\bwidescreen\b|\bcinematic\b/i.test(text)) return 16 / 9;
  return undefined;
}

/** Stems of the content words of a text, for matching instructions to brick descriptions. */
export function contentStems(text: string): Set<string> {
  const STOP =
    /^(the|a|an|and|or|of|to|in|on|at|for|with|by|from|into|onto|this|that|these|those|it|its|is|are|be|make|made|please|image|picture|photo|some|any|all|more|less|very|so|as|but|not|no|use|using|my|me|you|your|can|could|would|will|i|we|our|up|out|off|one|also|then|now|just|like|look|looks|bit|little|lot|them|they|their|there|here|only|each|every|over|under)$/i;
  return new Set(
    text
      .toLowerCase()
      .split(/[^a-z]+/)
      .filter((w) => w.length > 2 && !STOP.test(w))
      .map((w) => w.slice(0, 5)),
  );
}
