/** What every instruction family shares: the planning context, the family declaration, and the building blocks (segmenting an object, keeping one out of an edit, removing one) with the words several families read. */
import type { BrickRegistry } from '../../engine/registry.ts';
import type { Source } from '../../engine/workflow/types.ts';
import type { PlanRequest } from '../builder.ts';
import type { Draft} from '../draft.ts';
import { INIT_MASK, out } from '../draft.ts';
import { resolveReference } from '../english/index.ts';
import { isEmptyPhrase, isPronoun } from '../language.ts';

/** How a named object is found: RES by its name, the most salient object, or the user's rough mask refined. */
export type Segmenter = 'RES' | 'SOS' | 'MASK-SEG';

/** A segmenter used for one object instead of the variant's, because a rule (or a brick that cannot run) ruled the others out. */
export interface Override {
  readonly segmenter: Segmenter;
  readonly ruledOut: readonly Segmenter[];
  /** "Because of your rule "…"": the start of the note the user reads. */
  readonly because: string;
}

/** What a plan variant chooses where the catalogue offers a choice. */
export interface Variant {
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
export interface Segmented {
  readonly step: number;
  readonly object: string;
  readonly segmenter: Segmenter;
  /** A pronoun or "the main subject": RES cannot look for it by name. */
  readonly vague: boolean;
}

/** A clause the planner understood but cannot carry out with these bricks. */
export class Unplannable extends Error {}

export interface Ctx {
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
export type Planner = (clause: string, ctx: Ctx) => boolean;

/**
 * An instruction family: its planner and every brick that planner may add,
 * declared next to its code. The planner is held to its declaration (see
 * `#draft`), and the union of declarations is what "the families plan"
 * (PLANNED_BY_FAMILIES). 'any' marks the generic routes that wire whatever
 * registered brick matches.
 */
export type Family = Planner & { readonly plans: readonly string[] | 'any' };

export function family(plans: readonly string[] | 'any', plan: Planner): Family {
  return Object.assign(plan, { plans });
}

export const MAIN_SUBJECT = /^(the )?(main |central |salient )?(subject|object|foreground( object)?|thing in front|central figure|main figure)$/i;
export const TEXT_OBJECT = /\b(text|texts|watermarks?|captions?|logos?|letter(ing|s)?|writing|words?|subtitles?|signatures?|date ?stamps?|time ?stamps?|labels?|inscriptions?|graffiti)\b/i;
export const FACE_OBJECT = /\b(faces?|face of|heads?)\b/i;
export const IMAGE_ITSELF = /^(it|the (image|picture|photo|photograph|pic|scene|shot|whole (image|picture|photo|thing))|this|everything|all)$/i;

// ---------------------------------------------------------------------------
// Building blocks shared by the families.

/** What a substitute segmenter does, for the note that says a rule forced it. */
export function substituteNote(because: string, object: string, used: Segmenter, instead: readonly Segmenter[]): string {
  const was = instead.map((s) => (s === 'RES' ? `RES finding "${object}" by name` : s === 'MASK-SEG' ? 'MASK-SEG using your mask' : 'SOS')).join(' or ');
  if (used === 'SOS') return `${because}, SOS takes the most salient object instead of ${was}; if that is not ${object}, send a mask of it.`;
  if (used === 'MASK-SEG') return `${because}, MASK-SEG finds "${object}" inside your mask instead of ${was}.`;
  return `${because}, RES finds "${object}" by name instead of ${was}.`;
}

/** The bricks `segment` may add. */
export const SEGMENTERS = ['TEXT-DET', 'FACE-DET', 'MASK-SEG', 'SOS', 'RES'] as const;

export function segment(ctx: Ctx, phrase: string): Source {
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
export function keptOut(ctx: Ctx): Source | undefined {
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
export const KEEPERS = ['INVERSE', ...SEGMENTERS] as const;

/** The bricks `removeObject` may add. */
export const REMOVERS = ['FASTINPAINT', 'FLUX-INPAINT', ...SEGMENTERS] as const;

export function removeObject(ctx: Ctx, object: string): void {
  removeRegion(ctx, segment(ctx, object));
}

/** Fills a segmented region of the current image from its surroundings (FASTINPAINT, refined by FLUX-INPAINT in the variants that refine). */
export function removeRegion(ctx: Ctx, mask: Source): void {
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

export const REMOVE_VERB = String.raw`(?:remove|erase|delete|eliminate|get rid of|take (?:out|away|off)|clear (?:away|out|off)?|rub out|wipe (?:out|off|away)|cut out|lose|drop|hide|make (.+?) disappear)`;


export const GREY = /\b(black[- ]and[- ]white|black\s*(?:&|\+|n'?)\s*white|b\s*&\s*w|gr[ae]y ?scale|monochrome|mono|desaturated fully|colou?rless)\b/i;

/** Verbs that mean "make it this colour". */
export const COLOUR_VERBS: Readonly<Record<string, string>> = { whiten: 'white', blacken: 'black', redden: 'red' };

export const STYLE_WORDS =
  /\b(style|styled|watercolou?r|oil paint(ing)?|painting|sketch|drawing|drawn|cartoon|anime|manga|comic|pixel art|pixelated art|ghibli|van gogh|monet|picasso|impressionis[tm]|cubis[tm]|expressionis[tm]|pop art|ukiyo-?e|mosaic|stained[- ]glass|sepia|vintage|retro|film noir|noir|cyberpunk|steampunk|vaporwave|synthwave|art deco|art nouveau|baroque|renaissance|gothic|minimalis[tm]|low[- ]poly|3d render|claymation|clay|origami|pencil|charcoal|ink|engraving|woodcut|woodblock|blueprint|graffiti|pastel|crayon|lego|neon|psychedelic|surreal(ist)?|pointillis[tm]|illustration|poster|storybook|disney|pixar|lomo|polaroid|negative|posteri[sz]ed?|tilt[- ]shift|hdr)\b/i;
