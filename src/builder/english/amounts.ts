/**
 * Amounts said in words, as the numbers the families read: "a quarter turn to
 * the left" → "90 degrees counterclockwise", "half a turn" → "180 degrees",
 * "to a quarter of the size" → "to 25%", "half the size" → "50%", "20 %" →
 * "20%", "per cent" → "%".
 */

const WORDS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\b(counter|anti)[\s-]+clockwise\b/gi, '$1clockwise'],
  [/(\d)\s+(?:%|per\s?cent\b|percent\b)/gi, '$1%'],
  [/\b(\d+(?:\.\d+)?)\s*(?:per\s?cent|percent)\b/gi, '$1%'],
  [/\ba\s+quarter[- ]turn\s+(?:to\s+the\s+left|left|anti-?clockwise|counter-?clockwise)\b/gi, '90 degrees counterclockwise'],
  [/\ba\s+quarter[- ]turn(?:\s+to\s+the\s+right|\s+right|\s+clockwise)?\b/gi, '90 degrees clockwise'],
  [/\b(?:half\s+a\s+turn|a\s+half[- ]turn)\b/gi, '180 degrees'],
  [/\bthree[- ]quarters?\s+of\s+a\s+turn\b/gi, '270 degrees'],
  [/\b(?:to\s+)?(?:a|one)\s+quarter\s+(?:of\s+)?(?:the|its)\s+(?:original\s+)?size\b/gi, 'to 25%'],
  [/\b(?:to\s+)?(?:a|one)\s+third\s+(?:of\s+)?(?:the|its)\s+(?:original\s+)?size\b/gi, 'to 33.3%'],
  [/\b(?:to\s+)?half\s+(?:of\s+)?(?:the|its)\s+(?:original\s+)?size\b/gi, 'to 50%'],
];

export function normaliseAmounts(text: string): string {
  let t = text;
  for (const [re, to] of WORDS) t = t.replace(re, to);
  return t;
}
