/**
 * Reading the short prompts the Builder hands to the CPU edit bricks.
 *
 * CPU variants do only what a filter can do faithfully, so a prompt counts as
 * understood only when every content word in it is accounted for: "white" is a
 * studio backdrop, "a white beach" is a scene that needs the generative model.
 */
import { tokens } from './colour.ts';

/** Words that carry no content in edit prompts ("change the background to …"). */
export const FILLER = new Set([
  'a', 'an', 'the', 'to', 'into', 'in', 'on', 'of', 'with', 'and', 'or', 'as', 'at', 'for', 'by', 'it', 'its', 'this', 'that', 'be', 'is', 'are',
  'make', 'makes', 'change', 'changed', 'turn', 'set', 'convert', 'replace', 'put', 'give', 'apply', 'use', 'render', 'rendered', 'look', 'looks', 'looking', 'like',
  'please', 'some', 'more', 'very', 'slightly', 'bit', 'little', 'lot', 'kind', 'sort', 'style', 'styled', 'effect', 'filter', 'look', 'mode', 'version', 'tone', 'toned',
  'image', 'photo', 'photograph', 'picture', 'pic', 'scene', 'shot', 'whole', 'entire', 'all', 'everything', 'color', 'colored', 'colors', 'coloured', 'colours',
  'new', 'now', 'instead', 'just', 'only', 'simple', 'plain', 'nice', 'beautiful', 'clean', 'soft', 'subtle', 'strong', 'heavy', 'light', 'thick', 'thin',
]);

/** The tokens of `text` that are neither filler nor in `known`. */
export function unknownWords(text: string, known: ReadonlySet<string>, consumed: ReadonlySet<number> = new Set()): string[] {
  return tokens(text).filter((w, i) => !consumed.has(i) && !FILLER.has(w) && !known.has(w) && !/^\d+(\.\d+)?$/.test(w));
}

/** Whether any of the phrases (one or more words each) occurs in `text` as whole words. */
export function hasPhrase(text: string, phrases: readonly string[]): string | undefined {
  const t = ` ${tokens(text).join(' ')} `;
  return phrases.find((p) => t.includes(` ${p} `));
}
