/** Environment: time of day, weather and season ("make it sunset", "add fog"). */
import { out } from '../draft.ts';
import { family } from './context.ts';

export const ENV_WORDS =
  /\b(sunset|sunrise|dusk|dawn|golden hour|twilight|night(time)?|midnight|evening|morning|noon|daytime|winter|wintry|snow(y|ing|fall|storm)?|blizzard|rain(y|ing|storm)?|storm(y)?|thunderstorm|lightning|fog(gy)?|mist(y)?|haz(e|y)|overcast|cloudy|sunny|autumn(al)?|fall season|spring(time)?|summer(time)?|frost(y)?|icy|moonlight|moonlit|starry|aurora)\b/i;

export const environment = family(['FLUX-ENV'], (clause, ctx) => {
  const m =
    /^(?:make|turn|change|set|transform|convert|switch|let)\s+(?:it|the (?:image|picture|photo|scene|setting|weather|season|time(?: of day)?|lighting|environment|sky|atmosphere|whole scene))?\s*(?:to|into|look like|look|as if (?:it(?:'s| is| were) )?(?:at|in|during)?|be|feel like|appear)?\s*(?:a|an|the|at|in|during)?\s*(.+)$/i.exec(clause) ??
    /^(?:add|create|bring)\s+(?:some\s+|a\s+|an\s+)?(.+)$/i.exec(clause);
  const target = m?.[1] ?? '';
  if (!m || !ENV_WORDS.test(target)) return false;
  // "make the car snowy" edits an object, not the scene; "add a snowman" adds one.
  if (/^(?:make|turn)\s+(?!it\b|the (?:image|picture|photo|scene|weather|season|sky|atmosphere|whole scene)\b)/i.test(clause) && !/^(make|turn) (it|the)/i.test(clause)) return false;
  if (/^(add|create|bring)/i.test(clause) && !/^(?:add|create|bring)\s+(?:some\s+|a\s+|an\s+)?(?:snow|rain|fog|mist|haze|sunset|night|storm|frost|lightning|falling snow|snowfall|moonlight|stars)\b/i.test(clause)) return false;
  const prompt = target.replace(/^.*\bfrom\s+.+?\s+(?:to|into)\s+/i, '').replace(/^(look|be)\s+/i, '').replace(/\s+(time|setting|scene|environment|look|atmosphere|weather|season)$/i, '').trim();
  ctx.image = out(ctx.draft.add('FLUX-ENV', { image: ctx.image, prompt }), 'image');
  ctx.notes.push(`FLUX-ENV changes the scene to "${prompt}".`);
  return true;
});
