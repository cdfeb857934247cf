/**
 * The one plan → rule check → run → repair loop, shared by `lego-edit edit`
 * and chat (the session's TurnRunner). The Builder plans; a plan that breaks a
 * standing rule is rejected; the plan runs; a run that fails in a way another
 * plan can avoid (the error's class says so: `planFixable`) goes back to the
 * Builder's `repairAfterFailure`, at most `maxRepairs` times (the RUN_REPAIRS
 * setting). Storage, output and progress stay with the caller, through hooks.
 */
import type { Logger } from 'pino';
import type { Builder, Plan, PlanAttempt, PlanRequest, PriorTurn, Rule, TokenUsage } from '../builder/builder.ts';
import { type BrickInfo, checkRules } from '../builder/rules.ts';
import { isPlanFixable, type LegoEditError } from '../engine/errors.ts';
import type { RunOutcome, StepTrace } from '../engine/executor.ts';
import { silentLogger } from '../logger.ts';
import type { CheckFailedError } from '../critic/errors.ts';
import type { Review, ReviewRecord, Verdict } from '../critic/types.ts';
import { RuleViolationError } from './errors.ts';

/** What the plans of one request have cost so far, and what they tried: kept with the turn and its export. */
export interface PlanRecord {
  /** Every attempt, the planner's own corrections and each run-time failure sent back for repair alike. */
  readonly attempts: readonly PlanAttempt[];
  /** Tokens over every plan so far; undefined when no Builder call reported usage. */
  readonly usage: TokenUsage | undefined;
  /** Milliseconds spent planning, over the first plan and every repair. */
  readonly planMs: number;
  /** Repairs asked for so far (0 for the first plan). */
  readonly repairs: number;
}

export interface PipelineOptions {
  readonly builder: Builder;
  readonly request: PlanRequest;
  /** New plans asked of the Builder after fixable run failures: the RUN_REPAIRS setting (`config.runRepairs`). */
  readonly maxRepairs: number;
  /** Runs one plan's workflow: the caller's executor, inputs, progress and cancellation. */
  readonly run: (plan: Plan) => Promise<RunOutcome>;
  /** Standing rules every plan must keep, checked against this catalogue before it runs. */
  readonly rules?: { readonly list: readonly Rule[]; readonly catalogue: readonly BrickInfo[] };
  /** Stops between stages; the caller's `run` is expected to honour it too. Defaults to `request.signal`. */
  readonly signal?: AbortSignal;
  /** Before each accepted plan runs (the first and every repair): record it, show it. */
  readonly onPlanned?: (plan: Plan, record: PlanRecord) => Promise<void> | void;
  /** A run failed in a way another plan may avoid, and the Builder is asked for one. */
  readonly onRepairing?: (error: LegoEditError, record: PlanRecord) => Promise<void> | void;
  /**
   * Judges each run that finished (src/critic: offline checks, then the MLLM critic). A problem
   * re-plans once through the repair path; whatever comes of it, the user gets a result and one line
   * saying what was checked. Never throws: a judge that fails says "unchecked".
   */
  readonly review?: (plan: Plan, outcome: Extract<RunOutcome, { status: 'ok' }>, attempt: number) => Promise<Review>;
  readonly logger?: Logger;
}

export type PipelineResult =
  /** Stopped by the signal outside a run (a run that notices cancellation reports it in `ran`). */
  | { readonly status: 'cancelled'; readonly plan?: Plan; readonly record?: PlanRecord }
  /** The Builder could not plan at all. */
  | { readonly status: 'plan-failed'; readonly error: unknown; readonly planMs: number }
  /** The plan breaks the user's rules; it never ran. */
  | { readonly status: 'rejected'; readonly plan: Plan; readonly record: PlanRecord; readonly error: RuleViolationError }
  /** The last plan ran: done, failed (not fixable, out of repairs, or no repair found) or cancelled. */
  | { readonly status: 'ran'; readonly plan: Plan; readonly record: PlanRecord; readonly outcome: RunOutcome; readonly review?: ReviewRecord };

export async function runPipeline(options: PipelineOptions): Promise<PipelineResult> {
  const { builder, request } = options;
  const signal = options.signal ?? request.signal;
  const logger = options.logger ?? silentLogger;
  const planStarted = performance.now();
  let plan: Plan;
  try {
    plan = await builder.plan(request);
  } catch (error) {
    if (signal?.aborted) return { status: 'cancelled' };
    return { status: 'plan-failed', error, planMs: Math.round(performance.now() - planStarted) };
  }
  plan = { ...plan, latencyMs: plan.latencyMs ?? performance.now() - planStarted };
  const attempts: PlanAttempt[] = [...(plan.attempts ?? [])];
  const usage = { promptTokens: 0, completionTokens: 0 };
  let usageReported = false;
  let planMs = 0;
  const verdicts: Verdict[] = [];
  /** The first result, kept while the plan re-made after its failed check runs. */
  let held: { readonly result: PipelineResult; readonly problem: CheckFailedError } | undefined;
  for (let repairs = 0; ; repairs++) {
    planMs += Math.round(plan.latencyMs!);
    if (plan.usage) usageReported = true;
    usage.promptTokens += plan.usage?.promptTokens ?? 0;
    usage.completionTokens += plan.usage?.completionTokens ?? 0;
    const record = (): PlanRecord => ({ attempts: [...attempts], usage: usageReported ? { ...usage } : undefined, planMs, repairs });

    const violations = options.rules ? checkRules(plan.workflow, options.rules.list, options.rules.catalogue) : [];
    if (violations.length) return { status: 'rejected', plan, record: record(), error: new RuleViolationError(violations) };
    await options.onPlanned?.(plan, record());
    if (signal?.aborted) return { status: 'cancelled', plan, record: record() };

    const outcome = await options.run(plan);
    const ran = (): PipelineResult => ({ status: 'ran', plan, record: record(), outcome, ...(options.review ? { review: { verdicts: [...verdicts] } } : {}) });
    if (signal?.aborted) return ran();
    let error: LegoEditError;
    if (outcome.status === 'ok') {
      if (!options.review) return ran();
      const review = await options.review(plan, outcome, held ? 1 : 0);
      verdicts.push(...review.verdicts);
      if (held) {
        const note = review.problem
          ? `I checked the result (${held.problem.reason}) and tried another plan, which is not right either (${review.problem.reason}).`
          : `I checked the result (${held.problem.reason}) and re-planned once: ${firstSentence(plan.reasoning) || 'a different plan'}.`;
        return withNote(ran(), note);
      }
      if (!review.problem) return ran();
      if (!builder.repairAfterFailure || options.maxRepairs < 1) return withNote(ran(), noteOf(review.problem));
      held = { result: ran(), problem: review.problem };
      error = review.problem;
    } else {
      // The re-planned run after a failed check did not finish: the checked result is still better than none.
      if (held && outcome.status === 'failed') return withNote(held.result, noteOf(held.problem), verdicts);
      if (outcome.status !== 'failed') return ran();
      error = outcome.error;
      if (!isPlanFixable(error) || !builder.repairAfterFailure || repairs >= options.maxRepairs) return ran();
    }

    const failed: PriorTurn = { instruction: request.instruction, workflow: plan.workflow, status: 'failed', trace: outcome.trace.map(plainTrace), error: error.message, errorCode: error.code };
    attempts.push({ workflow: plan.workflow, problems: [`run failed: ${error.message}`] });
    await options.onRepairing?.(error, record());
    const repairStarted = performance.now();
    let repaired: Plan;
    try {
      repaired = await builder.repairAfterFailure(request, failed);
    } catch (err) {
      if (signal?.aborted) return { status: 'cancelled', plan, record: record() };
      // Nothing else to try: the run's own error says more than the refusal to re-plan.
      logger.debug({ err }, 'no repair after a failed run');
      if (held) return withNote(held.result, noteOf(held.problem), verdicts);
      return ran();
    }
    attempts.push(...(repaired.attempts ?? []));
    plan = { ...repaired, latencyMs: repaired.latencyMs ?? performance.now() - repairStarted };
  }
}

/** The one line a user reads about a failed check that no other plan fixed. */
function noteOf(problem: CheckFailedError): string {
  return `Note: I checked the result and ${problem.reason}; it may not be what you asked for.`;
}

function withNote(result: PipelineResult, note: string, verdicts?: readonly Verdict[]): PipelineResult {
  if (result.status !== 'ran') return result;
  return { ...result, review: { verdicts: verdicts ? [...verdicts] : (result.review?.verdicts ?? []), note } };
}

function firstSentence(text: string | undefined): string {
  const s = (text ?? '').trim().split(/(?<=[.!?])\s/)[0] ?? '';
  return s.replace(/[.!?]$/, '').slice(0, 200);
}

/** Traces hold only JSON-safe fields; a copy keeps later changes by the executor out of what the Builder and the database see. */
export function plainTrace(t: StepTrace): StepTrace {
  return JSON.parse(JSON.stringify(t)) as StepTrace;
}
