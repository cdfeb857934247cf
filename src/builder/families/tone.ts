/** Tone and light: brightness, contrast, saturation, hue and warmth (ADJUST), with amounts ("20 % brighter", "a little darker"). */
import type { Source } from '../../engine/workflow/types.ts';
import { out } from '../draft.ts';
import { objectPhrase, statedRatio } from '../language.ts';
import { family, KEEPERS, keptOut, segment } from './context.ts';

/** Multipliers for "a bit"/"much" qualifiers. */
export function degree(text: string): number {
  if (/\b(a tiny bit|tiny|a touch|barely|the slightest|a hint)\b/i.test(text)) return 0.25;
  if (/\b(slightly|a (little )?bit|a little|a tad|subtly|somewhat|gently)\b/i.test(text)) return 0.5;
  if (/\b(much|a lot|significantly|dramatically|way|very|really|considerably|heavily)\b/i.test(text)) return 2;
  return 1;
}

/** "turn down the saturation", "boost the exposure": a direction verb governing a setting's name. */
export const UP = String.raw`(?:increase|boost|raise|turn up|crank up|bump up|pump up|push up|add more|more|higher|heighten|intensify|amplify)`;
export const DOWN = String.raw`(?:decrease|reduce|lower|turn down|tone down|dial down|dial back|pull back|bring down|drop|less|lessen|soften|mute|weaken)`;
export const SETTING_WORDS: ReadonlyArray<readonly ['brightness' | 'contrast' | 'saturation', string]> = [
  ['brightness', 'brightness|exposure|lighting|light'],
  ['contrast', 'contrast'],
  ['saturation', 'saturation|vibrance|vibrancy|colou?r intensity|colou?rs?'],
];

export const TONE: ReadonlyArray<{ re: RegExp; port: 'brightness' | 'contrast' | 'saturation'; up: boolean }> = [
  ...SETTING_WORDS.flatMap(([port, words]) => [
    { re: new RegExp(String.raw`\b${UP}\s+(?:the\s+)?(?:overall\s+)?(?:${words})\b`, 'i'), port, up: true },
    { re: new RegExp(String.raw`\b${DOWN}\s+(?:the\s+)?(?:overall\s+)?(?:${words})\b`, 'i'), port, up: false },
  ]),
  // No direction given ("adjust the brightness of the sky"): people mostly mean brighter; an explicit word below overrides it.
  { re: /\b(?:adjust|fix|improve|correct|enhance)\s+(?:the\s+)?(?:brightness|lighting|exposure|light)\b/i, port: 'brightness', up: true },
  { re: /\b(brighter|brighten|lighten|lighter|more light|increase (?:the )?(?:brightness|exposure|light(?:ing)?)|boost (?:the )?(?:brightness|exposure)|raise (?:the )?(?:brightness|exposure)|illuminate|more exposure|overexpose|brightness up)\b/i, port: 'brightness', up: true },
  { re: /\b(darker|darken|dimmer|dim|less light|decrease (?:the )?(?:brightness|exposure|light(?:ing)?)|reduce (?:the )?(?:brightness|exposure|light(?:ing)?)|lower (?:the )?(?:brightness|exposure)|underexpose|moodier)\b/i, port: 'brightness', up: false },
  { re: /\b(more contrast|higher contrast|increase (?:the )?contrast|boost (?:the )?contrast|punchier|contrastier|more punch)\b/i, port: 'contrast', up: true },
  { re: /\b(less contrast|lower contrast|reduce (?:the )?contrast|decrease (?:the )?contrast|flatter|softer contrast)\b/i, port: 'contrast', up: false },
  { re: /\b(more (?:vivid|saturated|colou?rful|vibrant)|saturate|increase (?:the )?saturation|boost (?:the )?(?:saturation|colou?rs?)|vivid|vibrant|richer colou?rs?|pop)\b/i, port: 'saturation', up: true },
  { re: /\b(less (?:saturated|colou?rful|vivid)|desaturate|reduce (?:the )?saturation|decrease (?:the )?saturation|muted|washed[- ]out|faded)\b/i, port: 'saturation', up: false },
];

export const tone = family(['ADJUST', 'FLUX-ENV', ...KEEPERS], (clause, ctx) => {
  const hits = TONE.filter((t) => t.re.test(clause));
  const warm = /\b(warmer|warm up|warm tones?|more warmth)\b/i.test(clause);
  const cool = /\b(cooler|cool down|cool tones?|colder)\b/i.test(clause);
  const hue = /\b(?:shift|rotate|change)\s+(?:the\s+)?hue\s+(?:by\s+)?(-?\d+)/i.exec(clause);
  if (hits.length === 0 && !warm && !cool && !hue) return false;
  // "lighter shade of blue" is a colour, "brighten the car" is scoped: find the object, if any.
  if (/\bshade of\b/i.test(clause)) return false;
  const k = degree(clause);
  // "20% brighter", "reduce the saturation by half", "brighten by a third": the amount said; otherwise 30%, scaled by "a bit" or "much".
  const said = statedRatio(clause.replace(/\b(?:hue|rotate)\b.*$/i, ''));
  const literals: Record<string, number> = {};
  for (const h of hits) {
    const value = said === undefined ? (h.up ? 1 + 0.3 * k : 1 / (1 + 0.3 * k)) : said < 1 ? (h.up ? 1 + said : 1 - said) : h.up ? said : 1 / said;
    literals[h.port] = Number(Math.min(4, Math.max(0, value)).toFixed(said === undefined ? 2 : 3));
  }
  if (hue) literals.hue = Number(hue[1]);
  const scope =
    /\b(?:of|on|in|for)\s+(?!(?:the\s+)?(?:image|picture|photo|photograph|pic|scene|whole|entire|overall|it|everything|left|right|top|bottom|middle|cent(?:er|re)|front|back|far (?:left|right))\b)(?:the\s+)?([a-z][\w\s'-]*?)(?:\s+(?:to|by|so|and|a bit|slightly)\b.*)?$/i.exec(clause.replace(/\b(brightness|contrast|saturation|exposure|lighting|light|colou?rs?)\s+(of|on|in)\b/i, 'X $2')) ??
    /^(?:make|brighten|darken|lighten|saturate|desaturate)\s+(?!(?:the\s+)?(?:image|picture|photo|photograph|pic|scene|whole|entire|overall|it|everything|all(?!\s+(?:the|of)\b))\b)(?:the\s+)?([a-z][\w\s'-]*)$/i.exec(clause);
  let mask: Source | undefined;
  const scoped = scope?.[1] ? objectPhrase(scope[1]).replace(/\s*\b(brighter|darker|lighter|dimmer|more|less|much|slightly|a (?:little |tiny )?bit|a little|a lot|by)\b.*$/i, '').trim() : '';
  if (scoped && !/^(it|this|image|picture|photo|scene|overall|lighting|light|exposure|tones?|colou?rs?|X|brightness|contrast|saturation)$/i.test(scoped) && !/^(a|an)\b/i.test(scoped)) {
    // "both sheep", "her face", "all the houses" say which already; a bare noun gets "the".
    mask = segment(ctx, /^(the|both|all|every|each|her|his|their|its|my|our|two|three|these|those)\b/i.test(scoped) ? scoped : `the ${scoped}`);
  }
  mask ??= keptOut(ctx);
  if (warm || cool) {
    if (mask || hits.length) {
      literals.hue = warm ? -8 : 8;
      literals.saturation ??= warm ? 1.15 : 0.95;
    } else {
      const prompt = warm ? 'warm golden light' : 'cool blue light';
      ctx.image = out(ctx.draft.add('FLUX-ENV', { image: ctx.image, prompt }), 'image');
      ctx.notes.push(`FLUX-ENV grades the image with ${prompt}.`);
      return true;
    }
  }
  // ADJUST with nothing set would hand back the image unchanged.
  if (Object.keys(literals).length === 0) return false;
  ctx.image = out(ctx.draft.add('ADJUST', { image: ctx.image, ...literals, mask }), 'image');
  ctx.notes.push(`ADJUST sets ${Object.entries(literals).map(([k2, v]) => `${k2} ${v}`).join(', ')}${mask ? ' inside the mask' : ''}.`);
  return true;
});
