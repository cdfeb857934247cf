/**
 * References: "the one on the right", "the bigger one", "the other one", "the
 * right one of the two sheep", "of the two sheep, remove the one on the left",
 * "the sheep on the right: make it black and white". A "one" takes its noun
 * from the sentence's topic or the object named before it; "the other" takes
 * the opposite of where the earlier object was.
 */
import { headNoun, oppositeLocative } from '../language.ts';

const NUMBER = String.raw`(?:two|three|four|five|several|\d+)`;

export interface Topic {
  /** The sentence without its introduction ("of the two sheep, " / "there are two sheep; "). */
  readonly text: string;
  /** The noun a later "one" stands for ("sheep"). */
  readonly noun?: string;
}

/** "of the two sheep, remove the one on the right", "there are two sheep; blur the one on the left", "the sheep on the right: make it black and white". */
export function readTopic(sentence: string): Topic {
  let m = new RegExp(String.raw`^(?:of|out of|from|among|between)\s+(?:the|these|those)\s+(?:${NUMBER}\s+)?([a-z]+)\s*,\s*(.+)$`, 'i').exec(sentence);
  if (m) return { text: m[2]!, noun: m[1]! };
  m = new RegExp(String.raw`^there\s+(?:are|is)\s+(?:${NUMBER}\s+)?([a-z]+)(?:\s+[^;,.]*)?\s*[;,.:]\s*(.+)$`, 'i').exec(sentence);
  if (m) return { text: m[2]!, noun: m[1]! };
  // A topic said first, then "it": "the sheep on the right: make it black and white".
  m = /^((?:the|that|this)\s+[^:,]+?)\s*[:—–,]\s*(.+)$/i.exec(sentence);
  if (m && /\b(it|them)\b/i.test(m[2]!)) return { text: m[2]!.replace(/\b(it|them)\b/i, m[1]!.trim()) };
  // "the right one of the two sheep" → "the right sheep".
  const inline = new RegExp(String.raw`\bthe\s+([a-z-]+)\s+one\s+(?:of|out of|among)\s+the\s+(?:${NUMBER}\s+)?([a-z]+)\b`, 'i');
  if (inline.test(sentence)) return { text: sentence.replace(inline, 'the $1 $2') };
  return { text: sentence };
}

/** "left-hand" → "left", "the right-hand side" → "the right": the locatives RES reads ("the right hand" stays a hand). */
export function plainLocatives(text: string): string {
  return text.replace(/\b(left|right)(?:-hand\b(?:\s+side)?| hand side)/gi, '$1');
}

/**
 * The object an anaphoric phrase means, given the noun of the topic and the
 * object named before; the phrase unchanged when it names its own noun.
 */
export function resolveReference(phrase: string, topic: string | undefined, antecedent: string | undefined): string {
  const p = phrase.trim();
  const noun = topic ?? (antecedent ? headNoun(antecedent).replace(/^the\s+/i, '') : undefined);
  if (!noun) return p;
  // "the other one", "the other", "the other sheep": opposite the earlier one's place.
  if (/^the\s+other(?:\s+one|\s+[a-z]+)?$/i.test(p)) {
    if (antecedent) {
      const opposite = oppositeLocative(antecedent);
      if (opposite) return opposite;
    }
    return `the other ${noun}`;
  }
  // "the one on the right", "the one that is bigger", "the one behind the girl"
  let m = /^the\s+one\s+(.+)$/i.exec(p);
  if (m) return `the ${noun} ${m[1]}`;
  // "the right one", "the bigger one", "the second one"
  m = /^the\s+([a-z-]+(?:\s+[a-z-]+)?)\s+one$/i.exec(p);
  if (m) return `the ${m[1]} ${noun}`;
  return p;
}
