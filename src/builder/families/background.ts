/** Background: "blur the background", "make the background white", "change the background to a beach". */
import { out } from '../draft.ts';
import { isColourPhrase, objectPhrase } from '../language.ts';
import { COLOUR_VERBS, type Ctx, family, segment, SEGMENTERS } from './context.ts';

export const SCENE =
  /\b(background|backdrop|setting|scenery|scene|landscape|cityscape|skyline|environment|surroundings|beach|forest|jungle|desert|mountains?|ocean|sea|lake|river|city|street|park|garden|field|meadow|space|galaxy|studio|sky|snowfield|countryside|village|room|interior|stage|underwater|island|savanna|farm|meadow|canyon|volcano|waterfall)\b/i;

/** The bricks `changeBackground` may add. */
export const BACKGROUND_CHANGERS = ['INVERSE', 'FLUX-CBG', ...SEGMENTERS] as const;

export function changeBackground(ctx: Ctx, subject: string | undefined, prompt: string): void {
  // "blur the background but not the girl": what the clause keeps is the subject.
  if (!subject && ctx.keep) ctx.keepUsed = true;
  const subjectMask = segment(ctx, subject ?? ctx.keep ?? 'the main subject');
  const background = out(ctx.draft.add('INVERSE', { mask2: subjectMask }), 'mask');
  ctx.image = out(ctx.draft.add('FLUX-CBG', { image: ctx.image, mask: background, prompt }), 'image');
  ctx.notes.push(`INVERSE turns the subject mask into the background; FLUX-CBG paints "${prompt}" there.`);
}


export function backgroundPrompt(text: string): string {
  const t = text.trim().replace(/^(a|an|the)\s+/i, (m) => m.toLowerCase());
  if (/^(plain |pure |solid |studio |clean )?white( studio)?$/i.test(t)) return 'white studio';
  if (/^(blurr?(ed|y)|out of focus|bokeh|soft|defocus(ed)?)$/i.test(t)) return 'blurred';
  return t;
}

export const background = family([...BACKGROUND_CHANGERS], (clause, ctx) => {
  // "blur the background", "make the background white", "change the background to a beach", "replace the background with …"
  let m =
    /^(?:blur|defocus|soften)\s+(?:the\s+)?(?:background|backdrop|surroundings)(?:\s+(?:behind|around)\s+(.+))?/i.exec(clause) ??
    // "blur everything behind the dog", "blur all but the bride": the background of that subject.
    /^(?:blur|defocus|soften)\s+(?:everything|all|the rest)(?:\s+else)?\s+(?:behind|around|but|except(?:\s+for)?|other\s+than|apart\s+from)\s+(.+)$/i.exec(clause);
  if (m) {
    changeBackground(ctx, m[1] ? objectPhrase(m[1]) : undefined, 'blurred');
    return true;
  }
  // "whiten the background": a colour verb says the colour.
  m = new RegExp(String.raw`^(${Object.keys(COLOUR_VERBS).join('|')})\s+(?:the\s+)?(?:background|backdrop|surroundings)(?:\s+(?:behind|around)\s+(.+))?$`, 'i').exec(clause);
  if (m) {
    changeBackground(ctx, m[2] ? objectPhrase(m[2]) : undefined, backgroundPrompt(COLOUR_VERBS[m[1]!.toLowerCase()]!));
    return true;
  }
  m = /^(?:change|replace|swap|switch|set|make|turn|transform|convert|update|alter|put)\s+(?:the\s+)?(?:((?:(?!\b(?:to|into|with)\b).)+?)\s+)?(?:background|backdrop|setting|scenery|surroundings)(?:\s+colou?r)?(?:\s+(?:of|behind|around)\s+(.+?))?(?:\s+(?:with|from)\s+.+?)?\s+(?:to|into|so that it shows)\s+(.+)$/i.exec(clause) ??
    /^(?:change|replace|swap|switch|set|make|turn|transform|convert|update|alter|put)\s+(?:the\s+)?(?:((?:(?!\b(?:to|into|with)\b).)+?)\s+)?(?:background|backdrop|setting|scenery|surroundings)(?:\s+(?:of|behind|around)\s+(.+?))?\s+(?:with|for|by|as)\s+(.+)$/i.exec(clause);
  if (m && !(m[1] && /\b(change|make)\b/i.test(m[1]))) {
    const subject = m[2] ? objectPhrase(m[2]) : undefined;
    changeBackground(ctx, subject, backgroundPrompt(objectPhrase(m[3]!)));
    return true;
  }
  m = /^(?:make|turn|paint)\s+(?:the\s+)?(?:background|backdrop)\s+(.+)$/i.exec(clause);
  if (m) {
    changeBackground(ctx, undefined, backgroundPrompt(m[1]!));
    return true;
  }
  // "change the cabin in the picture from the forest to the beach", "change the beach in the picture to a mountain landscape"
  m = /^(?:change|move|transport|relocate|place|put|set)\s+(.+?)\s+(?:from\s+(.+?)\s+)?(?:to|into|in|on|onto|at)\s+(.+)$/i.exec(clause);
  if (m) {
    const thing = objectPhrase(m[1]!);
    const from = m[2];
    const to = objectPhrase(m[3]!);
    const sceneThing = SCENE.test(thing) && !/\b(person|man|woman|car|animal|dog|cat|building|house|statue)\b/i.test(thing);
    const sceneTarget = /\b(scene|setting|landscape|cityscape|environment|backdrop|background|scenery|surroundings)\b/i.test(to);
    if ((from && (SCENE.test(from) || SCENE.test(to))) || (sceneThing && SCENE.test(to) && !isColourPhrase(to)) || (sceneTarget && !isColourPhrase(to))) {
      changeBackground(ctx, sceneThing || (sceneTarget && !from) ? undefined : thing, backgroundPrompt(to));
      return true;
    }
    if (/^(move|transport|relocate|place|put)$/i.test(clause.split(' ')[0]!) && SCENE.test(to) && !/^(a|an|some)\b/i.test(thing)) {
      changeBackground(ctx, thing, backgroundPrompt(to));
      return true;
    }
  }
  return false;
});
