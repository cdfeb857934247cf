/**
 * Runs one turn of a conversation: resolves what to plan on which image (the
 * turn a revision or rule re-plan targets, the image a follow-up edits), hands
 * it to the plan → rule check → run → repair pipeline, and commits the result
 * (images, lineage, the finished turn and the new current image at once)
 * before the user sees it.
 */
import type { Logger } from 'pino';
import type { Builder, Plan, PlanRequest, PriorTurn, Rule } from '../builder/builder.ts';
import { againVariant, isPlainAgain } from '../builder/revise.ts';
import { checkRules, describeRule } from '../builder/rules.ts';
import { BrickUnavailableError, LegoEditError, errorMessage } from '../engine/errors.ts';
import type { ExecutorEvent } from '../engine/events.ts';
import type { Executor } from '../engine/executor.ts';
import { encodeImage } from '../engine/image-io.ts';
import type { BrickRegistry } from '../engine/registry.ts';
import { Critic } from '../critic/critic.ts';
import type { ReviewRecord } from '../critic/types.ts';
import type { ImageData, MaskData } from '../engine/values.ts';
import { summariseWorkflow, toLegoEditJson } from '../engine/workflow/serialise.ts';
import { type PlanRecord, plainTrace, runPipeline } from '../pipeline/index.ts';
import type { BlobStore } from './blob-store.ts';
import { SessionError } from './errors.ts';
import { whatWasDone } from './caption.ts';
import { quote } from './format.ts';
import type { Retention } from './retention.ts';
import type { SessionImages } from './session-images.ts';
import { type ConversationState, type ConversationStates, toPriorTurn } from './states.ts';
import type { FinishFields, ImageState, PlanFields, TurnRecord, TurnStore } from './store/turn-store.ts';
import { storageFailure } from './storage-errors.ts';
import type { ConversationKey, Intent, ResultImage, SessionEvent, TurnStatus } from './types.ts';

/** A user's photo as stored on arrival, with the mask or reference photo sent beside it, if any. */
export interface Upload {
  readonly image: ImageData;
  readonly sha: string;
  readonly mask?: { readonly mask: MaskData; readonly sha: string };
  readonly reference?: { readonly image: ImageData; readonly sha: string };
}

/** A turn already stored (queued), to plan and run. */
export interface TurnToRun {
  readonly conversationId: number;
  readonly turnId: number;
  readonly intent: Intent;
  /** The user's words: the instruction, or feedback on the turn revised. */
  readonly text: string;
  readonly key: ConversationKey;
  readonly upload?: Upload | undefined;
  /** The turn the user replied to, already checked to be theirs. */
  readonly replyTarget?: number | undefined;
}

export type Emit = (e: SessionEvent) => Promise<void>;

type OkOutcome = Extract<Awaited<ReturnType<Executor['run']>>, { status: 'ok' }>;

const SAME_EVERY_TIME = 'This edit gives the same picture every time';

export interface TurnRunnerOptions {
  readonly store: TurnStore;
  readonly states: ConversationStates;
  readonly images: SessionImages;
  readonly blobs: BlobStore;
  readonly retention: Retention;
  readonly builder: Builder;
  readonly executor: Executor;
  readonly registry: BrickRegistry;
  /** Judges each result before it is sent; the offline checks alone when not given. */
  readonly critic?: Critic;
  readonly settings: { readonly runRepairs: number; readonly pruneEvery: number };
  readonly logger: Logger;
  readonly now: () => number;
}

/** What to plan, on which image: resolved when the turn starts, not on arrival, so feedback sent while a turn ran revises that turn. */
interface Target {
  readonly instruction: string;
  readonly sourceSha: string;
  readonly image: ImageData;
  readonly mask?: { readonly mask: MaskData; readonly sha: string } | undefined;
  readonly reference?: { readonly image: ImageData; readonly sha: string } | undefined;
  readonly revise?: { readonly turn: PriorTurn; readonly feedback: string } | undefined;
  readonly revisesTurnId: number | null;
  /** Put the source on the undo stack below the result (an edit of a new photo, a retried plan on another image). */
  readonly pushSource: boolean;
}

export class TurnRunner {
  readonly #o: TurnRunnerOptions;
  readonly #critic: Critic;
  #available?: { readonly at: number; readonly names: Promise<ReadonlySet<string>> };

  constructor(options: TurnRunnerOptions) {
    this.#o = options;
    this.#critic = options.critic ?? new Critic(options.registry);
  }

  /** Plans, runs and commits one turn; every outcome is stored and told through `emit`. Never throws for a failed turn. */
  async run(turn: TurnToRun, signal: AbortSignal, emit: Emit): Promise<TurnStatus> {
    const { store, states } = this.#o;
    const { turnId } = turn;
    const conv = await states.get(turn.conversationId);
    let planned: { instruction: string; workflow: Plan['workflow'] } | undefined;
    const finish = async (status: TurnStatus, extra: FinishFields = {}): Promise<TurnStatus> => {
      await store.finishTurn(turnId, status, extra);
      // The photo the user gave stays the current image until something replaces it, whatever happened to this turn.
      const photo = turn.intent === 'edit' ? turn.upload : undefined;
      if (status !== 'done' && photo && conv.current?.image !== photo.sha) {
        await states.push(conv, [{ image: photo.sha, turnId }]);
        if (photo.mask || photo.reference) conv.wordless.add(turnId);
      }
      const workflow = planned?.workflow ?? extra.workflow;
      if (workflow) {
        conv.lastPlanned = turnId;
        states.remember(conv, toPriorTurn({ text: turn.text, instruction: planned?.instruction ?? turn.text, workflow, status, errorMessage: extra.errorMessage ?? null, trace: extra.trace }));
      }
      return status;
    };
    const cancelled = async (extra: FinishFields = {}): Promise<TurnStatus> => {
      const s = await finish('cancelled', extra);
      await emit({ type: 'cancelled', turnId });
      return s;
    };
    const fail = async (raw: unknown, extra: FinishFields = {}): Promise<TurnStatus> => {
      // A full disk or a damaged database is said as such, never as the query that met it.
      const err = storageFailure(raw) ?? raw;
      const known = err instanceof LegoEditError;
      if (!known) this.#o.logger.error({ err, turnId }, 'turn failed unexpectedly');
      // The error's own message carries what an operator needs (a setting, a host); the user sees its userMessage.
      // Info, not warn: the user has been told, and a service logs info by default while the terminal chat
      // (the user is the operator there) keeps its screen for the conversation.
      else this.#o.logger.info({ code: err.code, err: err.message, turnId }, 'turn failed');
      const code = known ? err.code : 'internal';
      const userMessage = known ? err.userMessage : 'Something went wrong on my side; your earlier images are safe. Please try again.';
      const s = await finish('failed', { errorCode: code, errorMessage: known ? err.message : errorMessage(err), ...extra });
      await emit({ type: 'error', turnId, code, userMessage });
      return s;
    };
    if (signal.aborted) return cancelled();

    try {
      const target = await this.#target(turn, conv);
      await store.startPlanning(turnId, {
        instruction: target.instruction,
        revisesTurnId: target.revisesTurnId,
        inputs: { image: target.sourceSha, mask: target.mask?.sha, reference: target.reference?.sha },
      });
      await emit({ type: 'planning', turnId });
      if (signal.aborted) return cancelled();

      const rules = conv.rules.map((r) => r.rule);
      let repairing: LegoEditError | undefined;
      const request: PlanRequest = {
        image: target.image,
        instruction: target.instruction,
        hasMask: target.mask !== undefined,
        hasReference: target.reference !== undefined,
        available: await this.#availableBricks(),
        signal,
        history: [...conv.history],
        rules,
        ...(target.revise ? { revise: target.revise } : {}),
      };
      // Every plan that is about to run, the pipeline's or a variant of it, is stored and told the same way.
      const announce = async (plan: Plan, record: PlanRecord): Promise<void> => {
        await store.markRunning(turnId, planFields(plan, record));
        planned = { instruction: target.instruction, workflow: plan.workflow };
        conv.lastPlanned = turnId;
        await emit({
          type: 'planned',
          turnId,
          summary: summariseWorkflow(plan.workflow),
          workflow: toLegoEditJson(plan.workflow),
          builder: plan.builder,
          steps: plan.workflow.nodes.length,
        });
      };
      const inputs = { image: target.image, ...(target.mask ? { mask: target.mask.mask } : {}), ...(target.reference ? { reference: target.reference.image } : {}) };
      const result = await runPipeline({
        builder: this.#o.builder,
        request,
        maxRepairs: this.#o.settings.runRepairs,
        rules: { list: rules, catalogue: this.#o.registry.list() },
        signal,
        logger: this.#o.logger,
        run: (plan) => this.#o.executor.run(plan.workflow, inputs, { signal, reuseCache: !plan.rerun, onEvent: (e) => void stepEvent(turnId, e, emit) }),
        onPlanned: async (plan, record) => {
          // Said only now that another plan really follows the failed one.
          if (repairing) {
            const why = repairing instanceof BrickUnavailableError ? 'One tool of that plan is not set up here.' : repairing.userMessage;
            await emit({ type: 'info', turnId, text: `${why} Trying another way…` });
          }
          repairing = undefined;
          await announce(plan, record);
        },
        onRepairing: (error) => {
          repairing = error;
        },
        review: (plan, outcome, attempt) => this.#critic.review({ request, plan, inputs, outcome, attempt }),
      });
      switch (result.status) {
        case 'cancelled':
          return cancelled();
        case 'plan-failed':
          return fail(result.error, { planMs: result.planMs });
        case 'rejected':
          return fail(result.error, planFields(result.plan, result.record));
        case 'ran':
          break;
      }
      let { outcome, plan } = result;
      const ended = async (o: Exclude<typeof outcome, { status: 'ok' }>): Promise<TurnStatus> => {
        const runMs = Math.round(o.durationMs);
        const trace = o.trace.map(plainTrace);
        if (o.status === 'cancelled') return cancelled({ trace, runMs });
        const attempts = result.record.attempts;
        return fail(o.error, { trace, runMs, attempts: attempts.length ? [...attempts] : null });
      };
      if (outcome.status !== 'ok') return ended(outcome);
      let encoded = await this.#encode(outcome);
      const warnings: string[] = [];
      // "Again" on a plan with no randomness gives the same picture: never send it twice. A variant, where the
      // plan has something to vary, is the different result the user asked for.
      if (plan.rerun && target.revisesTurnId !== null && (await this.#sameOutputs(target.revisesTurnId, encoded.results))) {
        const variant = againVariant(request, plan.workflow, this.#o.registry);
        if (!variant) {
          await finish('done', { trace: outcome.trace.map(plainTrace), runMs: Math.round(outcome.durationMs) });
          await emit({ type: 'info', turnId, text: `${SAME_EVERY_TIME} and there is nothing in it I can vary, so I did not send the same picture again. Tell me what to change instead, e.g. "stronger", "too much" or "the other one".` });
          return 'done';
        }
        plan = { ...plan, workflow: variant.workflow, reasoning: variant.reasoning, rerun: false };
        await announce(plan, result.record);
        // The steps the variant shares with the plan just run come from the cache.
        outcome = await this.#o.executor.run(plan.workflow, inputs, { signal, reuseCache: true, onEvent: (e) => void stepEvent(turnId, e, emit) });
        if (outcome.status !== 'ok') return ended(outcome);
        encoded = await this.#encode(outcome);
        warnings.push(`${SAME_EVERY_TIME}, so this one uses ${variant.what}.`);
      }
      return await this.#commit(turn, conv, target, plan, outcome, encoded, warnings, emit, result.review);
    } catch (err) {
      if (signal.aborted) return cancelled();
      return fail(err);
    }
  }

  async #target(turn: TurnToRun, conv: ConversationState): Promise<Target> {
    const { images, store } = this.#o;
    if (turn.intent === 'edit' && turn.upload) {
      const u = turn.upload;
      return { instruction: turn.text, sourceSha: u.sha, image: u.image, mask: u.mask, reference: u.reference, revisesTurnId: null, pushSource: true };
    }
    if (turn.intent === 'revision' || turn.intent === 'rule') {
      const target =
        turn.intent === 'rule'
          ? await this.#turn(turn.conversationId, (await this.#turn(turn.conversationId, turn.turnId))!.revisesTurnId!)
          : turn.replyTarget !== undefined
            ? await this.#turn(turn.conversationId, turn.replyTarget)
            : await this.lastPlanned(turn.conversationId);
      // A turn that failed before it had a plan (Builder down, cancelled while planning) can still be tried again.
      const retryUnplanned = turn.intent === 'revision' && !target?.workflow && Boolean(target?.instruction) && isPlainAgain(turn.text);
      if (!target?.sourceImage || (!target.workflow && !retryUnplanned)) throw new SessionError('nothing-to-revise', 'There is no earlier edit to revise. Send a photo with an instruction.');
      const sourceSha = target.sourceImage;
      return {
        instruction: target.instruction || target.text,
        sourceSha,
        image: await images.load(sourceSha),
        mask: await images.turnMask(target.id),
        reference: await images.turnReference(target.id),
        revise: turn.intent === 'revision' && !retryUnplanned ? { turn: toPriorTurn(target), feedback: turn.text } : undefined,
        revisesTurnId: target.id,
        pushSource: retryUnplanned && conv.current?.image !== sourceSha,
      };
    }
    let from: ImageState | null | undefined;
    if (turn.replyTarget !== undefined) {
      const [out] = await store.outputs(turn.replyTarget);
      from = out ? { image: out, turnId: turn.replyTarget } : undefined;
    }
    from ??= conv.current;
    if (!from) throw new SessionError('no-image', 'There is no image to edit yet. Send a photo with an instruction.');
    // Photos sent without words (an album of a photo and its mask or a second photo), then the instruction:
    // the instruction is for that photo with what came with it. Known from memory, so other follow-ups pay no query.
    const wordless = from.turnId !== null && conv.wordless.has(from.turnId);
    return {
      instruction: turn.text,
      sourceSha: from.image,
      image: await images.load(from.image),
      mask: wordless ? await images.turnMask(from.turnId!) : undefined,
      reference: wordless ? await images.turnReference(from.turnId!) : undefined,
      revisesTurnId: null,
      pushSource: turn.intent === 'edit',
    };
  }

  /** A run's images encoded and put in the blob store, and its text outputs. */
  async #encode(outcome: OkOutcome): Promise<{ readonly results: ResultImage[]; readonly texts: string[] }> {
    const { images, blobs } = this.#o;
    const results: ResultImage[] = [];
    const texts: string[] = [];
    for (const v of outcome.results) {
      if (typeof v === 'string' || typeof v === 'number') {
        texts.push(String(v));
        continue;
      }
      const bytes = await encodeImage(v, 'png');
      const sha = await blobs.put(bytes);
      results.push({ bytes, format: 'png', sha256: sha, width: v.width, height: v.height });
      if (v.kind === 'image') images.remember(sha, v);
    }
    return { results, texts };
  }

  async #commit(
    turn: TurnToRun,
    conv: ConversationState,
    target: Target,
    plan: Plan,
    outcome: OkOutcome,
    encoded: { readonly results: ResultImage[]; readonly texts: string[] },
    notes: readonly string[],
    emit: Emit,
    review?: ReviewRecord,
  ): Promise<TurnStatus> {
    const { store, states, images, blobs } = this.#o;
    const { turnId } = turn;
    const runMs = Math.round(outcome.durationMs);
    const trace = outcome.trace.map(plainTrace);
    const { results, texts } = encoded;
    const warnings = [...notes, ...outcome.warnings.map((w) => w.userMessage)];
    const next = results.length
      ? states.nextStacks(conv, [...(target.pushSource ? [{ image: target.sourceSha, turnId }] : []), { image: results[0]!.sha256, turnId }])
      : undefined;
    images.storedBytes += await store.commitResult({
      conversationId: turn.conversationId,
      turnId,
      outputs: results.map((r) => ({ sha: r.sha256, bytes: r.bytes.byteLength, width: r.width, height: r.height, format: 'png' })),
      stacks: next,
      trace,
      runMs,
      warnings,
      ...(review ? { verdicts: review.verdicts } : {}),
    });
    if (next) states.apply(conv, next);
    conv.lastPlanned = turnId;
    states.remember(conv, toPriorTurn({ text: turn.text, instruction: target.instruction, workflow: plan.workflow, status: 'done', errorMessage: null, trace }));
    // A concurrent prune may have removed a blob this turn just linked; put it back.
    for (const r of results) if (!(await blobs.has(r.sha256))) await blobs.put(r.bytes);

    // For people: what was done and any honest warning; the plan and its timings are behind "Show plan".
    // The critic's one line (what it checked, what it changed) goes with the result it is about.
    const caption = [whatWasDone(plan.workflow, target.instruction), ...warnings, ...(review?.note ? [review.note] : [])].join('\n');
    await emit({ type: 'result', turnId, number: await this.#o.store.turnNumber(turn.conversationId, turnId), images: results, texts, caption });
    if (++conv.turnsSincePrune >= this.#o.settings.pruneEvery || this.#o.retention.overLimit) {
      conv.turnsSincePrune = 0;
      await this.#o.retention.prune(turn.conversationId).catch((err: unknown) => this.#o.logger.warn({ err, convId: turn.conversationId }, 'pruning failed'));
    }
    return 'done';
  }

  /**
   * Stores the rule, then decides whether the last edit must be re-planned under it (turn `turnId`
   * revises it) or already complies (the turn ends here). Returns whether to re-plan; never when
   * `replanLast` is false (the rule came with a new photo, which the next instruction edits).
   */
  async applyRule(key: ConversationKey, convId: number, turnId: number, rule: Rule, everywhere: boolean, emit: Emit, replanLast = true): Promise<boolean> {
    const { store } = this.#o;
    await this.#o.states.addRule(convId, key, rule, everywhere);
    const where = everywhere ? ' in all your chats' : '';
    const stored = `Rule stored: ${describeRule(rule)}.`;
    const last = replanLast ? await this.lastPlanned(convId) : undefined;
    const done = async (text: string): Promise<false> => {
      await store.finishTurn(turnId, 'done');
      await emit({ type: 'info', turnId, text });
      return false;
    };
    if (!replanLast) return done(`${stored} It applies to every edit${where} from now on. Now tell me what to change in your photo.`);
    if (!last?.workflow) return done(`${stored} It applies to every edit${where} from now on.`);
    const what = quote(last.instruction || last.text);
    if (rule.kind === 'prefer') {
      // A preference never makes a plan wrong, so "already follows it" would claim what no check showed: say what the last edit used.
      const used = [...new Set(last.workflow.nodes.map((n) => n.brick))];
      const uses = used.includes(rule.brick.toUpperCase()) ? `used ${used.join(', ')}` : `did not use ${rule.brick}`;
      return done(`${stored} It applies to the next edits${where}; your last edit (${what}) ${uses}.`);
    }
    if (checkRules(last.workflow, [rule], this.#o.registry.list()).length === 0) {
      return done(`${stored} It applies to every edit${where} from now on. Your last edit (${what}) already follows it.`);
    }
    await store.setRevises(turnId, last.id);
    await emit({ type: 'info', turnId, text: `Rule stored: ${describeRule(rule)}${where ? `, for every edit${where}` : ''}. Re-planning your last edit (${what}) under it.` });
    return true;
  }

  /** The newest turn with a workflow: what feedback revises. */
  async lastPlanned(convId: number): Promise<TurnRecord | undefined> {
    const { lastPlanned } = await this.#o.states.get(convId);
    return lastPlanned === undefined ? undefined : this.#turn(convId, lastPlanned);
  }

  #turn(convId: number, turnId: number): Promise<TurnRecord | undefined> {
    return this.#o.store.turn(convId, turnId);
  }

  async #availableBricks(): Promise<ReadonlySet<string>> {
    const now = this.#o.now();
    // Backend probes may touch the network; a short cache keeps them off the per-turn path.
    if (!this.#available || now - this.#available.at > 10_000) {
      const names = this.#o.registry.available();
      this.#available = { at: now, names };
      names.catch(() => (this.#available = undefined));
    }
    return this.#available.names;
  }

  /** Whether `results` are exactly the output images of an earlier turn. */
  async #sameOutputs(turnId: number, results: readonly ResultImage[]): Promise<boolean> {
    const shas = await this.#o.store.outputs(turnId);
    return shas.length === results.length && shas.every((sha, i) => sha === results[i]!.sha256);
  }
}

/** What a plan records on its turn as the turn starts running (and when it is rejected). */
function planFields(plan: Plan, record: PlanRecord): PlanFields {
  return {
    builder: plan.builder,
    reasoning: plan.reasoning ?? null,
    workflow: plan.workflow,
    attempts: record.attempts.length ? [...record.attempts] : null,
    promptTokens: record.usage ? record.usage.promptTokens : null,
    completionTokens: record.usage ? record.usage.completionTokens : null,
    planMs: record.planMs,
  };
}

async function stepEvent(turnId: number, e: ExecutorEvent, emit: Emit): Promise<void> {
  switch (e.type) {
    case 'step-started':
      return emit({ type: 'step-started', turnId, step: e.step, brick: e.brick });
    case 'step-progress':
      return emit({
        type: 'step-progress',
        turnId,
        step: e.step,
        brick: e.brick,
        ...(e.fraction !== undefined ? { fraction: e.fraction } : {}),
        ...(e.message !== undefined ? { message: e.message } : {}),
      });
    case 'step-finished':
      return emit({ type: 'step-finished', turnId, step: e.step, brick: e.brick, durationMs: e.durationMs, cached: e.cache === 'hit', emptyMasks: e.emptyMasks });
    case 'step-failed':
      return emit({ type: 'step-failed', turnId, step: e.step, brick: e.brick, userMessage: e.error.userMessage });
    default:
      return undefined;
  }
}
