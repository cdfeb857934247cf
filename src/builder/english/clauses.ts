/**
 * The steps of a chain: "remove the car and make it black and white", "first
 * crop it square, then brighten it", "do X. also Y", "make the car black, also
 * darken it", and a verb said once for two objects: "make the left sheep blue
 * and the right sheep red".
 */
import { EDIT_VERBS, isColourPhrase, isMaterialPhrase, splitClauses } from '../language.ts';

const THEN = new RegExp(String.raw`\s*,\s+(?=(?:also|then|just|and then|after that|afterwards|next|finally|and)\s+(?:${EDIT_VERBS})\b)`, 'i');

/** The tail of a phrase that is a colour or material, one to three words long ("light blue", "red"). */
function colourTail(words: readonly string[]): number {
  for (let n = Math.min(3, words.length - 1); n >= 1; n--) {
    const tail = words.slice(-n).join(' ');
    if (isColourPhrase(tail) || isMaterialPhrase(tail)) return n;
  }
  return 0;
}

/** "make the left sheep blue and the right sheep red" → two recolours, the verb said once. */
function shareVerb(clause: string): string[] {
  const m = /^(make|paint|colou?r|turn|dye|recolou?r|tint)\s+(.+)$/i.exec(clause);
  if (!m) return [clause];
  const parts = m[2]!.split(/\s+and\s+(?=(?:the|this|that|her|his|their|its|both|all)\s)/i);
  if (parts.length < 2) return [clause];
  const split = parts.map((p) => p.split(/\s+/));
  if (!split.every((w) => w.length >= 2 && colourTail(w) > 0)) return [clause];
  return parts.map((p) => `${m[1]} ${p}`);
}

/** The edit steps of an instruction, in order. */
export function splitSteps(text: string): string[] {
  return splitClauses(text)
    .flatMap((c) => c.split(THEN))
    .map((c) => c.replace(/^(?:also|then|just|and then|after that|afterwards|next|finally|and)\s+/i, '').trim())
    .filter(Boolean)
    .flatMap(shareVerb);
}
