/**
 * Revising the last plan from the user's feedback ("no, the other sheep", "that
 * removed too much", "try again with a bigger mask", "too much"). A revision is
 * surgery on the previous workflow, not a fresh plan: every step the feedback
 * does not touch keeps its inputs byte for byte, so the executor's content-keyed
 * cache serves them and only the changed steps and those downstream run again.
 */
import type { BrickRegistry } from '../engine/registry.ts';
import type { Binding, Source, Workflow, WorkflowNode } from '../engine/workflow/types.ts';
import { providedInputs, validateWorkflow } from '../engine/workflow/validate.ts';
import type { PlanRequest, PriorTurn } from './builder.ts';
import { PlanRefusedError } from './builder.ts';
import { portOf } from '../engine/brick.ts';
import { insertAfter, literal, out, removeStep, setLiteral } from './draft.ts';
import { headNoun, isColourPhrase, isMaterialPhrase, oppositeLocative, stripPoliteness } from './language.ts';
import { checkRules, parseRule } from './rules.ts';
import { normalise } from './english/index.ts';
import { directCommand } from './english/indirect.ts';

export interface Revision {
  readonly workflow: Workflow;
  readonly reasoning: string;
  readonly rerun?: boolean;
}

/** A leading "undo that and", "scrap that,", "go back and" of a compound correction. */
const UNDO_AND = /^(?:undo|revert|scrap|cancel|forget|go back(?: on)?)(?: (?:that|it|this|the last (?:one|edit|change)))?\s*(?:,|;|and then|and|then)\s*/i;

const AGAIN = /^(again|try again|retry|redo|once more|one more time|another (one|try|version|go)|(do|redo) it again)\b/i;

/** Feedback that only asks to run the same request again ("again", "try again"), with nothing to change. */
export function isPlainAgain(feedback: string): boolean {
  const t = stripPoliteness(feedback.trim().replace(/^(no|nope|nah|hmm+|ugh|ok(ay)?|well)\b[,.!]*\s*/i, ''));
  return AGAIN.test(t) && t.replace(AGAIN, '').replace(/[\p{P}\s]/gu, '').length === 0;
}

type Fresh = (instruction: string) => Revision;

const OTHER = /\b(other|another|wrong (one|object|\w+)|not (that|this) one|the one (on|at|in) the|(the )?(left|right|top|bottom|front|back|first|second|bigger|smaller|larger|upper|lower) one)\b/i;
const TIGHTER = /\b((removed|took|erased|changed|covered|affected|selected|masked|got|ate|cut|painted|recolou?red) (away )?too much|too much (was|got) (removed|changed|erased)|mask (is|was) too (big|large|wide)|(smaller|tighter|narrower) mask|tighter|too (wide|big) an? (area|region)|less of the (background|surroundings)|only the \w+|spilled|bled|leaked)\b/i;
const BIGGER = /\b((bigger|larger|wider|grow(n)?) (the )?mask|mask (is|was) too (small|tight|narrow)|missed|left (some|a bit|bits|parts|traces|edges|an? outline|a halo|a shadow|part)|still (see|visible|there)|(remove|cover|take) more|not (all|everything|completely|entirely)|edges? (remain|still|left)|halo|outline|ghost|leftovers?)\b/i;
const WEAKER = /\b(too (much|strong|bright|dark|light|saturated|extreme|obvious|intense|harsh|heavy|blurry|blurred)|(a (bit|little|tad) |much )?less\b|tone (it )?down|subtler|weaker|softer|not so (much|strong)|overdone|overkill|dial (it )?back)/i;
const STRONGER = /\b(more\b|stronger|not enough|(a bit|even) more|too (subtle|weak|little|faint)|barely|hardly|can'?t (see|tell)|intensify|harder)/i;

/** Steps that change pixels inside a mask, as opposed to steps that compute masks. */
function isEditing(n: WorkflowNode, registry: BrickRegistry): boolean {
  const brick = registry.get(n.brick);
  return brick?.kind === 'edit' || (brick?.kind === 'function' && Object.values(brick.outputs).some((o) => o.type === 'Image') && Object.values(brick.inputs).some((i) => i.type === 'Mask'));
}

/** The mask the main edit uses: the Mask input of the last step that takes one from a step. */
function editMask(wf: Workflow, registry: BrickRegistry): { consumer: WorkflowNode; input: string; source: Source & { kind: 'step' } } | undefined {
  const edits = [...wf.nodes].reverse().filter((n) => isEditing(n, registry));
  for (const n of edits) {
    for (const [input, b] of Object.entries(n.inputs)) {
      if (b.kind === 'ref' && b.source.kind === 'step' && portOf(registry.get(n.brick)?.inputs ?? {}, input)?.type === 'Mask') return { consumer: n, input, source: b.source };
    }
  }
  return undefined;
}

/** DILATE radius that reads as "a bit" at this image size. */
function radiusFor(request: PlanRequest): number {
  return Math.max(3, Math.round(Math.min(request.image.width, request.image.height) * 0.02));
}

/** Grows (sign +1) or shrinks (-1) the edit mask: adjusts an existing DILATE, drops a BBOX, or inserts a DILATE. */
function resizeMask(wf: Workflow, registry: BrickRegistry, request: PlanRequest, sign: 1 | -1): Revision | undefined {
  const target = editMask(wf, registry);
  if (!target) return undefined;
  const producer = wf.nodes.find((n) => n.step === target.source.step)!;
  if (producer.brick === 'DILATE') {
    const r = Number(literal(producer, 'radius') ?? 0);
    const step = radiusFor(request);
    const next = r + sign * step;
    return { workflow: setLiteral(wf, producer.step, 'radius', next), reasoning: `DILATE's radius goes from ${r} to ${next} px to make the mask ${sign > 0 ? 'bigger' : 'tighter'}.` };
  }
  if (sign < 0 && producer.brick === 'BBOX') {
    const input = producer.inputs.mask;
    if (input?.kind === 'ref') return { workflow: removeStep(wf, producer.step, input.source), reasoning: 'The box around the object is dropped, so the edit follows the object\'s own outline.' };
  }
  const r = sign * radiusFor(request);
  // Every other step keeps its inputs; only the edits that used the mask are pointed at the new DILATE step.
  const uses = (b: Binding): boolean => b.kind === 'ref' && b.source.kind === 'step' && b.source.step === producer.step && b.source.output === target.source.output;
  const workflow = insertAfter(wf, producer.step, { brick: 'DILATE', inputs: { mask: { kind: 'ref', source: target.source }, radius: { kind: 'literal', value: r } }, outputs: ['mask'] }, (n, newStep) =>
    isEditing(n, registry)
      ? { ...n, inputs: Object.fromEntries(Object.entries(n.inputs).map(([k, b]) => [k, uses(b) ? { kind: 'ref', source: out(newStep, 'mask') } : b])) }
      : n,
  );
  return { workflow, reasoning: `DILATE ${sign > 0 ? 'grows' : 'shrinks'} the mask by ${Math.abs(r)} px before the edit.` };
}

/** Moves every strength-like literal toward neutral (weaker) or away from it (stronger). */
function scaleStrength(wf: Workflow, factor: number, feedback: string): Revision | undefined {
  const neutral: Record<string, Record<string, number>> = {
    ADJUST: { brightness: 1, contrast: 1, saturation: 1, hue: 0 },
    BLUR: { strength: 0 },
    DILATE: { radius: 0 },
  };
  let workflow = wf;
  const changed: string[] = [];
  // "too bright" after darkening means less darkening; after brightening, less brightening: both move toward neutral.
  // But "too dark" after brightening asks for more, so the direction of the complaint decides.
  const tooBright = /\btoo (bright|light)\b/i.test(feedback);
  const tooDark = /\btoo dark\b/i.test(feedback);
  for (const n of wf.nodes) {
    const ports = neutral[n.brick];
    if (!ports) continue;
    for (const [port, zero] of Object.entries(ports)) {
      const v = literal(n, port);
      if (typeof v !== 'number' || v === zero) continue;
      let f = factor;
      if (port === 'brightness' && (tooBright || tooDark)) f = (tooBright ? v > 1 : v < 1) ? 0.5 : 1.6;
      const next = Number((zero + (v - zero) * f).toFixed(3));
      const bounded = n.brick === 'BLUR' ? Math.min(0.5, Math.max(0.001, next)) : port === 'hue' ? Math.max(-360, Math.min(360, next)) : Math.max(0, Math.min(4, next));
      // At a bound already ("saturation 0" made grey): nothing to change in this direction.
      if (bounded === v) continue;
      workflow = setLiteral(workflow, n.step, port, bounded);
      changed.push(`${n.brick} ${port} ${v} → ${bounded}`);
    }
  }
  return changed.length ? { workflow, reasoning: `${factor < 1 ? 'Weaker' : 'Stronger'}: ${changed.join(', ')}.` } : undefined;
}

/** "No, the other sheep": change what RES (or ADD-PRED) looks for, keeping the rest. */
function otherObject(wf: Workflow, feedback: string): Revision | undefined {
  const target = [...wf.nodes].reverse().find((n) => (n.brick === 'RES' || n.brick === 'ADD-PRED') && typeof literal(n, 'prompt') === 'string');
  if (!target) return undefined;
  const old = String(literal(target, 'prompt'));
  const noun = headNoun(old).replace(/^the /, '');
  const named = /\b(left|right|top|bottom|front|back|first|second|third|bigger|smaller|larger|upper|lower|middle|cent(?:er|re))\b/i.exec(feedback);
  const objectInFeedback = /\bthe (?:other |another )?(?:left |right |top |bottom |front |back |bigger |smaller |middle |first |second |third )?([a-z]+)\b/i.exec(feedback.replace(/\bthe (other|another) one\b/i, ''));
  const nounNow = objectInFeedback && !/^(one|other|another|left|right|top|bottom|front|back|first|second|third)$/i.test(objectInFeedback[1]!) ? objectInFeedback[1]! : noun;
  // "the second one" after "the first car from the left": the position changes, the rest of the description stays.
  const ordinal = /\b(first|second|third|fourth)\b/i;
  if (named && ordinal.test(named[1]!) && ordinal.test(old) && target.brick === 'RES') {
    const prompt = old.replace(ordinal, named[1]!.toLowerCase());
    if (prompt !== old) return { workflow: setLiteral(wf, target.step, 'prompt', prompt), reasoning: `RES now looks for "${prompt}" instead of "${old}"; the other steps are unchanged.` };
  }
  let prompt: string;
  if (target.brick === 'ADD-PRED') {
    const where = /\b(?:on|to|at|in)\s+the\s+(?:far\s+)?(left|right|top|bottom|middle|cent(?:er|re)|foreground|background)\b.*$/i.exec(feedback);
    if (!where) return undefined;
    prompt = `${old.replace(/\s+(?:on|to|at|in)\s+the\s+(?:far\s+)?(left|right|top|bottom|middle|cent(?:er|re)|foreground|background)\b.*$/i, '')} ${where[0]}`;
  } else if (named) {
    prompt = `the ${named[1]!.toLowerCase()} ${nounNow}`;
  } else {
    prompt = oppositeLocative(old) ?? `the other ${nounNow}`;
  }
  if (prompt === old) return undefined;
  return { workflow: setLiteral(wf, target.step, 'prompt', prompt), reasoning: `${target.brick} now looks for "${prompt}" instead of "${old}"; the other steps are unchanged.` };
}

/** "No, both of them", "all of them": the same edit on every one of the objects, not one. */
function allOfThem(wf: Workflow, feedback: string): Revision | undefined {
  if (!/^(?:(?:no|yes|actually)[,\s]*)?(?:both|all)(?: of them| of those| of these)?$|^(?:do |make it )?(?:both|all) of them$/i.test(feedback.trim())) return undefined;
  const target = [...wf.nodes].reverse().find((n) => n.brick === 'RES' && typeof literal(n, 'prompt') === 'string');
  if (!target) return undefined;
  const old = String(literal(target, 'prompt'));
  const noun = headNoun(old).replace(/^the /, '');
  const prompt = `${/^both\b/i.test(feedback.trim()) ? 'both' : 'all the'} ${noun}`;
  return { workflow: setLiteral(wf, target.step, 'prompt', prompt), reasoning: `RES now looks for "${prompt}" instead of "${old}"; the other steps are unchanged.` };
}

/**
 * "No, everything except her": the same edit on the rest of the picture, the object kept out of it.
 * Planned afresh from the instruction with the object swapped for "everything".
 */
function exceptIt(turn: PriorTurn, wf: Workflow, feedback: string, fresh: Fresh): Revision | undefined {
  const m = /^(?:everything|all|the rest)(?: else)?\s+(?:except(?: for)?|but|apart from|other than)\s+(.+)$/i.exec(feedback.trim());
  if (!m) return undefined;
  const res = [...wf.nodes].reverse().find((n) => n.brick === 'RES' && typeof literal(n, 'prompt') === 'string');
  const object = res ? String(literal(res, 'prompt')) : undefined;
  const kept = /^(her|him|it|them|that|this|that one|this one)$/i.test(m[1]!) && object ? object : m[1]!;
  const instruction = object && turn.instruction.toLowerCase().includes(object.toLowerCase()) ? turn.instruction.replace(new RegExp(object.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i'), 'everything') : turn.instruction;
  const plan = fresh(`${instruction} except ${kept}`);
  return { workflow: plan.workflow, reasoning: `The same edit on everything but "${kept}". ${plan.reasoning}` };
}

/** "Blue instead", "a cat instead": swap the edit's prompt. */
function instead(wf: Workflow, feedback: string): Revision | undefined {
  const m = /^(?:no,?\s*)?(?:make it\s+|use\s+|try\s+)?(.+?)\s+instead\b/i.exec(feedback) ?? /^(?:no,?\s*)?instead,?\s+(?:make it\s+|use\s+)?(.+)$/i.exec(feedback);
  if (!m) return undefined;
  const value = m[1]!.trim().replace(/^(a|an)\s+(?=\w)/i, (a) => a);
  const rcm = wf.nodes.find((n) => n.brick === 'FLUX-RCM');
  if (rcm && (isColourPhrase(value) || isMaterialPhrase(value))) return { workflow: setLiteral(wf, rcm.step, 'prompt', value), reasoning: `FLUX-RCM now uses "${value}".` };
  const adjust = wf.nodes.find((n) => n.brick === 'ADJUST' && typeof literal(n, 'brightness') === 'number');
  if (adjust && /^(darker|brighter|lighter)$/i.test(value)) {
    const b = Number(literal(adjust, 'brightness'));
    const want = /darker/i.test(value) ? Math.min(b, 1 / b) : Math.max(b, 1 / b);
    return { workflow: setLiteral(wf, adjust.step, 'brightness', Number(want.toFixed(3))), reasoning: `ADJUST brightness ${b} → ${want.toFixed(3)}.` };
  }
  for (const brick of ['FLUX-FILL', 'FLUX-CBG', 'FLUX-ENV']) {
    const n = wf.nodes.find((x) => x.brick === brick && typeof literal(x, 'prompt') === 'string');
    if (n) return { workflow: setLiteral(wf, n.step, 'prompt', value), reasoning: `${brick} now uses "${value}".` };
  }
  // "The truck instead": the same edit on another object.
  const object = /^(?:on\s+)?(?:the|that|this)\s+([a-z][a-z\s-]*)$/i.exec(value);
  const seg = [...wf.nodes].reverse().find((n) => n.brick === 'RES' && typeof literal(n, 'prompt') === 'string');
  if (object && seg && !isColourPhrase(object[1]!) && !isMaterialPhrase(object[1]!)) {
    const prompt = `the ${object[1]!.trim()}`;
    return { workflow: setLiteral(wf, seg.step, 'prompt', prompt), reasoning: `RES now looks for "${prompt}" instead of "${String(literal(seg, 'prompt'))}".` };
  }
  const style = wf.nodes.find((n) => n.brick === 'FLUX-STYLE');
  if (style) return { workflow: setLiteral(wf, style.step, 'style', value.replace(/\s+style$/i, '')), reasoning: `FLUX-STYLE now uses "${value}".` };
  return undefined;
}

/** The step whose mask came back empty in `turn`, from its trace or else its error ("Step 2 (RES) found nothing …"). */
export function emptyMaskStep(turn: PriorTurn, wf: Workflow): number | undefined {
  const traced = turn.trace?.find((t) => t.emptyMasks.length > 0)?.step;
  if (traced !== undefined) return traced;
  if (turn.errorCode !== 'empty-mask' && !/empty-mask|found nothing|produced an empty mask/i.test(turn.error ?? '')) return undefined;
  // The user's own mask was empty: no step of the plan made it.
  if (/^The mask you gave/i.test(turn.error ?? '')) return undefined;
  const named = /^Step (\d+) \(/i.exec(turn.error ?? '');
  return named ? Number(named[1]) : wf.nodes.find((n) => n.brick === 'RES')?.step;
}

/** An empty mask last time: ask the segmenter for less (the head noun), or for the salient object. */
export function afterEmptyMask(turn: PriorTurn, wf: Workflow): Revision | undefined {
  const emptyStep = emptyMaskStep(turn, wf);
  if (emptyStep === undefined) return undefined;
  const node = wf.nodes.find((n) => n.step === emptyStep);
  if (!node) return undefined;
  const prompt = literal(node, 'prompt');
  if (node.brick === 'RES' && typeof prompt === 'string') {
    const simpler = headNoun(prompt);
    if (simpler !== prompt) return { workflow: setLiteral(wf, node.step, 'prompt', simpler), reasoning: `RES found nothing for "${prompt}"; it now looks for just "${simpler}".` };
    const replaced: Workflow = { ...wf, nodes: wf.nodes.map((n) => (n.step === node.step ? { ...n, brick: 'SOS', inputs: { image: n.inputs.image! }, outputs: ['mask', 'image'] } : n)) };
    return { workflow: replaced, reasoning: `RES found nothing for "${prompt}"; SOS takes the most salient object instead.` };
  }
  return undefined;
}

/**
 * Another version of a plan that gave the same picture when run again (it has no randomness): a wider mask
 * where it edits inside one, else a stronger setting. `what` says which, for the user; undefined when the
 * plan has nothing to vary.
 */
export function againVariant(request: PlanRequest, wf: Workflow, registry: BrickRegistry): (Revision & { readonly what: string }) | undefined {
  const ok = (r: Revision | undefined): r is Revision => r !== undefined && revisionProblems(r.workflow, request, registry).length === 0;
  const wider = resizeMask(wf, registry, request, 1);
  if (ok(wider)) return { ...wider, what: 'a slightly wider mask' };
  const stronger = scaleStrength(wf, 1.6, 'stronger');
  if (ok(stronger)) return { ...stronger, what: 'a stronger setting' };
  return undefined;
}

/** Why a revised workflow cannot replace the old one: validation issues and broken rules; empty when it can. */
export function revisionProblems(workflow: Workflow, request: PlanRequest, registry: BrickRegistry): string[] {
  const provided = providedInputs(request);
  const checked = validateWorkflow(workflow, registry, { provided });
  if (!checked.ok) return checked.issues.map((i) => i.message);
  return checkRules(workflow, request.rules ?? [], registry.list());
}

/**
 * The revised workflow for `request.revise`, or a fresh plan when the feedback
 * is a new instruction or a rule the old plan breaks. Throws PlanRefusedError
 * when the feedback cannot be acted on.
 */
export function reviseWorkflow(request: PlanRequest, registry: BrickRegistry, planFresh: Fresh): Revision {
  const { turn, feedback: rawFeedback } = request.revise!;
  // "Undo that and make the car green instead": the undo is what a revision does anyway (it starts from the same
  // photo), so the correction is the rest.
  const feedback = directCommand(normalise(stripPoliteness(rawFeedback.replace(/^(no|nope|nah|hmm+|ugh|ok(ay)?|well)\b[,.!]*\s*/i, '').replace(UNDO_AND, '')))).replace(/^(?:no|nope|oops|sorry)\b[,.!]*\s*/i, '');
  const rules = request.rules ?? [];
  const catalogue = registry.list();
  const previous = turn.workflow;

  const accept = (r: Revision | undefined): Revision | undefined => (r && revisionProblems(r.workflow, request, registry).length === 0 ? r : undefined);
  const replan = (why: string): Revision => {
    const fresh = planFresh(turn.instruction);
    return { workflow: fresh.workflow, reasoning: `${why} ${fresh.reasoning}`.trim() };
  };

  if (!previous) return replan('There was no earlier plan to revise, so I planned the instruction again.');
  // A rule given as feedback ("don't use RES before INPAINT") re-plans the last instruction under it.
  if (parseRule(rawFeedback, catalogue) || checkRules(previous, rules, catalogue).length) {
    return replan('The last plan breaks your rules, so I planned it again under them.');
  }
  const replanOf = (instruction: string): Revision => planFresh(instruction);
  const attempts: Array<() => Revision | undefined> = [];
  const again = AGAIN.test(feedback);
  if (again || turn.status === 'failed') attempts.push(() => afterEmptyMask(turn, previous));
  if (TIGHTER.test(feedback)) attempts.push(() => resizeMask(previous, registry, request, -1));
  if (BIGGER.test(feedback)) attempts.push(() => resizeMask(previous, registry, request, 1));
  if (OTHER.test(feedback)) attempts.push(() => otherObject(previous, feedback));
  attempts.push(() => allOfThem(previous, feedback));
  attempts.push(() => exceptIt(turn, previous, feedback, replanOf));
  // "no, blue": a colour said alone is the colour it should have been.
  if (isColourPhrase(feedback) || isMaterialPhrase(feedback)) attempts.push(() => instead(previous, `${feedback} instead`));
  // Reading the feedback as a command drops a trailing "instead" ("no, the truck instead" → "the truck"), so ask the user's own words.
  if (/\binstead\b/i.test(rawFeedback)) attempts.push(() => instead(previous, /\binstead\b/i.test(feedback) ? feedback : `${feedback} instead`));
  if (WEAKER.test(feedback)) attempts.push(() => scaleStrength(previous, 0.5, feedback));
  if (STRONGER.test(feedback) && !/\bmore\s+(?!\w+er\b)[a-z]{4,}/i.test(feedback.replace(/\b(remove|cover|take) more\b/i, ''))) attempts.push(() => scaleStrength(previous, 1.6, feedback));
  for (const attempt of attempts) {
    const r = accept(attempt());
    if (r) return r;
  }
  // Plain "again" with nothing in the trace to fix: the same plan, run afresh.
  if (isPlainAgain(feedback)) {
    const r = accept({ workflow: previous, reasoning: 'Ran the same plan again, without reusing earlier step results.', rerun: true });
    if (r) return r;
  }
  // Feedback that is itself an edit ("no, make it blue") is planned for the same source image.
  if (feedback) {
    try {
      const instruction = feedback.replace(/[,\s]*\binstead\b[.!]*/i, ' ').trim() || feedback;
      const fresh = planFresh(instruction);
      return { workflow: fresh.workflow, reasoning: `I read "${instruction}" as a new instruction for the same image. ${fresh.reasoning}` };
    } catch (err) {
      if (!(err instanceof PlanRefusedError)) throw err;
    }
  }
  throw new PlanRefusedError(`I don't know how to revise the last plan from "${rawFeedback.trim()}".`, [
    '"no, the other one" or "the left one"',
    '"that removed too much"',
    '"try again with a bigger mask"',
    '"too much" or "stronger"',
    '"blue instead"',
  ]);
}
