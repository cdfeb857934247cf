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
import { BrickRegistry } from '../engine/registry.ts';
import { serialiseWorkflow } from '../engine/workflow/serialise.ts';
import type { Workflow, WorkflowNode } from '../engine/workflow/types.ts';
import { providedInputs, validateWorkflow } from '../engine/workflow/validate.ts';
import type { Builder, Plan, PlanRequest, PriorTurn, Rule } from './builder.ts';
import { PlanRefusedError } from './builder.ts';
import { Draft, INIT_IMAGE } from './draft.ts';
import { type EditClause, understand } from './english/index.ts';
import { type Ctx, type Family, type Segmenter, Unplannable, type Variant } from './families/context.ts';
import { FAMILIES, OFFLINE_SUGGESTIONS, PLANNED_BY_FAMILIES } from './families/index.ts';
import { repairWorkflow } from './repair.ts';
import { reviseWorkflow } from './revise.ts';
import { type BrickInfo, bricksForPurpose, purposesOf, ruleViolations } from './rules.ts';

export { OFFLINE_SUGGESTIONS, PLANNED_BY_FAMILIES };

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
