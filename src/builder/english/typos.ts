/**
 * Typos and spelling variants: "remvoe the dog", "balck and white", "crop to
 * sqaure", "make the sheeps pink". A word is corrected only when it is not an
 * English word (the 275,000 words of an-array-of-english-words, compromise's
 * lexicon with its inflections, or the editing vocabulary), or is the first
 * word of a clause and no verb, and one editing word is clearly the closest: within one edit
 * (two for long words, a swap of neighbouring letters counting as one) by
 * Levenshtein distance (fastest-levenshtein).
 */
import { distance } from 'fastest-levenshtein';
import { compromise, englishWords, lexiconWords } from './nlp.ts';
import { DOMAIN_WORDS, IRREGULAR_PLURAL, PRIORITY, SHORTHANDS, VERBS } from './vocabulary.ts';

/** Whether a word is English as it stands: in the word list, the lexicon or the vocabulary, or an inflection of a word that is. */
function isKnown(word: string): boolean {
  const lexicon = lexiconWords();
  if (DOMAIN_WORDS.has(word) || word in lexicon || englishWords().has(word)) return true;
  // "carss" is no plural of "cars".
  const plural = /ss$/.test(word) ? [] : [word.replace(/s$/, ''), word.replace(/es$/, '')];
  const stems = [word.replace(/'s$/, ''), ...plural, word.replace(/ies$/, 'y'), word.replace(/ed$/, ''), word.replace(/ed$/, 'e'), word.replace(/ing$/, ''), word.replace(/ing$/, 'e'), word.replace(/(er|est)$/, ''), word.replace(/ly$/, '')];
  return stems.some((s) => s !== word && s.length > 2 && (DOMAIN_WORDS.has(s) || s in lexicon));
}

/** Whether `a` becomes `b` by swapping two neighbouring letters ("balck" → "black"). */
function isSwap(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  const diff = [...a].flatMap((c, i) => (c === b[i] ? [] : [i]));
  return diff.length === 2 && diff[1] === diff[0]! + 1 && a[diff[0]!] === b[diff[1]!] && a[diff[1]!] === b[diff[0]!];
}

/** Letters shared at the start and the end, to prefer "darker" over "dark" for "darkr". */
function sharedEnds(a: string, b: string): number {
  let p = 0;
  while (p < a.length && p < b.length && a[p] === b[p]) p++;
  let s = 0;
  while (s < a.length - p && s < b.length - p && a[a.length - 1 - s] === b[b.length - 1 - s]) s++;
  return p + s;
}

/** The editing word a misspelt word stands for, or undefined when none is clearly meant. */
export function correctWord(word: string, atStart = false): string | undefined {
  const w = word.toLowerCase();
  if (w in SHORTHANDS) return SHORTHANDS[w];
  // "sheeps", "womans": a plural or possessive the noun does not take.
  const base = w.replace(/s$/, '');
  if (w !== base && base in IRREGULAR_PLURAL) return IRREGULAR_PLURAL[base];
  if (w.length < 3 || /\d/.test(w) || DOMAIN_WORDS.has(w)) return undefined;
  // A rare word that opens a clause where a verb belongs ("mak the picture …") is a slip for the verb.
  const verbSlip = atStart && !compromise()(w).has('#Verb');
  if (isKnown(w) && !verbSlip) return undefined;
  const onlyVerbs = isKnown(w);
  const limit = w.length >= 7 ? 2 : 1;
  let best: { word: string; d: number; ends: number; rank: number } | undefined;
  let tie = false;
  for (const candidate of onlyVerbs ? VERBS : DOMAIN_WORDS) {
    if (Math.abs(candidate.length - w.length) > limit || candidate.length < 3) continue;
    if (onlyVerbs && distance(w, candidate) > 1) continue;
    const d = isSwap(w, candidate) ? 1 : distance(w, candidate);
    // Three letters leave little to go on: only a swap ("teh", "adn"), or a dropped letter of a leading verb ("mak").
    if (w.length === 3 && !(isSwap(w, candidate) || (atStart && d === 1 && VERBS.includes(candidate) && candidate.length === 4))) continue;
    if (d > limit) continue;
    // At the start of a clause a verb is meant ("blurr" → "blur", not "blurry").
    const ends = sharedEnds(w, candidate) + (atStart && VERBS.includes(candidate) ? 10 : 0);
    const rank = PRIORITY.get(candidate) ?? 1e6;
    const better = !best || d < best.d || (d === best.d && ends > best.ends);
    const same = best && d === best.d && ends === best.ends;
    if (better) {
      tie = false;
      best = { word: candidate, d, ends, rank };
    } else if (same) {
      // Two verbs equally close: the commoner; anything else equally close is a guess, and no correction.
      if (VERBS.includes(candidate) && VERBS.includes(best!.word)) {
        if (rank < best!.rank) best = { word: candidate, d, ends, rank };
      } else tie = true;
    }
  }
  return best && !tie ? best.word : undefined;
}

/** The text with its typos and shorthands put right, words in quotes and capitalised names left alone. */
export function correctTypos(text: string): string {
  let first = true;
  return text.replace(/"[^"]*"|[A-Za-z][A-Za-z']*|&/g, (token, offset: number) => {
    const atStart = first || /[.;!?]\s*$/.test(text.slice(0, offset));
    first = false;
    if (token.startsWith('"')) return token;
    // A capitalised word inside a sentence is a name ("Van Gogh", "Ghibli").
    if (/^[A-Z]/.test(token) && !atStart) return token;
    const fixed = correctWord(token, atStart);
    if (!fixed) return token;
    return /^[A-Z]/.test(token) ? fixed[0]!.toUpperCase() + fixed.slice(1) : fixed;
  });
}
