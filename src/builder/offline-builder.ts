/**
 * The embedded default Builder: a deterministic planner that needs no network
 * and no model. It understands the common instruction families and emits the
 * workflows the published Lego-Edit Builder emits for them (remove = RES →
 * FASTINPAINT → FLUX-INPAINT, recolour = RES → FLUX-RCM, replace = RES → BBOX →
 * FLUX-FILL, add = ADD-PRED → FLUX-FILL, or ADD-PRED → PASTE with the user's
 * second photo, background = SOS → INVERSE → FLUX-CBG, …). Each instruction is planned in a few variants (segmenter, refinement,
 * box) and the best variant that validates and keeps the user's rules wins, so
 * a rule such as "don't use RES before INPAINT" re-routes the plan rather than
 * failing it. What it cannot plan it refuses, saying what it can do instead.
 */
import type { AnyBrick } from '../engine/brick.ts';
import { BrickRegistry } from '../engine/registry.ts';
import { serialiseWorkflow } from '../engine/workflow/serialise.ts';
import type { Source, Workflow, WorkflowNode } from '../engine/workflow/types.ts';
import { providedInputs, validateWorkflow } from '../engine/workflow/validate.ts';
import type { Builder, Plan, PlanRequest, PriorTurn, Rule } from './builder.ts';
import { PlanRefusedError } from './builder.ts';
import { Draft, INIT_IMAGE, INIT_MASK, INIT_REFERENCE, type InputValue, out } from './draft.ts';
import { canWire, floatInputs, needsSettings, searchBricks, type FallbackMatch } from './fallback.ts';
import {
  isColourPhrase,
  isEmptyPhrase,
  isMaterialPhrase,
  isPronoun,
  location,
  objectPhrase,
  resolveOne,
  statedAspect,
  statedRatio,
} from './language.ts';
import { ratioInputs } from '../../bricks/predict/cmi-ratios.ts';
import { type EditClause, resolveReference, understand } from './english/index.ts';
import { repairWorkflow } from './repair.ts';
import { reviseWorkflow } from './revise.ts';
import { type BrickInfo, bricksForPurpose, purposesOf, ruleViolations } from './rules.ts';

/** How a named object is found: RES by its name, the most salient object, or the user's rough mask refined. */
type Segmenter = 'RES' | 'SOS' | 'MASK-SEG';

/** A segmenter used for one object instead of the variant's, because a rule (or a brick that cannot run) ruled the others out. */
interface Override {
  readonly segmenter: Segmenter;
  readonly ruledOut: readonly Segmenter[];
  /** "Because of your rule "…"": the start of the note the user reads. */
  readonly because: string;
}

/** What a plan variant chooses where the catalogue offers a choice. */
interface Variant {
  /** The segmenter for every named object, unless overridden for one. */
  readonly segmenter: Segmenter;
  /** Refine removals with FLUX-INPAINT after FASTINPAINT. */
  readonly refine: boolean;
  /** Give replacements room with BBOX. */
  readonly bbox: boolean;
  /** By object, in the order the clauses segment them; only the objects a rule is about get one. */
  readonly overrides: ReadonlyMap<number, Override>;
}

/** One object the plan segments, so a rule that its segmenter breaks can be re-routed for that object alone. */
interface Segmented {
  readonly step: number;
  readonly object: string;
  readonly segmenter: Segmenter;
  /** A pronoun or "the main subject": RES cannot look for it by name. */
  readonly vague: boolean;
}

/** A clause the planner understood but cannot carry out with these bricks. */
class Unplannable extends Error {}

interface Ctx {
  readonly draft: Draft;
  readonly variant: Variant;
  readonly request: PlanRequest;
  readonly registry: BrickRegistry;
  /** The image the current clause edits: the user's, or the previous clause's result. */
  image: Source;
  /** The object named last, for "it" in "change the car to red and then remove it". */
  lastObject: string | undefined;
  readonly notes: string[];
  /** Notes the user must not miss (a rule forced a substitute), put first in the reasoning. */
  readonly forced: string[];
  /** Every object segmented with the variant's choice of segmenter, in order. */
  readonly segments: Segmented[];
  /** A non-image result (an extracted cut-out) to return instead of the image. */
  results?: Source[];
  /** The noun a "one" stands for ("of the two sheep, remove the one on the right"). */
  readonly topic?: string;
  /** What the current clause must leave alone ("everything except the girl"), and whether a family kept it out. */
  keep?: string;
  keepUsed?: boolean;
  /** The mask of everything but `keep`, once made. */
  keepRegion?: Source;
}

/** Plans one clause into the draft, or returns false when the clause is not of its kind. */
type Planner = (clause: string, ctx: Ctx) => boolean;

/**
 * An instruction family: its planner and every brick that planner may add,
 * declared next to its code. The planner is held to its declaration (see
 * `#draft`), and the union of declarations is what "the families plan"
 * (PLANNED_BY_FAMILIES). 'any' marks the generic routes that wire whatever
 * registered brick matches.
 */
type Family = Planner & { readonly plans: readonly string[] | 'any' };

function family(plans: readonly string[] | 'any', plan: Planner): Family {
  return Object.assign(plan, { plans });
}

const MAIN_SUBJECT = /^(the )?(main |central |salient )?(subject|object|foreground( object)?|thing in front|central figure|main figure)$/i;
const TEXT_OBJECT = /\b(text|texts|watermarks?|captions?|logos?|letter(ing|s)?|writing|words?|subtitles?|signatures?|date ?stamps?|time ?stamps?|labels?|inscriptions?|graffiti)\b/i;
const FACE_OBJECT = /\b(faces?|face of|heads?)\b/i;
const IMAGE_ITSELF = /^(it|the (image|picture|photo|photograph|pic|scene|shot|whole (image|picture|photo|thing))|this|everything|all)$/i;

// ---------------------------------------------------------------------------
// Building blocks shared by the families.

/** What a substitute segmenter does, for the note that says a rule forced it. */
function substituteNote(because: string, object: string, used: Segmenter, instead: readonly Segmenter[]): string {
  const was = instead.map((s) => (s === 'RES' ? `RES finding "${object}" by name` : s === 'MASK-SEG' ? 'MASK-SEG using your mask' : 'SOS')).join(' or ');
  if (used === 'SOS') return `${because}, SOS takes the most salient object instead of ${was}; if that is not ${object}, send a mask of it.`;
  if (used === 'MASK-SEG') return `${because}, MASK-SEG finds "${object}" inside your mask instead of ${was}.`;
  return `${because}, RES finds "${object}" by name instead of ${was}.`;
}

/** The bricks `segment` may add. */
const SEGMENTERS = ['TEXT-DET', 'FACE-DET', 'MASK-SEG', 'SOS', 'RES'] as const;

function segment(ctx: Ctx, phrase: string): Source {
  let object = resolveReference(phrase.trim().replace(/^(?:the\s+){2,}/i, 'the '), ctx.topic, ctx.lastObject);
  if (isPronoun(object) && ctx.lastObject) object = ctx.lastObject;
  // With a mask sent along, "this", "it" or a bare "the" point at the masked region.
  if (ctx.request.hasMask && (isEmptyPhrase(object) || isPronoun(object))) object = 'the masked area';
  // Nothing to look for: a segmenter given "the" would return an arbitrary region, and the edit with it.
  if (isEmptyPhrase(object)) throw new Unplannable(`I can't tell which object "${phrase.trim()}" means; name it ("the car") or send a mask of it`);
  const { draft, variant, request } = ctx;
  // "the text on the sign" is text; "the sign with writing" is an object.
  const head = object.replace(/\s+(?:on|in|from|at|of|across|over|along)\s+.*$/i, '');
  if (TEXT_OBJECT.test(head) && ctx.registry.has('TEXT-DET')) {
    ctx.notes.push(`TEXT-DET finds the text regions for "${object}".`);
    return out(draft.add('TEXT-DET', { image: ctx.image }), 'mask');
  }
  // A face, or everyone's: RES knows no faces, FACE-DET finds them.
  if (FACE_OBJECT.test(object) && (/\bfaces?$/i.test(head) || /\b(faces|everyone|every|all|people'?s?|their)\b/i.test(object)) && ctx.registry.has('FACE-DET')) {
    ctx.notes.push(`FACE-DET finds the faces.`);
    return out(draft.add('FACE-DET', { image: ctx.image }), 'mask');
  }
  ctx.lastObject = object;
  const vague = isPronoun(object) || MAIN_SUBJECT.test(object) || /^(the )?(selected|masked|marked) (area|region|part|object)|^(here|there)$/i.test(object);
  const override = variant.overrides.get(ctx.segments.length);
  const chosen = override?.segmenter ?? variant.segmenter;
  const used: Segmenter = chosen === 'MASK-SEG' ? 'MASK-SEG' : chosen === 'SOS' || vague ? 'SOS' : 'RES';
  if (override) ctx.forced.push(substituteNote(override.because, object, used, override.ruledOut));
  let step: number;
  if (used === 'MASK-SEG') {
    if (!request.hasMask) throw new Unplannable('MASK-SEG needs a mask from the user');
    ctx.notes.push(`MASK-SEG refines the user's mask to the object.`);
    step = draft.add('MASK-SEG', { image: ctx.image, mask: INIT_MASK });
  } else if (used === 'SOS') {
    if (!override) ctx.notes.push(`SOS takes the most salient object${vague ? '' : ` as "${object}"`}.`);
    step = draft.add('SOS', { image: ctx.image });
  } else {
    ctx.notes.push(`RES segments "${object}".`);
    step = draft.add('RES', { image: ctx.image, prompt: object });
  }
  ctx.segments.push({ step, object, segmenter: used, vague });
  return out(step, 'mask');
}

/**
 * The mask of everything but what the clause keeps ("everything except the
 * girl": RES(girl) → INVERSE), for a family about to edit the whole picture;
 * undefined when the clause keeps nothing.
 */
function keptOut(ctx: Ctx): Source | undefined {
  if (!ctx.keep) return undefined;
  ctx.keepUsed = true;
  if (!ctx.keepRegion) {
    const kept = segment(ctx, ctx.keep);
    ctx.keepRegion = out(ctx.draft.add('INVERSE', { mask2: kept }), 'mask');
    ctx.notes.push(`INVERSE leaves "${ctx.keep}" out of the edit.`);
  }
  return ctx.keepRegion;
}

/** The bricks `keptOut` may add. */
const KEEPERS = ['INVERSE', ...SEGMENTERS] as const;

/** The bricks `removeObject` may add. */
const REMOVERS = ['FASTINPAINT', 'FLUX-INPAINT', ...SEGMENTERS] as const;

function removeObject(ctx: Ctx, object: string): void {
  removeRegion(ctx, segment(ctx, object));
}

/** Fills a segmented region of the current image from its surroundings (FASTINPAINT, refined by FLUX-INPAINT in the variants that refine). */
function removeRegion(ctx: Ctx, mask: Source): void {
  const source = ctx.image;
  const fast = ctx.draft.add('FASTINPAINT', { image: source, mask });
  ctx.image = out(fast, 'image');
  ctx.notes.push(`FASTINPAINT fills the region from its surroundings${ctx.variant.refine ? '; FLUX-INPAINT refines that pre-fill' : ''}.`);
  if (ctx.variant.refine) {
    ctx.image = out(ctx.draft.add('FLUX-INPAINT', { image: source, mask, preimage: out(fast, 'image'), score: out(fast, 'score') }), 'image');
  }
}

// ---------------------------------------------------------------------------
// Instruction families, tried in order: the first that recognises a clause plans it.

const REMOVE_VERB = String.raw`(?:remove|erase|delete|eliminate|get rid of|take (?:out|away|off)|clear (?:away|out|off)?|rub out|wipe (?:out|off|away)|cut out|lose|drop|hide|make (.+?) disappear)`;

const extract = family([...SEGMENTERS], (clause, ctx) => {
  const bg = /^(?:remove|delete|erase|cut out|drop|get rid of|take out|isolate .+ from)\s+(?:the\s+)?(?:background|backdrop)(?:\s+(?:from|behind|around)\s+(.+))?$/i.exec(clause);
  const m = bg ? undefined : /^(?:extract|isolate|cut out|segment|select|crop out|single out|separate|mask(?: out)?|give me (?:a )?(?:mask|cut-?out) of|make (?:a )?(?:mask|cut-?out|sticker) of)\s+(.+)$/i.exec(clause);
  if (!bg && !m) return false;
  const object = objectPhrase(bg ? (bg[1] ?? 'the main subject') : m![1]!);
  const mask = segment(ctx, object);
  const producer = ctx.draft.nodes[mask.kind === 'step' ? mask.step - 1 : 0];
  const hasImage = producer && Object.keys(ctx.registry.get(producer.brick)?.outputs ?? {}).includes('image');
  ctx.results = [hasImage && mask.kind === 'step' ? out(mask.step, 'image') : mask];
  ctx.notes.push(`The cut-out of "${object}" is the result.`);
  return true;
});

const removeText = family([...REMOVERS], (clause, ctx) => {
  const m = new RegExp(String.raw`^${REMOVE_VERB}\s+(.+)$`, 'i').exec(clause);
  if (!m) return false;
  const object = objectPhrase(m[2] ?? m[1] ?? '');
  if (!TEXT_OBJECT.test(object)) return false;
  removeObject(ctx, object);
  return true;
});

const blurFaces = family(['BLUR', ...KEEPERS], (clause, ctx) => {
  // "blur out the plate" and "blur the plate out" alike.
  const m = /^(?:blur|pixel+ate|anonymi[sz]e|obscure|censor|hide|mask|cover|smudge)(?:\s+out)?\s+(.+?)(?:\s+(?:out|with .*))?$/i.exec(clause);
  if (!m) return false;
  const target = objectPhrase(m[1]!);
  if (/^(the )?(background|backdrop|surroundings)$/i.test(target)) return false;
  const mode = /pixel/i.test(clause) ? 'pixelate' : undefined;
  if (IMAGE_ITSELF.test(target)) {
    ctx.image = out(ctx.draft.add('BLUR', { image: ctx.image, mode, mask: ctx.request.hasMask ? INIT_MASK : keptOut(ctx) }), 'image');
    return true;
  }
  const mask = FACE_OBJECT.test(target) && ctx.registry.has('FACE-DET') ? out(ctx.draft.add('FACE-DET', { image: ctx.image }), 'mask') : segment(ctx, target);
  ctx.image = out(ctx.draft.add('BLUR', { image: ctx.image, mask, mode }), 'image');
  ctx.notes.push(`BLUR ${mode === 'pixelate' ? 'pixelates' : 'blurs'} "${target}".`);
  return true;
});

const SCENE =
  /\b(background|backdrop|setting|scenery|scene|landscape|cityscape|skyline|environment|surroundings|beach|forest|jungle|desert|mountains?|ocean|sea|lake|river|city|street|park|garden|field|meadow|space|galaxy|studio|sky|snowfield|countryside|village|room|interior|stage|underwater|island|savanna|farm|meadow|canyon|volcano|waterfall)\b/i;

/** The bricks `changeBackground` may add. */
const BACKGROUND_CHANGERS = ['INVERSE', 'FLUX-CBG', ...SEGMENTERS] as const;

function changeBackground(ctx: Ctx, subject: string | undefined, prompt: string): void {
  // "blur the background but not the girl": what the clause keeps is the subject.
  if (!subject && ctx.keep) ctx.keepUsed = true;
  const subjectMask = segment(ctx, subject ?? ctx.keep ?? 'the main subject');
  const background = out(ctx.draft.add('INVERSE', { mask2: subjectMask }), 'mask');
  ctx.image = out(ctx.draft.add('FLUX-CBG', { image: ctx.image, mask: background, prompt }), 'image');
  ctx.notes.push(`INVERSE turns the subject mask into the background; FLUX-CBG paints "${prompt}" there.`);
}

/** Verbs that mean "make it this colour". */
const COLOUR_VERBS: Readonly<Record<string, string>> = { whiten: 'white', blacken: 'black', redden: 'red' };

function backgroundPrompt(text: string): string {
  const t = text.trim().replace(/^(a|an|the)\s+/i, (m) => m.toLowerCase());
  if (/^(plain |pure |solid |studio |clean )?white( studio)?$/i.test(t)) return 'white studio';
  if (/^(blurr?(ed|y)|out of focus|bokeh|soft|defocus(ed)?)$/i.test(t)) return 'blurred';
  return t;
}

const background = family([...BACKGROUND_CHANGERS], (clause, ctx) => {
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

/** "take the dog out (of the picture)", "get the bin out of the shot", "wipe the smudge off": the object sits between verb and particle. */
const PARTICLE_REMOVE = /^(?:take|get|edit|photoshop|rub|wipe|clean|knock)\s+(.+?)\s+(?:out|away|off)\b(?:\s+.*)?$/i;

const remove = family([...REMOVERS], (clause, ctx) => {
  const m = new RegExp(String.raw`^${REMOVE_VERB}\s+(.+)$`, 'i').exec(clause);
  const disappear = /^make\s+(.+?)\s+(?:disappear|vanish|go away)$/i.exec(clause) ?? (m ? null : PARTICLE_REMOVE.exec(clause));
  if (!m && !disappear) return false;
  const object = objectPhrase(disappear ? disappear[1]! : (m![2] ?? m![1]!));
  // With a user mask, "remove this" means the masked region.
  if (IMAGE_ITSELF.test(object) && !ctx.lastObject && !ctx.request.hasMask) throw new Unplannable('removing the whole image leaves nothing to show');
  removeObject(ctx, object);
  return true;
});

const ENV_WORDS =
  /\b(sunset|sunrise|dusk|dawn|golden hour|twilight|night(time)?|midnight|evening|morning|noon|daytime|winter|wintry|snow(y|ing|fall|storm)?|blizzard|rain(y|ing|storm)?|storm(y)?|thunderstorm|lightning|fog(gy)?|mist(y)?|haz(e|y)|overcast|cloudy|sunny|autumn(al)?|fall season|spring(time)?|summer(time)?|frost(y)?|icy|moonlight|moonlit|starry|aurora)\b/i;

const environment = family(['FLUX-ENV'], (clause, ctx) => {
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

const STYLE_WORDS =
  /\b(style|styled|watercolou?r|oil paint(ing)?|painting|sketch|drawing|drawn|cartoon|anime|manga|comic|pixel art|pixelated art|ghibli|van gogh|monet|picasso|impressionis[tm]|cubis[tm]|expressionis[tm]|pop art|ukiyo-?e|mosaic|stained[- ]glass|sepia|vintage|retro|film noir|noir|cyberpunk|steampunk|vaporwave|synthwave|art deco|art nouveau|baroque|renaissance|gothic|minimalis[tm]|low[- ]poly|3d render|claymation|clay|origami|pencil|charcoal|ink|engraving|woodcut|woodblock|blueprint|graffiti|pastel|crayon|lego|neon|psychedelic|surreal(ist)?|pointillis[tm]|illustration|poster|storybook|disney|pixar|lomo|polaroid|negative|posteri[sz]ed?|tilt[- ]shift|hdr)\b/i;
const GREY = /\b(black[- ]and[- ]white|black\s*(?:&|\+|n'?)\s*white|b\s*&\s*w|gr[ae]y ?scale|monochrome|mono|desaturated fully|colou?rless)\b/i;
/** "make it look old": an aged look is a style, though "old" alone ("the old car") describes an object. */
const AGED = /\b(?:look(?:s|ing)?\s+(?:old|older|aged|antique|ancient|weathered|worn|old[- ]fashioned)|antique|old[- ]fashioned|old[- ]timey)\b/i;

const style = family(['GRAYSCALE', 'CMI-PRED', 'FLUX-STYLE', ...KEEPERS], (clause, ctx) => {
  if (!STYLE_WORDS.test(clause) && !GREY.test(clause) && !AGED.test(clause)) return false;
  // "add a vintage car", "remove the neon sign": the style word describes an object.
  if (/^(add|insert|include|put|place|remove|erase|delete|get rid|take|replace|swap|substitute|extract|isolate|cut|segment|select)\b/i.test(clause)) return false;
  // Object-scoped: "make the car look like a watercolour", "paint the sky in Van Gogh style".
  const scoped = /^(?:make|turn|render|paint|draw|convert|transform|restyle|stylize|stylise|change|transfer)\s+(.+?)\s+(?:in|into|to|as|look like|look|like|with)\s+(.+)$/i.exec(clause);
  let object: string | undefined;
  let styleText = clause;
  if (scoped) {
    const o = objectPhrase(scoped[1]!);
    styleText = scoped[2]!;
    if (!IMAGE_ITSELF.test(o) && !/^(the )?(image|picture|photo|photograph|scene|whole|entire|style|it)\b/i.test(o) && !STYLE_WORDS.test(o) && !GREY.test(o)) object = o;
  }
  // "make the two sheep black and white": an object made black and white, with no "in" or "to" between.
  const greyed = scoped ? undefined : new RegExp(String.raw`^(?:make|turn|render|convert|paint)\s+(?!(?:to|into|in)\b)(.+?)\s+(?:in(?:to)?\s+|to\s+)?(${GREY.source})$`, 'i').exec(clause);
  if (greyed) {
    const o = objectPhrase(greyed[1]!);
    styleText = greyed[2]!;
    if (!IMAGE_ITSELF.test(o) && !/^(the )?(image|picture|photo|photograph|scene|whole|entire|it)\b/i.test(o)) object = o;
  }
  if (!STYLE_WORDS.test(styleText) && !GREY.test(styleText) && !AGED.test(`look ${styleText}`)) styleText = clause;
  // "make this black and white" with a mask sent along: the user pointed at the region.
  const pointed =
    ctx.request.hasMask &&
    (/^(?:make|turn|render|paint|draw|convert|transform|restyle|stylize|stylise|change)\s+(?:this|that)\b/i.test(clause) ||
      (scoped && /^(this|that|here|(the )?(selected|selection|masked|marked|highlighted) ?(area|region|part)?)$/i.test(objectPhrase(scoped[1]!))));
  const mask = pointed ? INIT_MASK : object ? segment(ctx, object) : keptOut(ctx);
  // FLUX-STYLE does black and white too, for users who require it or forbid GRAYSCALE.
  const greyByStyle = ctx.request.rules?.some((r) => (r.kind === 'require' && /STYLE/i.test(r.brick)) || (r.kind === 'forbid' && (r.bricks ?? [r.brick]).includes('GRAYSCALE')));
  if (GREY.test(styleText) && !/\bnoir\b/i.test(styleText) && !greyByStyle) {
    ctx.image = out(ctx.draft.add('GRAYSCALE', { image: ctx.image, mask }), 'image');
    ctx.notes.push(`GRAYSCALE makes ${object ? `"${object}"` : 'the image'} black and white.`);
    return true;
  }
  const styleName = AGED.test(clause) ? 'vintage, aged photograph' : styleText
    .replace(/^(?:(?:transfer|convert|turn|change|make|render|restyle|stylize|stylise|redo|recreate|apply|switch|go|do)\s+)?(?:(?:the|this)\s+(?:(?:whole|entire)\s+)?(?:image|picture|photo|scene|thing)|it|everything|all)?\s*/i, '')
    .replace(/^(?:into|to|in|as|look like|like|with|an?|the)\s+/gi, '')
    .replace(/^(?:an?|the)\s+/i, '')
    .replace(/\s+(?:style|look|effect|aesthetic|version|filter)$/i, '')
    .replace(/^(?:the\s+)?style\s+of\s+/i, '')
    .trim();
  const caption = ctx.draft.add('CMI-PRED', { image: ctx.image });
  ctx.image = out(ctx.draft.add('FLUX-STYLE', { image: ctx.image, mask, prompt: out(caption, 'caption'), style: styleName || styleText }), 'image');
  ctx.notes.push(`CMI-PRED captions the image so FLUX-STYLE can redraw it in "${styleName || styleText}" style.`);
  return true;
});

/** Multipliers for "a bit"/"much" qualifiers. */
function degree(text: string): number {
  if (/\b(a tiny bit|tiny|a touch|barely|the slightest|a hint)\b/i.test(text)) return 0.25;
  if (/\b(slightly|a (little )?bit|a little|a tad|subtly|somewhat|gently)\b/i.test(text)) return 0.5;
  if (/\b(much|a lot|significantly|dramatically|way|very|really|considerably|heavily)\b/i.test(text)) return 2;
  return 1;
}

/** "turn down the saturation", "boost the exposure": a direction verb governing a setting's name. */
const UP = String.raw`(?:increase|boost|raise|turn up|crank up|bump up|pump up|push up|add more|more|higher|heighten|intensify|amplify)`;
const DOWN = String.raw`(?:decrease|reduce|lower|turn down|tone down|dial down|dial back|pull back|bring down|drop|less|lessen|soften|mute|weaken)`;
const SETTING_WORDS: ReadonlyArray<readonly ['brightness' | 'contrast' | 'saturation', string]> = [
  ['brightness', 'brightness|exposure|lighting|light'],
  ['contrast', 'contrast'],
  ['saturation', 'saturation|vibrance|vibrancy|colou?r intensity|colou?rs?'],
];

const TONE: ReadonlyArray<{ re: RegExp; port: 'brightness' | 'contrast' | 'saturation'; up: boolean }> = [
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

const tone = family(['ADJUST', 'FLUX-ENV', ...KEEPERS], (clause, ctx) => {
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

const COLOUR_TARGET = /^(a |an )?(lighter|darker|brighter|deeper|paler|richer|warmer|cooler) (shade|tone|colou?r|hue)( of [\w ]+)?$/i;
/** "a bit bluer", "much redder": a colour pushed further is still a recolour target. */
const COMPARATIVE_COLOUR = /^(?:(?:a\s+)?(?:bit|little|lot|tad|touch)\s+|much\s+|slightly\s+|even\s+)*(?:bluer|redder|greener|yellower|pinker|purpler|whiter|blacker|gr[ae]yer|more\s+(?:blue|red|green|yellow|pink|purple|orange))$/i;

function colourTarget(text: string): string | undefined {
  const t = text.replace(/\s+(colou?r|material|finish|texture|look|paint(job)?|tones?|instead|one)$/i, '').replace(/^(a|an|the)\s+/i, '').replace(/[.!]+$/, '').trim();
  if (COMPARATIVE_COLOUR.test(text.trim())) return text.trim().replace(/^(?:(?:a\s+)?(?:bit|little|lot|tad|touch)\s+|much\s+|slightly\s+|even\s+)*/i, '');
  return t && (isColourPhrase(t) || isMaterialPhrase(t) || COLOUR_TARGET.test(t)) ? t : undefined;
}

const recolour = family(['FLUX-RCM', ...SEGMENTERS], (clause, ctx) => {
  let object: string | undefined;
  let target: string | undefined;
  const of = /^(?:change|alter|switch|turn|set|update|modify|adjust|make)\s+(?:the\s+)?(?:surface\s+|body\s+|paint\s+)?(?:colou?r|hue|shade|tone|material|texture|finish|surface(?: texture)?)\s+of\s+(.+?)\s+(?:from\s+.+?\s+)?(?:to|into|as|in)\s+(.+)$/i.exec(clause);
  const attr = /^(?:change|alter|switch|turn|set|update|modify|make|adjust)\s+(.+?)(?:'s?)?\s+(?:colou?r|hue|shade|tone|material|texture|finish)\s+(?:from\s+.+?\s+)?(?:to|into|as|in)\s+(.+)$/i.exec(clause);
  const give = /^give\s+(.+?)\s+(?:an?\s+)?(.+?)\s+(?:colou?r|finish|look|material|texture|paint job)$/i.exec(clause);
  const verb = new RegExp(String.raw`^(${Object.keys(COLOUR_VERBS).join('|')})\s+(?:out\s+)?(.+)$`, 'i').exec(clause);
  if (verb) {
    object = verb[2]!;
    target = COLOUR_VERBS[verb[1]!.toLowerCase()];
  }
  for (const m of [of, attr, give]) {
    if (!target && m && colourTarget(m[2]!)) {
      object = m[1]!;
      target = colourTarget(m[2]!);
      break;
    }
  }
  if (!target) {
    // "make the red car blue", "paint the fence dark green", "change the bunk bed to blue", "turn the vase into gold":
    // the target is the longest tail that reads as a colour or material.
    const v = /^(recolou?r|colou?r|paint|dye|tint|spray|repaint|coat|make|turn|change|convert|transform|render|adjust|switch)\s+(.+)$/i.exec(clause);
    if (!v) return false;
    const bare = /^(recolou?r|colou?r|paint|dye|tint|spray|repaint|coat|make|turn)$/i.test(v[1]!);
    const words = v[2]!.split(' ');
    for (let i = 1; i < words.length && !target; i++) {
      const tail = words.slice(i);
      const link = /^(to|into|in|as|with)$/i.test(tail[0]!) ? 1 : /^(out|made)$/i.test(tail[0]!) && /^of$/i.test(tail[1] ?? '') ? 2 : 0;
      if (!link && !bare) continue;
      // "make the sky pink" is not "the" made "sky pink": the object must keep a noun.
      if (isEmptyPhrase(words.slice(0, i).join(' '))) continue;
      // "black and white" is one colour phrase: a target never starts at its conjunction.
      if (/^(and|or|&)$/i.test(tail[link] ?? '') || /^(and|or|&)$/i.test(words[i - 1]!)) continue;
      const t = colourTarget(tail.slice(link).join(' ').replace(/^from\s+.+?\s+to\s+/i, ''));
      if (t) {
        // "from red to blue" is the old colour; "from the left" says which one.
        object = words.slice(0, i).join(' ').replace(/\s+from\s+(?!the\s+(?:left|right|top|bottom|front|back)\b).+$/i, '');
        target = t;
      }
    }
  }
  if (!object || !target) return false;
  // Black and white is GRAYSCALE's, for an object too.
  if (GREY.test(target)) return false;
  object = objectPhrase(object).replace(/^the the /i, 'the ');
  if (!object || /^(colou?r|background|backdrop|style)$/i.test(object)) return false;
  if (IMAGE_ITSELF.test(object) && GREY.test(target)) return false;
  if (IMAGE_ITSELF.test(object) && !ctx.lastObject && !ctx.request.hasMask) {
    // A hue rotation is not a tint ("make it red" would rotate by 0°, changing nothing), so ask for the object instead.
    throw new Unplannable(`I can't paint the whole image ${target}; name the object to recolour ("make the car ${target}"), or send a mask of the region`);
  }
  const mask = segment(ctx, object);
  ctx.image = out(ctx.draft.add('FLUX-RCM', { image: ctx.image, mask, prompt: target }), 'image');
  ctx.notes.push(`FLUX-RCM changes "${object}" to ${target}.`);
  return true;
});

const POSE_WORDS =
  /\b(raise|raising|lift|lifting|lower|lowering|wave|waving|smile|smiling|frown|frowning|laugh|laughing|cry|crying|wink|winking|look(?:ing)?\s+(?:up|down|left|right|away|at|towards|to|over|slightly|straight|back)|turn(?:ing)?\s+(?:his|her|their|its|the)\s+(?:head|face|body)|tilt|tilting|nod|nodding|sit(?:ting)?\s+down|stand(?:ing)?\s+up|jump(?:ing)?|run(?:ning)?|danc(?:e|ing)|cross(?:ing)?\s+(?:his|her|their)\s+(?:arms|legs)|fold(?:ing)?\s+(?:his|her|their)\s+arms|clap(?:ping)?|point(?:ing)?|kneel(?:ing)?|bend(?:ing)?|close\s+(?:his|her|their|its)\s+eyes|open\s+(?:his|her|their|its)\s+(?:mouth|eyes)|pose|posture|expression|surprised|angry|sad|happy|shrug|yawn|salute|thumbs up|hands? up|arms? up)\b/i;
const BODY = /\b(arm|arms|hand|hands|head|face|leg|legs|eyes|mouth|body|posture|pose|expression|smile|person|man|woman|boy|girl|child|kid|he|she|they|people|dog|cat|animal|bird|horse|figure)\b/i;

/** Verbs whose object a pose word only describes ("remove the child bending over", "add a man waving"). */
const OBJECT_VERB = new RegExp(String.raw`^(?:${REMOVE_VERB}|add|insert|include|introduce|put|place|replace|swap|substitute|exchange|extract|isolate|segment|select|crop)\b`, 'i');

const pose = family(['FLUX-POSE'], (clause, ctx) => {
  if (!POSE_WORDS.test(clause) || !BODY.test(clause) || OBJECT_VERB.test(clause)) return false;
  // "turn her head and raise both hands": one posture change, so one FLUX-POSE with both.
  const last = ctx.draft.nodes.at(-1);
  if (last?.brick === 'FLUX-POSE' && ctx.image.kind === 'step' && ctx.image.step === last.step && last.inputs.prompt?.kind === 'literal') {
    ctx.draft.nodes[ctx.draft.nodes.length - 1] = { ...last, inputs: { ...last.inputs, prompt: { kind: 'literal', value: `${String(last.inputs.prompt.value)} and ${clause}` } } };
    ctx.notes.push(`FLUX-POSE also makes "${clause}".`);
    return true;
  }
  ctx.image = out(ctx.draft.add('FLUX-POSE', { image: ctx.image, prompt: clause }), 'image');
  ctx.notes.push(`FLUX-POSE changes the posture or expression: "${clause}".`);
  return true;
});

const replace = family(['BBOX', 'FLUX-FILL', ...SEGMENTERS], (clause, ctx) => {
  const m =
    /^(?:replace|swap|substitute|exchange|switch)\s+(.+?)\s+(?:with|by|for|to|into)\s+(.+)$/i.exec(clause) ??
    /^(?:change|turn|transform|convert|morph|make)\s+(.+?)\s+(?:in)?to\s+(?:be\s+)?(.+)$/i.exec(clause) ??
    /^(?:change|turn|transform|convert|morph)\s+(.+?)\s+into\s+(.+)$/i.exec(clause) ??
    /^(?:make)\s+(.+?)\s+(?:into|a|an)\s+(.+)$/i.exec(clause);
  if (!m) return false;
  const object = objectPhrase(m[1]!);
  // "replace the sky with a stormy one": the one is a sky.
  const prompt = resolveOne(objectPhrase(m[2]!.replace(/^(be\s+)/i, '')), object);
  if (!object || !prompt || IMAGE_ITSELF.test(object) && !ctx.lastObject) return false;
  const mask = segment(ctx, object);
  const region = ctx.variant.bbox ? out(ctx.draft.add('BBOX', { mask }), 'mask') : mask;
  ctx.image = out(ctx.draft.add('FLUX-FILL', { image: ctx.image, mask: region, prompt }), 'image');
  ctx.notes.push(`FLUX-FILL draws "${prompt}" where "${object}" was${ctx.variant.bbox ? ' (BBOX gives it room)' : ''}.`);
  return true;
});

/** "this", "it", "the hat from the second photo": the object of the user's second photo. */
const REFERENCE_OBJECT =
  /^(?:(?:the |a |an )?([a-z]+(?: [a-z]+){0,2}) (?:from|in|of|on) (?:the |my )?(?:second|other|2nd|next|attached|last) (?:photo|image|picture|pic)|(?:this|that|these|those) (?!(?:on|in|at|to|into|onto|next|near|beside|behind|above|below|under|over|between|by|left|right|here|there)\b)([a-z]+)|this|that|it|these|those|them|the (?:object|thing|item))\b\s*/i;

/** Verbs that, with a second photo, mean "put that object in"; draw, paint and generate still mean drawing. */
const PLACING_VERBS = new Set(['add', 'insert', 'include', 'put', 'place', 'attach', 'stick', 'paste']);

/** The bricks `pasteReference` may add. */
const PASTERS = ['ADD-PRED', 'PASTE'] as const;

/** ADD-PRED finds where; PASTE puts the object of the user's second photo there. */
function pasteReference(what: string, ctx: Ctx): void {
  const ref = REFERENCE_OBJECT.exec(what);
  const prompt = objectPhrase(ref ? `${ref[1] ?? ref[2] ?? 'object'} ${what.slice(ref[0].length)}` : what, 24);
  const predicted = ctx.draft.add('ADD-PRED', { image: ctx.image, prompt, mask: ctx.request.hasMask ? INIT_MASK : undefined });
  ctx.image = out(ctx.draft.add('PASTE', { image: ctx.image, reference: INIT_REFERENCE, mask: out(predicted, 'mask') }), 'image');
  const hint = location(what);
  ctx.notes.push(`ADD-PRED places "${prompt}"${hint ? ` (${hint})` : ''}; PASTE puts the object of your second photo there.`);
}

const add = family(['ADD-PRED', 'FLUX-FILL', ...PASTERS], (clause, ctx) => {
  const m = /^(?:add|insert|include|introduce|draw|paint|put|place|attach|stick|generate|create|give|paste)\s+(.+)$/i.exec(clause);
  if (!m) return false;
  let what = m[1]!.trim();
  const verb = clause.split(' ')[0]!.toLowerCase();
  if (ctx.request.hasReference && PLACING_VERBS.has(verb)) {
    pasteReference(what, ctx);
    return true;
  }
  // "give the dog a hat" → "a hat on the dog".
  const give = verb === 'give' ? /^(.+?)\s+((?:a|an|some|two|three)\s+.+|[a-z]+s)$/i.exec(what) : null;
  if (verb === 'give' && !give) return false;
  if (give) what = `${give[2]} on ${give[1]}`;
  if (/^(put|place|paint|draw|create|generate)$/.test(verb) && !/^(a|an|some|one|two|three|four|five|several|many|more|few|another|the words?|text)\b/i.test(what)) return false;
  const full = objectPhrase(what, 24);
  const objectOnly = full.replace(/\s+(?:on|to|at|in|into|onto|near|next to|beside|behind|in front of|above|below|under|over|along|across|inside|outside|around|between|by|floating|sitting|standing|lying|leaning|parked|flying|swimming|walking|running|hanging|perched|grazing)\b.*$/i, '').trim();
  const hint = location(what);
  const predicted = ctx.draft.add('ADD-PRED', { image: ctx.image, prompt: full, mask: ctx.request.hasMask ? INIT_MASK : undefined });
  ctx.image = out(ctx.draft.add('FLUX-FILL', { image: ctx.image, mask: out(predicted, 'mask'), prompt: objectOnly || full }), 'image');
  ctx.notes.push(`ADD-PRED places "${full}"${hint ? ` (${hint})` : ''}; FLUX-FILL draws "${objectOnly || full}" there.`);
  return true;
});

/** How much to scale one object: what the text states ("by 20%" is a change, "50%" a size), else half as big again or two thirds the size. */
function objectRatio(text: string, grow: boolean): number {
  let ratio = statedRatio(text);
  const change = /\bby\s+\d+(?:\.\d+)?\s*(?:%|percent)|\d+(?:\.\d+)?\s*(?:%|percent)\s*(?:smaller|larger|bigger|tinier)/i.test(text);
  if (ratio !== undefined && change && ratio < 1) ratio = grow ? 1 + ratio : 1 - ratio;
  // "2x smaller": a factor said the growing way round.
  if (ratio !== undefined && !grow && ratio > 1) ratio = 1 / ratio;
  ratio ??= grow ? 1.5 : 2 / 3;
  return Math.min(8, Math.max(0.01, Number(ratio.toFixed(3))));
}

/**
 * "make the dog smaller": RESIZE moves the object's mask to its new size about
 * its bottom centre (it stays standing where it stood), the old place is filled
 * from its surroundings, and PASTE puts the object, cut out of the image by its
 * mask, into the new region.
 */
function resizeObject(ctx: Ctx, object: string, ratio: number): void {
  const mask = segment(ctx, object);
  const source = ctx.image;
  const resized = out(ctx.draft.add('RESIZE', { mask, ratio }), 'mask');
  removeRegion(ctx, mask);
  ctx.image = out(ctx.draft.add('PASTE', { image: ctx.image, reference: source, mask: resized, cutout: mask }), 'image');
  ctx.notes.push(`RESIZE scales the mask of "${object}" by ${ratio} about its bottom centre; PASTE puts "${object}" there at that size.`);
}

const geometry = family(['ROTATE', 'FLIP', 'CROP', 'SCALE', 'RESIZE', 'PASTE', ...REMOVERS], (clause, ctx) => {
  const { width, height } = ctx.request.image;
  const wholeImage = (t: string): boolean => !t.trim() || /^(it|the (whole |entire )?(image|picture|photo|photograph|canvas|pic)|this( (image|photo|picture))?|everything)$/i.test(t.trim());
  let m = /^(?:rotate|turn|spin|tilt)\s*(.*?)\s*(?:by\s+)?(-?\d+(?:\.\d+)?)\s*(?:°|degrees?|deg)\s*(clockwise|cw|counter-?clockwise|anti-?clockwise|ccw|to the left|to the right|left|right)?/i.exec(clause);
  if (m && wholeImage(m[1]!)) {
    const ccw = /counter|anti|ccw|left/i.test(m[3] ?? '');
    ctx.image = out(ctx.draft.add('ROTATE', { image: ctx.image, angle: (ccw ? -1 : 1) * Number(m[2]) }), 'image');
    return true;
  }
  m = /^(?:rotate|turn)\s*(.*?)\s*(upside down|(?:90 )?(?:to the )?(?:left|right)|clockwise|counter-?clockwise|anti-?clockwise|sideways|a quarter turn|half a turn|180)$/i.exec(clause);
  if (m && wholeImage(m[1]!)) {
    const dir = m[2]!.toLowerCase();
    const angle = /upside|half|180/.test(dir) ? 180 : /left|counter|anti/.test(dir) ? -90 : 90;
    ctx.image = out(ctx.draft.add('ROTATE', { image: ctx.image, angle }), 'image');
    return true;
  }
  m = /^(?:flip|mirror|reflect)\s*(.*?)\s*(horizontally|vertically|upside down|left[- ]to[- ]right|top[- ]to[- ]bottom|side[- ]to[- ]side)?$/i.exec(clause);
  if (m && wholeImage(m[1]!.replace(/\b(horizontally|vertically)\b/i, ''))) {
    const vertical = /vertical|upside|top/i.test(`${m[2] ?? ''} ${m[1]}`);
    ctx.image = out(ctx.draft.add('FLIP', { image: ctx.image, direction: vertical ? 'vertical' : 'horizontal' }), 'image');
    return true;
  }
  m = /^(?:crop|trim|cut)\s*(.*)$/i.exec(clause);
  if (m && !/^(out|away)\b/i.test(m[1]!)) {
    const rest = m[1]!;
    const aspect = statedAspect(rest);
    const sides: Record<string, number> = {};
    const pct = statedRatio(rest);
    const half = /\b(left|right|top|bottom|upper|lower) half\b/i.exec(rest);
    if (half) {
      const keep = half[1]!.toLowerCase().replace('upper', 'top').replace('lower', 'bottom');
      const opposite: Record<string, string> = { left: 'right', right: 'left', top: 'bottom', bottom: 'top' };
      // "crop the left half" keeps it; "crop off/out/away the left half" removes it.
      sides[/\b(off|away|remove)\b/i.test(rest) ? keep : opposite[keep]!] = 0.5;
    } else if (pct !== undefined && pct < 1) {
      const named = [...rest.matchAll(/\b(left|right|top|bottom)\b/gi)].map((x) => x[1]!.toLowerCase());
      for (const s of named.length ? named : ['left', 'right', 'top', 'bottom']) sides[s] = Number(pct.toFixed(3));
    }
    const toObject = /\b(?:to|around|on)\s+(?:just\s+)?(the\s+(?!edges?|sides?|centre|center|middle)[a-z][\w\s'-]*)$/i.exec(rest);
    const mask = toObject && !aspect && !statedRatio(toObject[1]!) ? segment(ctx, objectPhrase(toObject[1]!)) : undefined;
    if (!aspect && !mask && Object.keys(sides).length === 0) {
      if (/\b(tighter|in|closer|a bit|slightly|edges?|borders?)\b/i.test(rest) || rest === '' || wholeImage(rest)) Object.assign(sides, { left: 0.1, right: 0.1, top: 0.1, bottom: 0.1 });
      else throw new Unplannable(`I can't tell how to crop "${rest}"; say e.g. "crop to a square", "crop 10% off each side" or "crop to the dog"`);
    }
    ctx.image = out(ctx.draft.add('CROP', { image: ctx.image, ...sides, aspect, mask }), 'image');
    return true;
  }
  // "increase the size of the kangaroo", "adjust the size of the vase to be larger".
  m = /^(increase|enlarge|reduce|decrease|adjust|change)\s+the size(?:\s+of\s+(.+?))?(?:\s+(?:to be|so (?:it|that it) is|to make (?:it|them))?\s*((?:by\s+)?(?:\d+(?:\.\d+)?\s*(?:%|x\b|×|times|percent)\s*)?(?:larger|bigger|smaller)?))?$/i.exec(clause);
  if (m) {
    const grow = /increase|enlarge/i.test(m[1]!) || /larger|bigger/i.test(m[3] ?? '');
    const shrink = /reduce|decrease/i.test(m[1]!) || /smaller/i.test(m[3] ?? '');
    const object = objectPhrase(m[2] ?? 'it');
    if (grow === shrink || isEmptyPhrase(object)) return false;
    if (wholeImage(m[2] ?? '')) {
      ctx.image = out(ctx.draft.add('SCALE', { image: ctx.image, ratio: statedRatio(m[3] ?? '') ?? (grow ? 2 : 0.5) }), 'image');
      return true;
    }
    resizeObject(ctx, object, objectRatio(m[3] ?? '', grow));
    return true;
  }
  m = /^(?:resize|scale|rescale|upscale|downscale|upsample|downsample|shrink|enlarge|make)\s*(.*)$/i.exec(clause);
  if (m) {
    const rest = m[1]!;
    const verb = clause.split(' ')[0]!.toLowerCase();
    const target = rest.replace(/\d+(?:\.\d+)?\s*(?:%|x\b|×|px\b|pixels\b|percent\b)/gi, ' ').replace(/\b(to|by|up|down|be|the size|size|a factor of|times|as big|as large|bigger|smaller|larger|wide|tall|high|pixels?|px|\d+(\.\d+)?%?|x|twice|half|double|percent|per cent|width|height|of)\b/gi, '').trim();
    const isWhole = wholeImage(target) || /^(image|picture|photo)$/i.test(target);
    if (verb === 'make' && isWhole && !/\b(bigger|smaller|larger|twice|half|double|\d+\s*(px|pixels)|resolution)\b|\d\s*%/i.test(rest)) return false;
    if (!isWhole) {
      // "make the cat twice as fluffy" is not about size: after "make", only a comparative of size is.
      if (verb === 'make' && !/\b(bigger|smaller|larger|tinier)\b/i.test(rest)) return false;
      if (!/^(resize|scale|rescale|shrink|enlarge|make)$/.test(verb)) return false;
      const object = objectPhrase(target);
      if (isEmptyPhrase(object)) return false;
      resizeObject(ctx, object, objectRatio(rest, !/shrink|smaller|tinier|shorter|down/i.test(`${verb} ${rest}`)));
      return true;
    }
    let ratio = statedRatio(rest);
    const px = /(\d{2,5})\s*(?:px|pixels)?\s*(wide|width|tall|high|height)?/i.exec(rest);
    if (ratio === undefined && px && (px[2] || /px|pixels/i.test(rest))) ratio = Number(px[1]) / (/tall|high|height/i.test(px[2] ?? '') ? height : width);
    if (ratio === undefined) ratio = /upscale|enlarge|bigger|larger|up\b/i.test(`${verb} ${rest}`) ? 2 : /downscale|shrink|smaller|down\b/i.test(`${verb} ${rest}`) ? 0.5 : undefined;
    if (ratio === undefined) throw new Unplannable('say how much to resize, e.g. "resize to 50%" or "resize to 800 pixels wide"');
    if (/\b(by|up by|down by)\s+\d+\s*%|\d+\s*%\s*(smaller|larger|bigger)/i.test(rest) && ratio < 1) ratio = /down|shrink|smaller|reduce/i.test(`${verb} ${rest}`) ? 1 - ratio : 1 + ratio;
    ratio = Math.min(8, Math.max(0.01, Number(ratio.toFixed(4))));
    ctx.image = out(ctx.draft.add('SCALE', { image: ctx.image, ratio }), 'image');
    return true;
  }
  // "zoom in 2x": the same canvas, the picture magnified about its centre (RESIZE of a plain image).
  m = /^zoom(?: in(?:to)?)?\s*(.*)$/i.exec(clause);
  if (m && !/^out\b/i.test(m[1]!)) {
    const rest = m[1]!.replace(/\b(on|by|to|a factor of)\b/gi, ' ');
    const ratio = statedRatio(rest) ?? 2;
    if (!wholeImage(rest.replace(/\d+(?:\.\d+)?\s*(?:%|x\b|×|times)|\b(twice|double)\b/gi, '').trim())) return false;
    ctx.image = out(ctx.draft.add('RESIZE', { image: ctx.image, ratio: Math.min(8, Math.max(1, ratio)) }), 'image');
    return true;
  }
  return false;
});

/** The bricks `outpaintBy` may add. */
const OUTPAINTERS = ['CMI-PRED', 'FLUX-FILL'] as const;

const outpaint = family([...OUTPAINTERS], (clause, ctx) => {
  const anywhere = /\b(outpaint(?:ing)?|uncrop)\b/i.test(clause) ? /^(?:.*?)(?:by\s+)?(?:outpaint(?:ing)?|uncrop(?:ping)?)\b\s*(.*)$/i.exec(clause.replace(/^make it\s+/i, '')) : null;
  if (anywhere) {
    const ratioText = clause;
    return outpaintBy(ctx, ratioText);
  }
  const m = /^(?:expand|extend|outpaint|uncrop|widen|zoom out|broaden|enlarge the canvas|add (?:more )?(?:space|room|canvas)|show more|make (?:it|the image|the picture|the photo) (?:wider|taller))\b\s*(.*)$/i.exec(clause);
  if (!m) return false;
  const rest = m[1]!;
  if (rest && !/^(?:(?:the|this)\s+)?(?:image|picture|photo|canvas|scene|view|frame|it|by|to|on|at|in|from|left|right|top|bottom|horizontally|vertically|sides?|all|both|\d)/i.test(rest) && !/wider|taller/i.test(clause)) return false;
  return outpaintBy(ctx, clause.includes(rest) ? rest || clause : clause);
});

function outpaintBy(ctx: Ctx, rest: string): boolean {
  const clause = rest;
  const { width, height } = ctx.request.image;
  const stated = statedRatio(rest);
  const aspect = statedAspect(rest);
  /** Each side's multiplier, as CMI-PRED reads it: 1 keeps the side. */
  const r = { left: 1, right: 1, top: 1, bottom: 1 };
  if (aspect) {
    const current = width / height;
    if (aspect > current) r.left = r.right = 1 + (aspect * height - width) / width / 2;
    else r.top = r.bottom = 1 + (width / aspect - height) / height / 2;
  } else {
    const named = [...rest.matchAll(/\b(left|right|top|bottom|up|down|above|below)\b/gi)].map((x) => x[1]!.toLowerCase().replace(/^(up|above)$/, 'top').replace(/^(down|below)$/, 'bottom'));
    const sides = /wider|horizontal|sideways|sides|both sides/i.test(clause) ? ['left', 'right'] : /taller|vertical/i.test(clause) ? ['top', 'bottom'] : named.length ? named : ['left', 'right', 'top', 'bottom'];
    const grown = new Set(sides);
    // "2x", "twice": the picture (or the sides named) reaches that many times its size, shared by the two sides of an axis;
    // "by 30%" (or nothing said: 25%) adds that fraction on each side named.
    const factor = stated !== undefined && /\d\s*(x|×|times)\b|\b(twice|double)\b/i.test(rest) ? Math.min(5, stated) : undefined;
    for (const s of sides) {
      const across = s === 'left' || s === 'right' ? ['left', 'right'] : ['top', 'bottom'];
      const shared = across.every((t) => grown.has(t));
      r[s as keyof typeof r] = factor !== undefined ? (shared ? 1 + (factor - 1) / 2 : factor) : 1 + Math.min(4, stated ?? 0.25);
    }
  }
  const setup = ctx.draft.add('CMI-PRED', { image: ctx.image, ...ratioInputs(r) });
  ctx.image = out(ctx.draft.add('FLUX-FILL', { image: out(setup, 'image'), mask: out(setup, 'mask'), prompt: out(setup, 'caption') }), 'image');
  ctx.notes.push(`CMI-PRED sets up the wider canvas and a caption; FLUX-FILL paints the new area.`);
  return true;
}

/**
 * The generic route: a brick whose declaration matches the instruction, wired
 * from its ports (the image, a segmented object for a required mask, the clause
 * for a required text, numbers from the instruction for Float settings).
 */
function viaSearch(clause: string, ctx: Ctx, why: string, only: (brick: AnyBrick) => boolean, accept: (m: FallbackMatch) => boolean): boolean {
  // The clause's leading verb ("adjust the hair…") says nothing about which brick: match on the rest.
  const body = clause.replace(/^(adjust|change|make|turn|apply|edit|fix|modify|alter|set|update|improve|enhance|do)\s+/i, '');
  for (const match of searchBricks(body, ctx.registry, only)) {
    if (match.score < 2) break;
    const { brick } = match;
    if (!accept(match) || !canWire(brick) || brick.kind === 'predict' || !Object.values(brick.outputs).some((o) => o.type === 'Image')) continue;
    const floats = floatInputs(brick, clause);
    // A Float it needs that the instruction does not give, or a brick that only changes settings and was given none.
    if (!floats || (needsSettings(brick) && Object.keys(floats).length === 0)) continue;
    const inputs: Record<string, InputValue> = { ...floats };
    for (const [name, spec] of Object.entries(brick.inputs)) {
      if (spec.type === 'Image' && !spec.optional) inputs[name] = ctx.image;
      else if (spec.type === 'Str' && !spec.optional && spec.default === undefined) inputs[name] = clause;
      else if (spec.type === 'Mask' && !spec.optional) {
        const object = /\b(the|a|an)\s+([a-z][\w\s'-]*)$/i.exec(clause);
        inputs[name] = segment(ctx, object ? objectPhrase(object[0]) : 'the main subject');
      }
    }
    const step = ctx.draft.add(brick.name, inputs);
    const outName = Object.entries(brick.outputs).find(([, o]) => o.type === 'Image')![0];
    ctx.image = out(step, outName);
    ctx.notes.push(`${why}${brick.name} ("${brick.description}") matches on ${match.matched.join(', ')}.`);
    return true;
  }
  return false;
}

const namedBrick = family('any', (clause, ctx) =>
  viaSearch(clause, ctx, 'The instruction names a brick no built-in family plans: ', (b) => !PLANNED_BY_FAMILIES.has(b.name), (m) => m.byName.length > 0),
);

const search = family('any', (clause, ctx) => viaSearch(clause, ctx, 'No instruction family matched; ', () => true, () => true));

const FAMILIES: ReadonlyArray<[string, Family]> = [
  ['a brick named for it', namedBrick],
  ['background', background],
  ['extract', extract],
  ['text removal', removeText],
  ['blur', blurFaces],
  ['outpaint', outpaint],
  ['geometry', geometry],
  ['environment', environment],
  ['recolour', recolour],
  ['style', style],
  ['tone', tone],
  ['pose', pose],
  ['remove', remove],
  ['add', add],
  ['replace', replace],
  ['search', search],
];

/**
 * Bricks the families plan, from their declarations. Any other brick was
 * registered for a job they do not know, so when the instruction names it
 * ("upscale" → UPSCALER) it is tried first, before a family's generic
 * stand-in (SCALE).
 */
export const PLANNED_BY_FAMILIES: ReadonlySet<string> = new Set(FAMILIES.flatMap(([, f]) => (f.plans === 'any' ? [] : f.plans)));

export const OFFLINE_SUGGESTIONS = [
  '"remove the car"',
  '"change the car colour to light blue"',
  '"replace the left sheep with a dog"',
  '"add a red balloon on the left"',
  '"make the background white" or "blur the background"',
  '"make it look like a pencil sketch"',
  '"make it brighter" or "make it sunset"',
  '"remove the watermark"',
  '"blur everyone\'s face"',
  '"crop to a square", "rotate 90 degrees", "flip horizontally"',
  '"extract the dog"',
  '"expand the image by 25% on the left"',
];

// ---------------------------------------------------------------------------

/** Families whose edits change the whole picture and cannot leave an object out of it. */
const WHOLE_PICTURE_FAMILIES: ReadonlySet<string> = new Set(['environment', 'geometry', 'outpaint', 'pose']);

/** The refusal for a clause no family reads: what it could not tell, and what it can do. */
function unrecognised(clause: string): string {
  return `I can't tell what edit "${clause}" asks for; I can remove, recolour, replace or add objects, change the background, style or tone, and crop, rotate or flip the photo`;
}

/** A family that adds a brick it does not declare is a bug in this file: fail loudly rather than plan around the declaration. */
function undeclared(name: string, f: Family, added: readonly WorkflowNode[]): void {
  if (f.plans === 'any') return;
  const stray = added.find((n) => !f.plans.includes(n.brick));
  if (stray) throw new Error(`the ${name} family added ${stray.brick}, which it does not declare in its plans`);
}

/** Segmenters in the order the planner prefers them: the user's own mask first, then RES by name, then the salient object. */
function segmenterOrder(hasMask: boolean): Segmenter[] {
  return hasMask ? ['MASK-SEG', 'RES', 'SOS'] : ['RES', 'SOS'];
}

function variants(order: readonly Segmenter[]): Variant[] {
  const out: Variant[] = [];
  for (const segmenter of order) for (const refine of [true, false]) for (const bbox of [true, false]) out.push({ segmenter, refine, bbox, overrides: new Map() });
  return out;
}

/** The last object this conversation segmented, for "it" in a follow-up. */
function lastObjectOf(history: readonly PriorTurn[] | undefined): string | undefined {
  for (const turn of [...(history ?? [])].reverse()) {
    const res = turn.workflow?.nodes.filter((n) => n.brick === 'RES').at(-1);
    const prompt = res?.inputs.prompt;
    if (prompt?.kind === 'literal' && typeof prompt.value === 'string') return prompt.value;
  }
  return undefined;
}

interface Candidate {
  readonly workflow: Workflow;
  readonly notes: readonly string[];
  readonly variantIndex: number;
  readonly segmenterRank: number;
}

/** Why a drafted workflow cannot be accepted, and which steps cause it. */
interface Obstacle {
  readonly steps: readonly number[];
  /** Opens the note when a substitute gets round it: 'Because of your rule "…"'. */
  readonly because: string;
  /** Ends the refusal when nothing gets round it: 'break your rule "…"'. */
  readonly blocks: string;
}

/** The bricks a plan must do without, with why ("it needs a GPU host"): a run-time repair's exclusions. */
export type Exclusions = ReadonlyMap<string, string>;

export interface OfflineBuilderOptions {
  /** The registry to plan over (default: a registry of the built-in bricks is expected to be passed by the runtime). */
  readonly registry: BrickRegistry;
}

export class OfflineBuilder implements Builder {
  readonly name = 'offline';
  readonly #registry: BrickRegistry;

  constructor(options: OfflineBuilderOptions | BrickRegistry) {
    this.#registry = options instanceof BrickRegistry ? options : options.registry;
  }

  async plan(request: PlanRequest): Promise<Plan> {
    const started = performance.now();
    if (request.revise) {
      const revised = reviseWorkflow(request, this.#registry, (instruction) => this.#planFresh({ ...request, instruction, revise: undefined }));
      return { ...revised, builder: this.name, latencyMs: performance.now() - started, attempts: [{ workflow: revised.workflow, problems: [] }] };
    }
    const fresh = this.#planFresh(request);
    return { ...fresh, builder: this.name, latencyMs: performance.now() - started, attempts: [{ workflow: fresh.workflow, problems: [] }] };
  }

  /**
   * A plan that avoids what made `failed` fail at run time (see `Builder.repairAfterFailure`
   * for the contract): after an empty mask, the revision "try again" would make (RES asks for
   * the head noun, then SOS takes the salient object); after a brick that could not run
   * (needs-gpu-host, brick-unavailable, unknown-brick, bad input), the instruction planned
   * again without that brick. Throws PlanRefusedError, saying why, when nothing else is left.
   */
  async repairAfterFailure(request: PlanRequest, failed: PriorTurn): Promise<Plan> {
    const started = performance.now();
    const base = { ...request, revise: undefined };
    const repaired = repairWorkflow(base, failed, this.#registry, (exclude) => this.#planFresh({ ...base, instruction: failed.instruction || request.instruction }, exclude));
    return { workflow: repaired.workflow, reasoning: repaired.reasoning, builder: this.name, latencyMs: performance.now() - started, attempts: [{ workflow: repaired.workflow, problems: [] }] };
  }

  /** Plans an instruction from scratch, without the bricks in `exclude`; throws PlanRefusedError when it cannot. */
  #planFresh(request: PlanRequest, exclude: Exclusions = new Map()): { workflow: Workflow; reasoning: string } {
    const instruction = request.instruction.trim();
    if (!instruction.replace(/[\p{P}\s]/gu, '')) throw new PlanRefusedError('There is no instruction to plan.', OFFLINE_SUGGESTIONS.slice(0, 4));
    const understood = understand(instruction);
    if (understood.refusal) throw new PlanRefusedError(understood.refusal);
    if (understood.keepOnly) {
      throw new PlanRefusedError(`That says what to leave alone ("${understood.keepOnly}") but not what to change; say what to do with the rest, e.g. "brighten everything except ${understood.keepOnly}".`);
    }
    const clauses: EditClause[] = understood.clauses
      .map((c) => ({ ...c, text: c.text.replace(/\s+(?:in|of|from|within)\s+(?:the|this)\s+(?:image|picture|photo|photograph|pic)\b/gi, '') }))
      .filter((c) => c.text);
    if (clauses.length === 0) throw new PlanRefusedError('There is no instruction to plan.', OFFLINE_SUGGESTIONS.slice(0, 4));
    const rules = request.rules ?? [];
    const catalogue: BrickInfo[] = this.#registry.list();
    const provided = providedInputs(request);
    const order = segmenterOrder(Boolean(request.hasMask));
    const candidates: Candidate[] = [];
    const seen = new Set<string>();
    const refusals: string[] = [];
    const blocked = new Set<string>();

    /** What keeps a drafted workflow out: the user's rules, and the bricks it must do without. */
    const obstacles = (workflow: Workflow): Obstacle[] => [
      ...ruleViolations(workflow, rules, catalogue).map((v) => ({ steps: v.steps, because: `Because of your rule "${v.rule.text}"`, blocks: `break your rule "${v.rule.text}"` })),
      ...workflow.nodes
        .filter((n) => exclude.has(n.brick))
        .map((n) => ({ steps: [n.step], because: `Because ${n.brick} cannot run here`, blocks: `need ${n.brick}, which ${exclude.get(n.brick)}` })),
    ];

    variants(order).forEach((base, variantIndex) => {
      let variant = base;
      // A rule broken by one object's segmenter re-routes that object alone, trying each segmenter once.
      for (let round = 0; round < 12; round++) {
        const drafted = this.#draft(clauses, variant, request, understood.topic);
        if (typeof drafted === 'string') {
          refusals.push(drafted);
          return;
        }
        const { workflow, ctx } = drafted;
        if (!validateWorkflow(workflow, this.#registry, { provided }).ok) return; // a variant that needs something absent (e.g. a user mask)
        const found = obstacles(workflow);
        if (found.length === 0) {
          const key = serialiseWorkflow(workflow, 0);
          if (seen.has(key)) return;
          seen.add(key);
          const segmenterRank = ctx.segments.reduce((sum, x) => sum + order.indexOf(x.segmenter), 0);
          candidates.push({ workflow, notes: [...ctx.forced, ...ctx.notes], variantIndex, segmenterRank });
          return;
        }
        const overrides = new Map(variant.overrides);
        for (const o of found) {
          for (const step of o.steps) {
            const index = ctx.segments.findIndex((x) => x.step === step);
            if (index < 0 || overrides.get(index) !== variant.overrides.get(index)) continue;
            const ruledOut = [...(variant.overrides.get(index)?.ruledOut ?? []), ctx.segments[index]!.segmenter];
            const next = order.find((x) => !ruledOut.includes(x) && !(x === 'RES' && ctx.segments[index]!.vague));
            if (next) overrides.set(index, { segmenter: next, ruledOut, because: o.because });
          }
        }
        if (overrides.size === variant.overrides.size && [...overrides].every(([k, v]) => variant.overrides.get(k) === v)) {
          for (const o of found) blocked.add(o.blocks);
          return;
        }
        variant = { ...variant, overrides };
      }
    });

    if (candidates.length === 0) {
      if (blocked.size > 0) {
        const advice = rules.length && [...blocked].some((b) => b.startsWith('break your rule')) ? ' Remove the rule or ask for something else.' : '';
        throw new PlanRefusedError(`Every way I know to do "${request.instruction.trim()}" would ${[...blocked].join(' or ')}.${advice}`);
      }
      const reason = [...new Set(refusals)][0] ?? unrecognised(instruction);
      throw new PlanRefusedError(`I can't plan that without a planning model: ${reason}.`, OFFLINE_SUGGESTIONS.slice(0, 6));
    }
    const best = this.#choose(candidates, rules, request.available, catalogue);
    const keeps = rules.length ? ` It keeps your rules: ${rules.map((r) => `"${r.text}"`).join(', ')}.` : '';
    return { workflow: best.workflow, reasoning: `${best.notes.filter((n) => !n.startsWith('(')).join(' ')}${keeps}`.trim() };
  }

  /** One variant's workflow for the clauses, each planned on the previous one's result; a string says why it cannot be planned. */
  #draft(clauses: readonly EditClause[], variant: Variant, request: PlanRequest, topic?: string): { workflow: Workflow; ctx: Ctx } | string {
    const draft = new Draft(this.#registry);
    const ctx: Ctx = { draft, variant, request, registry: this.#registry, image: INIT_IMAGE, lastObject: lastObjectOf(request.history), notes: [], forced: [], segments: [], ...(topic ? { topic } : {}) };
    for (const { text: clause, keep } of clauses) {
      let planned = false;
      try {
        for (const [family, plan] of FAMILIES) {
          const before = { nodes: draft.nodes.length, segments: ctx.segments.length, forced: ctx.forced.length, lastObject: ctx.lastObject };
          Object.assign(ctx, { keep, keepUsed: false, keepRegion: undefined });
          if (plan(clause, ctx)) {
            undeclared(family, plan, draft.nodes.slice(before.nodes));
            // What to leave alone matters only to an edit of the whole picture; one that cannot leave it out says so.
            if (keep && !ctx.keepUsed && WHOLE_PICTURE_FAMILIES.has(family)) {
              throw new Unplannable(`I can't leave "${keep}" out of that edit here; I can keep it out of black and white, tone, blur, style and background changes`);
            }
            planned = true;
            ctx.notes.push(`("${clause}" read as ${family}${keep ? `, keeping "${keep}"` : ''}.)`);
            break;
          }
          // A family that started drafting and then declined leaves nothing behind.
          draft.nodes.length = before.nodes;
          ctx.segments.length = before.segments;
          ctx.forced.length = before.forced;
          ctx.lastObject = before.lastObject;
        }
      } catch (err) {
        if (!(err instanceof Unplannable)) throw err;
        return `"${clause}": ${err.message}`;
      }
      if (!planned) return unrecognised(clause);
    }
    return { workflow: draft.workflow(ctx.results ?? [ctx.image], request.instruction.trim()), ctx };
  }

  /** The user's preferences first, then the usual segmenter, then what can run here, then the fuller plan. */
  #choose(candidates: Candidate[], rules: readonly Rule[], available: ReadonlySet<string>, catalogue: readonly BrickInfo[]): Candidate {
    const prefer = rules.filter((r) => r.kind === 'prefer');
    const preference = (wf: Workflow): number => {
      let score = 0;
      for (const r of prefer) {
        const names = new Set(r.bricks?.length ? r.bricks : [r.brick]);
        const peers = new Set(purposesOf([...names], catalogue).flatMap((p) => bricksForPurpose(p, catalogue)));
        for (const n of wf.nodes) {
          if (names.has(n.brick)) score += 1;
          else if (peers.has(n.brick)) score -= 1;
        }
      }
      return score;
    };
    const missing = (wf: Workflow): number => wf.nodes.filter((n) => !available.has(n.brick)).length;
    return [...candidates].sort(
      (a, b) => preference(b.workflow) - preference(a.workflow) || a.segmenterRank - b.segmenterRank || missing(a.workflow) - missing(b.workflow) || a.variantIndex - b.variantIndex,
    )[0]!;
  }
}
