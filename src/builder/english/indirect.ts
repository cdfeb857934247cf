/**
 * Polite and indirect requests as the command they ask for: "could you remove
 * the dog?", "would you mind making it brighter", "I was wondering if you could
 * add a hat", "it would be nice if the photo were brighter", "can the sky be
 * bluer?", "I need this in black and white", "I'd love a sepia version of this",
 * "how about making the car purple?". Contractions are expanded by compromise
 * ("don't" → "do not", "I'd" → "I would"), and a gerund left at the front
 * becomes the verb's plain form ("making" → "make").
 */
import { compromise } from './nlp.ts';
import { VERBS } from './vocabulary.ts';

/** "do not", "I would", "it is": contractions spelt out, so one pattern reads both forms. Possessives stay. */
export function expandContractions(text: string): string {
  if (!/['’]/.test(text)) return text;
  // "the person's arm" is a possessive, whatever compromise would guess; only a pronoun's "'s" is "is" or "has".
  const guarded = text.replace(/’/g, "'").replace(/\b(?!(?:it|that|what|there|here|he|she|who|let|where|how)'s\b)([a-z]+)'s\b/gi, '$1\u2063s');
  const doc = compromise()(guarded);
  doc.contractions().expand();
  return doc.text().replaceAll('\u2063', "'");
}

/** "making" → "make": compromise's infinitive, else the editing verb the stem spells. */
export function plainVerb(word: string): string {
  if (!/ing$/i.test(word)) return word;
  const inf = compromise()(word).verbs().toInfinitive().text().trim();
  if (inf && !/\s/.test(inf)) return inf;
  const stem = word.toLowerCase().slice(0, -3);
  return [stem, `${stem}e`, stem.slice(0, -1)].find((s) => VERBS.includes(s)) ?? word;
}

const SUBJECT = String.raw`(?:the|this|that|these|those|my|our|his|her|their|its|both|all|every)\b[^,;.?!]*?|it|everything|this|they`;

/** Frames around a request, each with what the request becomes. */
const FRAMES: ReadonlyArray<readonly [RegExp, string]> = [
  // Leading chatter and hedges.
  [/^(?:hey|hi|hello|ok(?:ay)?|so|well|um+|uh+|actually|alright|right)\b[\s,!.]*/i, ''],
  [/^(?:i was wondering|i wonder|i am wondering)\s+(?:if|whether)\s+(?:you\s+)?(?:could|can|would|might)\s+(?:please\s+)?/i, ''],
  [/^(?:do you think|would it be possible|is it possible|is there a way|any chance)\s+(?:that\s+)?(?:you\s+(?:could|can|would)\s+|to\s+|for you to\s+)?/i, ''],
  [/^(?:i would|i'd)\s+(?:love|like|appreciate)\s+it\s+if\s+you\s+(?:could|would|can)\s+/i, ''],
  [/^it would be (?:nice|great|lovely|good|cool|awesome|amazing|perfect|better)\s+if\s+you\s+(?:could|would|can)\s+/i, ''],
  [/^(?:would you mind|do you mind|how about|what about|try)\s+(?=\w+ing\b)/i, ''],
  [/^(?:would|could|can|will)\s+you\s+(?:please\s+)?(?:be so kind as to|kindly|maybe|possibly|perhaps|just|try to|quickly)?\s*/i, ''],
  [/^(?:please|pls|kindly|maybe|perhaps|possibly|just|now|also|then|next|finally|lastly|first(?:ly)?|second(?:ly)?|to start(?: with)?|to begin(?: with)?|after that|afterwards|and then|and also|and)\b[\s,]*/i, ''],
  // "apply a pencil sketch look to everything": a look for the whole picture.
  [/^apply\s+(?:an?\s+|the\s+)?(.+?)\s+(?:look|effect|filter|style|finish)?\s*(?:to|on)\s+(?:everything|it|all of it|the (?:whole |entire )?(?:photo|picture|image|scene))$/i, 'make it look like $1'],
  [/^(?:i|we)\s+(?:would like|want|need)\s+(?:you\s+)?to\s+/i, ''],
  [/^let us\s+/i, ''],
  // "make it grey": the whole picture grey is black and white.
  [/^(make|turn|convert|change)\s+(it|this|everything|all|the (?:whole |entire )?(?:photo|picture|image|scene))\s+(?:to\s+|into\s+)?gr[ae]y$/i, '$1 $2 black and white'],
  // "I want the left sheep gone": an object wished away.
  [new RegExp(String.raw`^(?:i|we)\s+(?:want|need|would like|would love|would prefer)\s+(${SUBJECT})\s+(?:gone|removed|deleted|erased|out of (?:the )?(?:picture|photo|image|shot|frame))$`, 'i'), 'remove $1'],
  // A state wished for: "it would be nice if the photo were brighter", "can the sky be bluer?", "could the car be black?".
  [new RegExp(String.raw`^it would be (?:nice|great|lovely|good|cool|awesome|amazing|perfect|better) if (${SUBJECT})\s+(?:were|was|is|could be|would be|looked|became)\s+(.+)$`, 'i'), 'make $1 $2'],
  [new RegExp(String.raw`^(?:can|could|would|will|may)\s+(${SUBJECT})\s+(?:be|look|become|get)\s+(.+)$`, 'i'), 'make $1 $2'],
  // "can we see the sheep in black and white", "can I have it in sepia": the wanted look.
  [new RegExp(String.raw`^(?:can|could|may)\s+(?:we|i)\s+(?:see|have|get)\s+(${SUBJECT})\s+(?:in|as)\s+(.+)$`, 'i'), 'make $1 $2'],
  // "I need this in black and white", "I want it in sepia".
  [/^(?:i|we)\s+(?:need|want|would like|would love|would prefer)\s+(this|it|the (?:photo|picture|image|whole thing))\s+(?:in|as)\s+(.+)$/i, 'make $1 $2'],
  // "I'd love a sepia version of this", "can I get a black and white copy", "give me a pencil sketch version".
  [/^(?:(?:i|we)\s+(?:would love|would like|want|need)|give me|can i (?:get|have)|could i (?:get|have)|make me)\s+an?\s+(.+?)\s+(?:version|copy|edit|take)(?:\s+of\s+(?:this|it|the (?:photo|picture|image)))?$/i, 'make it $1'],
];

const TRAILERS =
  /(?:[\s,]+(?:please|pls|plz|thanks|thank you|thx|for me|if you can|if possible|if you could|if you do not mind|when you can|for me please|instead|by any chance|real quick|quickly))+[\s.!?]*$/i;

/** The request a polite or indirect sentence makes, as a command; anything else unchanged. */
export function directCommand(text: string): string {
  let t = text.trim().replace(/[?!.]+$/, '').trim();
  for (let round = 0; round < 4; round++) {
    const before = t;
    for (const [re, to] of FRAMES) t = t.replace(re, to).trim();
    t = t.replace(TRAILERS, '').trim();
    // A gerund left at the front is the verb: "making it brighter" → "make it brighter".
    t = t.replace(/^([a-z]+ing)\b/i, (w) => plainVerb(w));
    if (t === before) break;
  }
  return t;
}
