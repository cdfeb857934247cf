/**
 * The session manager: turns chat messages into conversation turns with a
 * feedback loop, over a database (turns, lineage, rules, current image with
 * undo/redo) and a content-addressed blob store.
 *
 * Ordering: each conversation has one chain of jobs, so turns and state
 * changes (undo, reset, rules) apply in the order messages arrived, and at
 * most one turn runs per conversation. Read-only commands skip the chain.
 *
 * Durability: a turn row (and its uploaded image) is written before the user
 * hears "queued" or "planning"; a result is committed, with the new current
 * image, before the result event. Turns left unfinished by a crash are marked
 * interrupted at start-up and the user is told on their next message.
 */
import { type SQL, and, asc, desc, eq, inArray, isNotNull, isNull, or, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { LRUCache } from 'lru-cache';
import { conversations, type ImageState, images, messageLinks, rules as rulesTable, turnImages, turns } from '../../db/schema.ts';
import { type Builder, isPlanFixable, type Plan, type PlanAttempt, type PlanRequest, type PriorTurn, type Rule } from '../builder/builder.ts';
import type { IntentAdvice, IntentAdvisor } from '../builder/intent-advisor.ts';
import { isPlainAgain } from '../builder/revise.ts';
import { checkRules, describeRule } from '../builder/rules.ts';
import { LegoEditError, errorMessage } from '../engine/errors.ts';
import type { ExecutorEvent } from '../engine/events.ts';
import type { Executor, RunOutcome, StepTrace } from '../engine/executor.ts';
import { encodeImage, type ImageLimits } from '../engine/image-io.ts';
import type { BrickRegistry } from '../engine/registry.ts';
import type { ImageData, MaskData } from '../engine/values.ts';
import { summariseWorkflow, toLegoEditJson } from '../engine/workflow/serialise.ts';
import type { Workflow } from '../engine/workflow/types.ts';
import { silentLogger } from '../logger.ts';
import { SessionError } from './errors.ts';
import { formatHistory, formatPlan, formatRules, interruptedText, quote } from './format.ts';
import { DEFAULT_SETTINGS, type SessionSettings } from './settings.ts';
import { Retention } from './retention.ts';
import { SessionImages } from './session-images.ts';
import type { BlobStore } from './blob-store.ts';
import type { SessionDb } from './database.ts';
import { type Classified, applyAdvice, classify, isAdvisable } from './intent.ts';
import type {
  CommandReply,
  ConversationKey,
  HandleOutcome,
  HistoryEntry,
  IncomingMessage,
  Intent,
  PlanView,
  ResultImage,
  RuleEntry,
  SessionEvent,
  SessionListener,
  SessionManager,
  TurnStatus,
} from './types.ts';

export interface SessionManagerOptions {
  readonly db: SessionDb;
  readonly blobs: BlobStore;
  readonly builder: Builder;
  readonly executor: Executor;
  readonly registry: BrickRegistry;
  readonly limits: ImageLimits;
  readonly settings?: Partial<SessionSettings>;
  readonly logger?: Logger;
  /** Milliseconds clock for rate limits (tests move it). */
  readonly now?: () => number;
  /** A model asked what free text means when the deterministic classifier can only guess (edit further or revise). */
  readonly intentAdvisor?: IntentAdvisor;
  /**
   * The database is a server (PostgreSQL) that keeps what it has accepted when this process dies. A turn's progress
   * writes (queued, planning, running) then commit without waiting for the disk, and the turn's last write, which
   * waits, flushes them with it. Embedded PGlite dies with this process, so there every write waits.
   */
  readonly databaseOutlivesProcess?: boolean;
}

/** Always true; makes the statement's own transaction commit without waiting for its WAL flush (set_config(…, true) is SET LOCAL). */
const COMMIT_WITHOUT_FLUSH = sql`set_config('synchronous_commit', 'off', true) = 'off'`;

type TurnRow = typeof turns.$inferSelect;

/** A user's photo as stored on arrival, with the mask or reference photo sent beside it, if any. */
interface Upload {
  readonly image: ImageData;
  readonly sha: string;
  readonly mask?: { readonly mask: MaskData; readonly sha: string };
  readonly reference?: { readonly image: ImageData; readonly sha: string };
}
type ConversationRow = typeof conversations.$inferSelect;

/** A job queued or running in a conversation's chain. */
interface Job {
  readonly controller: AbortController;
  turnId?: number;
}

interface ActiveConversation {
  tail: Promise<unknown>;
  readonly jobs: Set<Job>;
  /** Pinned while jobs run, so the cache can never hand out a second, diverging copy. */
  state?: ConversationState;
}

/**
 * What the manager needs of a conversation on every turn, kept in memory. This
 * process is the only writer (see docs/sessions.md), and every change is
 * written to the database before it is applied here.
 */
interface ConversationState {
  readonly id: number;
  readonly platform: string;
  readonly userId: string;
  current: ImageState | null;
  undo: ImageState[];
  redo: ImageState[];
  /** The newest turn with a workflow: what feedback revises. */
  lastPlanned: number | undefined;
  /** `scoped`: belongs to this conversation (reset removes it), else to the user everywhere. */
  rules: Array<{ id: number; rule: Rule; scoped: boolean }>;
  /** The Builder's context: the newest finished planned turns, oldest first. */
  history: PriorTurn[];
  /** Turns of photos sent without words that brought a mask or second photo: an instruction on that photo gets it too. */
  readonly wordless: Set<number>;
  turnsSincePrune: number;
}

interface UserLoad {
  pending: number;
  starts: number[];
}

/** An error a user caused or can act on; its message is shown as is. */

const TURN_INTENTS = new Set<Intent>(['edit', 'follow-up', 'revision', 'rule', 'ask-what-to-do']);
const FINISHED: readonly TurnStatus[] = ['done', 'failed', 'cancelled', 'interrupted'];

function keyText(k: ConversationKey): string {
  return `${k.platform}\u0000${k.chatId}\u0000${k.threadId ?? ''}\u0000${k.userId}`;
}


function isUniqueViolation(err: unknown): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) if ((e as { code?: string }).code === '23505') return true;
  return false;
}

export class DbSessionManager implements SessionManager {
  readonly #db: SessionDb;
  readonly #blobs: BlobStore;
  readonly #builder: Builder;
  readonly #executor: Executor;
  readonly #registry: BrickRegistry;
  readonly #limits: ImageLimits;
  readonly #settings: SessionSettings;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #advisor: IntentAdvisor | undefined;
  /** The condition added to progress writes: see SessionManagerOptions.databaseOutlivesProcess. */
  readonly #progressCommit: SQL;

  readonly #ids: LRUCache<string, number>;
  readonly #states: LRUCache<number, ConversationState>;
  readonly #images: SessionImages;
  readonly #retention: Retention;
  readonly #active = new Map<number, ActiveConversation>();
  /** Per conversation key: the tail of messages still being classified and admitted, so they queue in arrival order. */
  readonly #arrivals = new Map<string, Promise<unknown>>();
  readonly #users = new Map<string, UserLoad>();
  /** Conversations with interrupted turns nobody has been told about. */
  readonly #noticeDue = new Set<number>();
  #available?: { readonly at: number; readonly names: Promise<ReadonlySet<string>> };
  /** Bumped whenever a rule for all of a user's chats is stored or forgotten: see #state. */
  #userRulesEpoch = 0;
  #closed = false;

  private constructor(options: SessionManagerOptions) {
    this.#db = options.db;
    this.#blobs = options.blobs;
    this.#builder = options.builder;
    this.#executor = options.executor;
    this.#registry = options.registry;
    this.#limits = options.limits;
    this.#settings = { ...DEFAULT_SETTINGS, ...options.settings };
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#advisor = options.intentAdvisor;
    this.#progressCommit = options.databaseOutlivesProcess ? COMMIT_WITHOUT_FLUSH : sql`true`;
    this.#ids = new LRUCache({ max: this.#settings.cachedConversations });
    this.#states = new LRUCache({ max: this.#settings.cachedConversations });
    this.#images = new SessionImages({ db: this.#db, blobs: this.#blobs, limits: this.#limits, decodedCacheBytes: this.#settings.decodedCacheBytes });
    this.#retention = new Retention({ db: this.#db, blobs: this.#blobs, images: this.#images, limits: this.#settings });
  }

  /** Starts a manager: marks turns a crash left unfinished as interrupted, then accepts messages. */
  static async start(options: SessionManagerOptions): Promise<DbSessionManager> {
    const m = new DbSessionManager(options);
    await m.#recover();
    return m;
  }

  async #recover(): Promise<void> {
    const interrupted = await this.#db
      .update(turns)
      .set({ status: 'interrupted', noticePending: true, finishedAt: new Date() })
      .where(inArray(turns.status, ['queued', 'planning', 'running']))
      .returning({ id: turns.id });
    if (interrupted.length) this.#logger.warn({ turns: interrupted.map((t) => t.id) }, 'marked turns left unfinished by a crash as interrupted');
    const due = await this.#db.selectDistinct({ id: turns.conversationId }).from(turns).where(eq(turns.noticePending, true));
    for (const d of due) this.#noticeDue.add(d.id);
    await this.#images.countStored();
  }

  // ---- conversation lookup ------------------------------------------------

  async #conversationId(key: ConversationKey, userName?: string): Promise<number> {
    const k = keyText(key);
    const cached = this.#ids.get(k);
    if (cached !== undefined) return cached;
    const [row] = await this.#db
      .insert(conversations)
      .values({ platform: key.platform, chatId: key.chatId, threadId: key.threadId ?? '', userId: key.userId, userName })
      .onConflictDoUpdate({
        target: [conversations.platform, conversations.chatId, conversations.threadId, conversations.userId],
        set: { updatedAt: sql`now()` },
      })
      .returning({ id: conversations.id });
    this.#ids.set(k, row!.id);
    return row!.id;
  }

  /** The conversation of a key if it exists; never creates one (queries must not leave rows behind). */
  async #existingConversation(key: ConversationKey): Promise<ConversationRow | undefined> {
    const [row] = await this.#db
      .select()
      .from(conversations)
      .where(
        and(
          eq(conversations.platform, key.platform),
          eq(conversations.chatId, key.chatId),
          eq(conversations.threadId, key.threadId ?? ''),
          eq(conversations.userId, key.userId),
        ),
      );
    if (row) this.#ids.set(keyText(key), row.id);
    return row;
  }

  async #state(convId: number): Promise<ConversationState> {
    const pinned = this.#active.get(convId)?.state;
    if (pinned) return pinned;
    let state = this.#states.get(convId);
    if (!state) {
      let loaded: ConversationState;
      let epoch: number;
      // A rule for all chats stored or forgotten while this loaded may be missing from what it read; read again.
      do {
        epoch = this.#userRulesEpoch;
        loaded = await this.#loadState(convId);
      } while (epoch !== this.#userRulesEpoch);
      // Another caller may have loaded it meanwhile; keep one copy.
      state = this.#active.get(convId)?.state ?? this.#states.get(convId) ?? loaded;
      this.#states.set(convId, state);
    }
    const active = this.#active.get(convId);
    if (active) active.state = state;
    return state;
  }

  async #loadState(convId: number): Promise<ConversationState> {
    const [row] = await this.#db.select().from(conversations).where(eq(conversations.id, convId));
    if (!row) throw new Error(`conversation ${convId} vanished`);
    const [ruleRows, planned, wordless] = await Promise.all([
      this.#db
        .select({ id: rulesTable.id, data: rulesTable.data, conversationId: rulesTable.conversationId })
        .from(rulesTable)
        .where(
          or(
            eq(rulesTable.conversationId, convId),
            and(isNull(rulesTable.conversationId), eq(rulesTable.platform, row.platform), eq(rulesTable.userId, row.userId)),
          ),
        )
        .orderBy(asc(rulesTable.id)),
      this.#db
        .select({ id: turns.id, text: turns.text, instruction: turns.instruction, workflow: turns.workflow, status: turns.status, errorMessage: turns.errorMessage, trace: turns.trace })
        .from(turns)
        .where(and(eq(turns.conversationId, convId), isNotNull(turns.workflow)))
        .orderBy(desc(turns.id))
        .limit(this.#settings.historyTurns),
      this.#db
        .selectDistinct({ id: turnImages.turnId })
        .from(turnImages)
        .innerJoin(turns, eq(turns.id, turnImages.turnId))
        .where(and(eq(turns.conversationId, convId), eq(turns.intent, 'ask-what-to-do'), eq(turnImages.role, 'input'), sql`${turnImages.position} > 0`)),
    ]);
    return {
      id: convId,
      platform: row.platform,
      userId: row.userId,
      current: row.current ?? null,
      undo: row.undoStack,
      redo: row.redoStack,
      lastPlanned: planned[0]?.id,
      rules: ruleRows.map((r) => ({ id: r.id, rule: r.data as Rule, scoped: r.conversationId !== null })),
      history: planned
        .filter((r) => (FINISHED as readonly string[]).includes(r.status))
        .reverse()
        .map((r) => toPriorTurn(r)),
      wordless: new Set(wordless.map((w) => w.id)),
      turnsSincePrune: 0,
    };
  }

  #remember(state: ConversationState, turn: PriorTurn): void {
    state.history.push(turn);
    while (state.history.length > this.#settings.historyTurns) state.history.shift();
  }

  // ---- handle ---------------------------------------------------------------

  async handle(message: IncomingMessage, listener: SessionListener): Promise<HandleOutcome> {
    if (this.#closed) throw new Error('session manager is closed');
    // Classification depends on what earlier messages queued, so a conversation admits one message at a time;
    // the admitted work itself runs later, on the conversation's chain.
    const k = keyText(message);
    const previous = this.#arrivals.get(k) ?? Promise.resolve();
    let admitted!: () => void;
    const gate = new Promise<void>((resolve) => (admitted = resolve));
    const tail = previous.then(() => gate);
    this.#arrivals.set(k, tail);
    await previous;
    let released = false;
    const admit = (): void => {
      if (released) return;
      released = true;
      admitted();
      if (this.#arrivals.get(k) === tail) this.#arrivals.delete(k);
    };
    try {
      return await this.#handle(message, listener, admit);
    } finally {
      admit();
    }
  }

  async #handle(message: IncomingMessage, listener: SessionListener, admitted: () => void): Promise<HandleOutcome> {
    const emit = async (e: SessionEvent): Promise<void> => {
      try {
        await listener(e);
      } catch (err) {
        this.#logger.warn({ err, event: e.type }, 'session listener threw');
      }
    };
    const key: ConversationKey = {
      platform: message.platform,
      chatId: message.chatId,
      userId: message.userId,
      ...(message.threadId ? { threadId: message.threadId } : {}),
    };
    const convId = await this.#conversationId(key, message.userName);
    if (this.#noticeDue.has(convId)) await this.#tellInterrupted(convId, emit);

    const active = this.#active.get(convId);
    const busy = (active?.jobs.size ?? 0) > 0;
    const state = await this.#state(convId);
    const context = {
      hasImage: message.images.length > 0,
      hasCurrent: busy || state.current !== null,
      hasLastTurn: busy || state.lastPlanned !== undefined,
      replying: message.replyTo !== undefined,
      bricks: this.#registry.list(),
    };
    let classified = classify(message.text, context);
    if (this.#advisor && isAdvisable(classified)) {
      const advice = await this.#advise(this.#advisor, message.text ?? '', state);
      if (advice) classified = applyAdvice(classified, advice, context);
    }
    const { intent } = classified;

    switch (intent) {
      case 'history': {
        const entries = await this.#history(convId, 10);
        await emit({ type: 'info', text: formatHistory(entries) });
        return { intent };
      }
      case 'rules': {
        const list = await this.#rules(convId);
        await emit({ type: 'info', text: formatRules(list) });
        return { intent };
      }
      case 'show-plan': {
        const view = await this.#plan(convId, message.replyTo ? await this.#resolveReply(convId, message.replyTo) : undefined);
        await emit(view ? { type: 'info', text: formatPlan(view), turnId: view.turnId } : { type: 'info', text: 'There is no plan yet in this conversation.' });
        return { intent };
      }
      case 'cancel': {
        const reply = await this.cancel(key, key.userId);
        await emit({ type: 'info', text: reply.text });
        return { intent };
      }
      case 'clarify':
        await emit({ type: 'clarify', question: classified.question ?? 'What should I do?' });
        return { intent };
      case 'undo':
      case 'redo':
      case 'reset':
      case 'forget-rule':
        return this.#enqueueAdmitted(admitted, convId, async () => {
          const reply =
            intent === 'undo'
              ? await this.#undoRedo(convId, 'undo')
              : intent === 'redo'
                ? await this.#undoRedo(convId, 'redo')
                : intent === 'reset'
                  ? await this.#reset(convId)
                  : await this.#forgetRule(convId, classified.index ?? 0);
          await this.#emitReply(reply, emit);
          return { intent };
        });
      default:
        if (!TURN_INTENTS.has(intent)) throw new Error(`unhandled intent ${intent}`);
        return this.#acceptTurn(key, convId, message, classified, emit, admitted);
    }
  }

  /** The advisor's reading of `text`, or undefined when it fails or is slow: the deterministic answer then stands. */
  async #advise(advisor: IntentAdvisor, text: string, state: ConversationState): Promise<IntentAdvice | undefined> {
    const lastInstruction = state.history.at(-1)?.instruction;
    try {
      return await advisor.adviseIntent({ text, ...(lastInstruction ? { lastInstruction } : {}), signal: AbortSignal.timeout(this.#settings.adviceTimeoutMs) });
    } catch (err) {
      this.#logger.warn({ err: errorMessage(err) }, 'intent advice failed; the deterministic intent stands');
      return undefined;
    }
  }

  async #emitReply(reply: CommandReply, emit: (e: SessionEvent) => Promise<void>): Promise<void> {
    if (reply.image) await emit({ type: 'result', turnId: 0, images: [reply.image], texts: [], caption: reply.text });
    else await emit(reply.ok ? { type: 'info', text: reply.text } : { type: 'error', code: 'command', userMessage: reply.text });
  }

  async #tellInterrupted(convId: number, emit: (e: SessionEvent) => Promise<void>): Promise<void> {
    this.#noticeDue.delete(convId);
    const told = await this.#db
      .update(turns)
      .set({ noticePending: false })
      .where(and(eq(turns.conversationId, convId), eq(turns.noticePending, true)))
      .returning({ id: turns.id, text: turns.text });
    for (const t of told.sort((a, b) => a.id - b.id)) {
      await emit({ type: 'info', turnId: t.id, text: interruptedText(t.text) });
    }
  }

  #enqueueAdmitted<T>(admitted: () => void, convId: number, work: (job: Job) => Promise<T>): Promise<T> {
    const run = this.#enqueue(convId, work);
    admitted();
    return run;
  }

  /** Runs `work` after everything earlier in the conversation; cancellation aborts `job.controller`. */
  #enqueue<T>(convId: number, work: (job: Job) => Promise<T>, job: Job = { controller: new AbortController() }): Promise<T> {
    let active = this.#active.get(convId);
    if (!active) {
      const cached = this.#states.get(convId);
      active = { tail: Promise.resolve(), jobs: new Set(), ...(cached ? { state: cached } : {}) };
      this.#active.set(convId, active);
    }
    const conv = active;
    conv.jobs.add(job);
    const run = conv.tail.then(() => work(job));
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    conv.tail = settled;
    void settled.then(() => {
      conv.jobs.delete(job);
      // Idle conversations hold no memory beyond their id.
      if (conv.jobs.size === 0 && this.#active.get(convId) === conv) this.#active.delete(convId);
    });
    return run;
  }

  #userLoad(key: ConversationKey): UserLoad {
    const k = `${key.platform}\u0000${key.userId}`;
    let load = this.#users.get(k);
    if (!load) {
      load = { pending: 0, starts: [] };
      this.#users.set(k, load);
    }
    return load;
  }

  /** Refuses a turn over the user's limits; otherwise counts it. */
  #admit(key: ConversationKey): string | undefined {
    const load = this.#userLoad(key);
    const now = this.#now();
    load.starts = load.starts.filter((t) => now - t < 60_000);
    if (load.pending >= this.#settings.maxPendingPerUser) {
      return `You already have ${load.pending} edits waiting or running (the limit is ${this.#settings.maxPendingPerUser}). Wait for them to finish, or cancel them.`;
    }
    if (load.starts.length >= this.#settings.turnsPerMinute) {
      const wait = Math.ceil((60_000 - (now - load.starts[0]!)) / 1000);
      return `That is more than ${this.#settings.turnsPerMinute} edits in a minute. Please try again in ${wait} s.`;
    }
    load.pending++;
    load.starts.push(now);
    return undefined;
  }

  #release(key: ConversationKey): void {
    const k = `${key.platform}\u0000${key.userId}`;
    const load = this.#users.get(k);
    if (!load) return;
    load.pending = Math.max(0, load.pending - 1);
    if (load.pending === 0 && load.starts.every((t) => this.#now() - t >= 60_000)) this.#users.delete(k);
  }

  async #acceptTurn(
    key: ConversationKey,
    convId: number,
    message: IncomingMessage,
    classified: Classified,
    emit: (e: SessionEvent) => Promise<void>,
    admitted: () => void,
  ): Promise<HandleOutcome> {
    const { intent } = classified;
    const refused = this.#admit(key);
    if (refused) {
      await emit({ type: 'error', code: 'rate-limited', userMessage: refused });
      return { intent };
    }
    let released = false;
    const release = (): void => {
      if (!released) this.#release(key);
      released = true;
    };
    try {
      // Bad input is refused before anything is stored, so it can never displace the user's work.
      let upload: Upload | undefined;
      const [first, second] = message.images;
      if (first) {
        try {
          // A second image (a Telegram album, Discord's mask option) is the region to edit, init[mask], when it is
          // black and white, else a photo of something to paste in, init[reference]. Both are checked before either is stored.
          const extra = second ? await this.#images.readSecond(second.bytes, second.role) : undefined;
          const { image, sha } = await this.#images.storeUpload(first.bytes);
          upload = {
            image,
            sha,
            ...(extra && 'mask' in extra ? { mask: { mask: extra.mask, sha: await this.#images.storeMask(second!.bytes, extra.mask) } } : {}),
            ...(extra && 'reference' in extra ? { reference: { image: extra.reference, sha: await this.#images.storeReference(second!.bytes, extra.reference) } } : {}),
          };
        } catch (err) {
          if (err instanceof LegoEditError) {
            await emit({ type: 'error', code: err.code, userMessage: err.userMessage });
            return { intent };
          }
          throw err;
        }
      }
      const replyTarget = message.replyTo ? await this.#resolveReply(convId, message.replyTo) : undefined;
      if (message.replyTo && replyTarget === undefined) {
        await emit({ type: 'error', code: 'unknown-reply', userMessage: 'I cannot find the message you replied to in your conversation; send your request without replying to it.' });
        return { intent };
      }
      const text = (message.text ?? '').trim();

      // Every message that starts work gets its turn row now: the message id makes a redelivery a no-op.
      let turnId: number;
      try {
        turnId = await this.#insertTurn(convId, message.messageId, text, intent, upload, intent === 'ask-what-to-do' ? 'done' : 'queued');
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        await emit({ type: 'info', text: 'I already have this message; it is being handled or was handled before.' });
        return { intent };
      }

      const job: Job = { controller: new AbortController(), turnId };
      const ahead = this.#active.get(convId)?.jobs.size ?? 0;
      const outcome = this.#enqueue(
        convId,
        async (j): Promise<HandleOutcome> => {
          if (intent === 'ask-what-to-do') {
            const conv = await this.#state(convId);
            await this.#pushState(conv, [{ image: upload!.sha, turnId }]);
            if (upload!.mask || upload!.reference) conv.wordless.add(turnId);
            await emit({ type: 'clarify', question: classified.question ?? 'What should I do with this photo?' });
            return { intent, turnId, status: 'done' };
          }
          if (intent === 'rule') {
            if (classified.everywhere && message.sharedIdentity) {
              await emit({ type: 'info', turnId, text: 'You write anonymously here (as the group or a channel), so I keep this rule to this chat only.' });
            }
            const replan = await this.#applyRule(key, convId, turnId, classified.rule!, classified.everywhere === true && !message.sharedIdentity, emit);
            if (!replan) return { intent, turnId, status: 'done' };
          }
          return { intent, turnId, status: await this.#runTurn(convId, turnId, j, emit, { intent, text, key, upload, replyTarget }) };
        },
        job,
      );
      admitted();
      if (ahead > 0 && turnId !== undefined) await emit({ type: 'queued', turnId, position: ahead });
      return await outcome;
    } finally {
      release();
    }
  }

  async #insertTurn(convId: number, messageId: string, text: string, intent: Intent, upload: Upload | undefined, status: TurnStatus): Promise<number> {
    const inputSha = upload?.sha ?? null;
    const maskSha = upload?.mask?.sha ?? null;
    const referenceSha = upload?.reference?.sha ?? null;
    // One statement, so the turn and its input links are written together without a transaction's round trips.
    const result = await this.#db.execute(sql`
      with t as (
        insert into ${turns} (conversation_id, message_id, text, intent, status, source_image, finished_at)
        values (${convId}, ${messageId || null}, ${text}, ${intent}, ${status}, ${inputSha}, ${status === 'done' ? sql`now()` : null})
        returning id
      ), l as (
        insert into ${turnImages} (turn_id, role, position, image_sha)
        select id, 'input', 0, ${inputSha}::text from t where ${inputSha}::text is not null
        union all
        select id, 'input', 1, ${maskSha}::text from t where ${maskSha}::text is not null
        union all
        select id, 'input', 2, ${referenceSha}::text from t where ${referenceSha}::text is not null
      )
      select id from t where ${this.#progressCommit}`);
    return Number(rowsOf<{ id: number }>(result)[0]!.id);
  }

  async #resolveReply(convId: number, replyTo: NonNullable<IncomingMessage['replyTo']>): Promise<number | undefined> {
    if (replyTo.turnId !== undefined) {
      const [row] = await this.#db
        .select({ id: turns.id })
        .from(turns)
        .where(and(eq(turns.id, replyTo.turnId), eq(turns.conversationId, convId)));
      return row?.id;
    }
    if (replyTo.messageId !== undefined) {
      const [row] = await this.#db
        .select({ id: messageLinks.turnId })
        .from(messageLinks)
        .where(and(eq(messageLinks.conversationId, convId), eq(messageLinks.platformMessageId, replyTo.messageId)));
      return row?.id;
    }
    return undefined;
  }

  async #lastPlannedTurn(convId: number): Promise<TurnRow | undefined> {
    const { lastPlanned } = await this.#state(convId);
    return lastPlanned === undefined ? undefined : this.#turnRow(convId, lastPlanned);
  }

  async #turnRow(convId: number, turnId: number): Promise<TurnRow | undefined> {
    const [row] = await this.#db
      .select()
      .from(turns)
      .where(and(eq(turns.id, turnId), eq(turns.conversationId, convId)));
    return row;
  }

  /**
   * Stores the rule, then decides whether the last edit must be re-planned under it (turn `turnId`
   * revises it) or already complies (the turn ends here). Returns whether to re-plan.
   */
  async #applyRule(key: ConversationKey, convId: number, turnId: number, rule: Rule, everywhere: boolean, emit: (e: SessionEvent) => Promise<void>): Promise<boolean> {
    const [stored] = await this.#db
      .insert(rulesTable)
      .values({
        // No conversation: the rule belongs to the user on this platform, and every conversation of theirs loads it.
        conversationId: everywhere ? null : convId,
        platform: key.platform,
        userId: key.userId,
        kind: rule.kind,
        brick: rule.brick,
        before: rule.before ?? null,
        text: rule.text,
        data: rule,
      })
      .returning({ id: rulesTable.id });
    const entry = { id: stored!.id, rule, scoped: !everywhere };
    if (everywhere) {
      this.#userRulesEpoch++;
      // A state loaded after the insert already has it.
      for (const other of this.#cachedStatesOf(key.platform, key.userId)) if (!other.rules.some((r) => r.id === entry.id)) other.rules.push(entry);
    }
    const here = await this.#state(convId);
    if (!here.rules.some((r) => r.id === entry.id)) here.rules.push(entry);
    const where = everywhere ? ' in all your chats' : '';
    const last = await this.#lastPlannedTurn(convId);
    const complies = last?.workflow && checkRules(last.workflow as Workflow, [rule], this.#registry.list()).length === 0;
    if (!last?.workflow || complies) {
      await this.#db.update(turns).set({ status: 'done', finishedAt: new Date() }).where(eq(turns.id, turnId));
      const already = complies ? ` Your last edit (${quote(last.instruction || last.text)}) already follows it.` : '';
      await emit({ type: 'info', turnId, text: `Rule stored: ${describeRule(rule)}. It applies to every edit${where} from now on.${already}` });
      return false;
    }
    await this.#db.update(turns).set({ revisesTurnId: last.id }).where(eq(turns.id, turnId));
    await emit({ type: 'info', turnId, text: `Rule stored: ${describeRule(rule)}${where ? `, for every edit${where}` : ''}. Re-planning your last edit (${quote(last.instruction || last.text)}) under it.` });
    return true;
  }

  /** Every conversation state held in memory for this user on this platform: rules for all their chats are applied to each. */
  #cachedStatesOf(platform: string, userId: string): Set<ConversationState> {
    const found = new Set<ConversationState>();
    for (const s of this.#states.values()) if (s.platform === platform && s.userId === userId) found.add(s);
    for (const a of this.#active.values()) if (a.state?.platform === platform && a.state.userId === userId) found.add(a.state);
    return found;
  }

  async #availableBricks(): Promise<ReadonlySet<string>> {
    const now = this.#now();
    // Backend probes may touch the network; a short cache keeps them off the per-turn path.
    if (!this.#available || now - this.#available.at > 10_000) {
      const names = this.#registry.available();
      this.#available = { at: now, names };
      names.catch(() => (this.#available = undefined));
    }
    return this.#available.names;
  }

  async #runTurn(
    convId: number,
    turnId: number,
    job: Job,
    emit: (e: SessionEvent) => Promise<void>,
    ctx: {
      readonly intent: Intent;
      readonly text: string;
      readonly key: ConversationKey;
      readonly upload?: Upload | undefined;
      readonly replyTarget?: number | undefined;
    },
  ): Promise<TurnStatus> {
    const { signal } = job.controller;
    const conv = await this.#state(convId);
    let planned: { instruction: string; workflow: Workflow } | undefined;
    const finish = async (status: TurnStatus, extra: Partial<typeof turns.$inferInsert> = {}): Promise<TurnStatus> => {
      await this.#db
        .update(turns)
        .set({ status, finishedAt: new Date(), ...extra })
        .where(eq(turns.id, turnId));
      const workflow = planned?.workflow ?? (extra.workflow as Workflow | undefined);
      if (workflow) {
        conv.lastPlanned = turnId;
        this.#remember(conv, toPriorTurn({ text: ctx.text, instruction: planned?.instruction ?? ctx.text, workflow, status, errorMessage: extra.errorMessage ?? null, trace: extra.trace }));
      }
      return status;
    };
    const cancelled = async (): Promise<TurnStatus> => {
      const s = await finish('cancelled');
      await emit({ type: 'cancelled', turnId });
      return s;
    };
    const fail = async (err: unknown, extra: Partial<typeof turns.$inferInsert> = {}): Promise<TurnStatus> => {
      const known = err instanceof LegoEditError;
      if (!known) this.#logger.error({ err, turnId }, 'turn failed unexpectedly');
      const code = known ? err.code : 'internal';
      const userMessage = known ? err.userMessage : 'Something went wrong on my side; your earlier images are safe. Please try again.';
      const s = await finish('failed', { errorCode: code, errorMessage: known ? err.message : errorMessage(err), ...extra });
      await emit({ type: 'error', turnId, code, userMessage });
      return s;
    };
    if (signal.aborted) return cancelled();

    try {
      // What to plan, on which image: resolved now, not on arrival, so feedback sent while a turn ran revises that turn.
      let instruction = ctx.text;
      let sourceSha: string;
      let image: ImageData;
      let mask: { mask: MaskData; sha: string } | undefined;
      let reference: { image: ImageData; sha: string } | undefined;
      let revise: { turn: PriorTurn; feedback: string } | undefined;
      let revisesTurnId: number | null = null;
      // An edit of a new photo puts the photo itself on the undo stack, below its result.
      let pushSource = ctx.intent === 'edit';
      if (ctx.intent === 'edit' && ctx.upload) {
        sourceSha = ctx.upload.sha;
        image = ctx.upload.image;
        mask = ctx.upload.mask;
        reference = ctx.upload.reference;
      } else if (ctx.intent === 'revision' || ctx.intent === 'rule') {
        const target =
          ctx.intent === 'rule'
            ? await this.#turnRow(convId, (await this.#turnRow(convId, turnId))!.revisesTurnId!)
            : ctx.replyTarget !== undefined
              ? await this.#turnRow(convId, ctx.replyTarget)
              : await this.#lastPlannedTurn(convId);
        // A turn that failed before it had a plan (Builder down, cancelled while planning) can still be tried again.
        const retryUnplanned = ctx.intent === 'revision' && !target?.workflow && Boolean(target?.instruction) && isPlainAgain(ctx.text);
        if (!target?.sourceImage || (!target.workflow && !retryUnplanned)) throw new SessionError('nothing-to-revise', 'There is no earlier edit to revise. Send a photo with an instruction.');
        revisesTurnId = target.id;
        instruction = target.instruction || target.text;
        sourceSha = target.sourceImage;
        image = await this.#images.load(sourceSha);
        mask = await this.#images.turnMask(target.id);
        reference = await this.#images.turnReference(target.id);
        if (ctx.intent === 'revision' && !retryUnplanned) revise = { turn: toPriorTurn(target), feedback: ctx.text };
        pushSource = retryUnplanned && conv.current?.image !== sourceSha;
      } else {
        let from: ImageState | null | undefined;
        if (ctx.replyTarget !== undefined) {
          const [out] = await this.#db
            .select({ sha: turnImages.imageSha })
            .from(turnImages)
            .where(and(eq(turnImages.turnId, ctx.replyTarget), eq(turnImages.role, 'output')))
            .orderBy(asc(turnImages.position))
            .limit(1);
          from = out ? { image: out.sha, turnId: ctx.replyTarget } : undefined;
        }
        from ??= conv.current;
        if (!from) throw new SessionError('no-image', 'There is no image to edit yet. Send a photo with an instruction.');
        sourceSha = from.image;
        image = await this.#images.load(sourceSha);
        // Photos sent without words (an album of a photo and its mask or a second photo), then the instruction:
        // the instruction is for that photo with what came with it. Known from memory, so other follow-ups pay no query.
        if (from.turnId !== null && conv.wordless.has(from.turnId)) {
          mask = await this.#images.turnMask(from.turnId);
          reference = await this.#images.turnReference(from.turnId);
        }
      }

      await this.#db.execute(sql`
        with u as (
          update ${turns} set status = 'planning', started_at = now(), instruction = ${instruction}, source_image = ${sourceSha}, revises_turn_id = ${revisesTurnId}
          where id = ${turnId} and ${this.#progressCommit} returning id
        )
        insert into ${turnImages} (turn_id, role, position, image_sha)
        select id, 'input', 0, ${sourceSha} from u
        union all
        select id, 'input', 1, ${mask?.sha ?? null}::text from u where ${mask?.sha ?? null}::text is not null
        union all
        select id, 'input', 2, ${reference?.sha ?? null}::text from u where ${reference?.sha ?? null}::text is not null
        on conflict do nothing`);
      await emit({ type: 'planning', turnId });
      if (signal.aborted) return cancelled();

      const ruleList = conv.rules.map((r) => r.rule);
      const request: PlanRequest = {
        image,
        instruction,
        hasMask: mask !== undefined,
        hasReference: reference !== undefined,
        available: await this.#availableBricks(),
        signal,
        history: [...conv.history],
        rules: ruleList,
        ...(revise ? { revise } : {}),
      };
      const planStarted = performance.now();
      let plan: Plan;
      try {
        plan = await this.#builder.plan(request);
      } catch (err) {
        if (signal.aborted) return cancelled();
        return fail(err, { planMs: Math.round(performance.now() - planStarted) });
      }
      // Every attempt of this turn, planning and run-time repairs alike, is kept for the history and the export.
      const attempts: PlanAttempt[] = [...(plan.attempts ?? [])];
      const usage = { promptTokens: 0, completionTokens: 0 };
      let planMs = 0;
      let outcome: RunOutcome;
      for (let repairs = 0; ; repairs++) {
        planMs += Math.round(plan.latencyMs ?? performance.now() - planStarted);
        usage.promptTokens += plan.usage?.promptTokens ?? 0;
        usage.completionTokens += plan.usage?.completionTokens ?? 0;
        const violations = checkRules(plan.workflow, ruleList, this.#registry.list());
        const planFields = {
          builder: plan.builder,
          reasoning: plan.reasoning ?? null,
          workflow: plan.workflow,
          attempts: attempts.length ? attempts : null,
          promptTokens: plan.usage || usage.promptTokens ? usage.promptTokens : null,
          completionTokens: plan.usage || usage.completionTokens ? usage.completionTokens : null,
          planMs,
        };
        if (violations.length) {
          return fail(new SessionError('rule-violated', `The plan I found breaks your rules: ${violations.join(' ')} Try /forget to drop a rule, or rephrase.`), planFields);
        }
        await this.#db
          .update(turns)
          .set({ status: 'running', ...planFields })
          .where(and(eq(turns.id, turnId), this.#progressCommit));
        planned = { instruction, workflow: plan.workflow };
        conv.lastPlanned = turnId;
        await emit({
          type: 'planned',
          turnId,
          summary: summariseWorkflow(plan.workflow),
          workflow: toLegoEditJson(plan.workflow),
          builder: plan.builder,
          steps: plan.workflow.nodes.length,
        });
        if (signal.aborted) return cancelled();

        outcome = await this.#executor.run(plan.workflow, { image, ...(mask ? { mask: mask.mask } : {}), ...(reference ? { reference: reference.image } : {}) }, { signal, reuseCache: !plan.rerun, onEvent: (e) => void this.#stepEvent(turnId, e, emit) });
        if (outcome.status !== 'failed' || signal.aborted) break;
        const trace = outcome.trace.map(plainTrace);
        const runMs = Math.round(outcome.durationMs);
        if (!isPlanFixable(outcome.error) || !this.#builder.repairAfterFailure || repairs >= this.#settings.runRepairs) return fail(outcome.error, { trace, runMs });
        const failed: PriorTurn = { instruction, workflow: plan.workflow, status: 'failed', trace, error: outcome.error.message, errorCode: outcome.error.code };
        attempts.push({ workflow: plan.workflow, problems: [`run failed: ${outcome.error.message}`] });
        await emit({ type: 'info', turnId, text: `${(outcome.error as LegoEditError).userMessage} Trying another plan…` });
        const repairStarted = performance.now();
        try {
          plan = await this.#builder.repairAfterFailure(request, failed);
        } catch (err) {
          if (signal.aborted) return cancelled();
          // Nothing else to try: the run's own error says more than the refusal to re-plan.
          this.#logger.debug({ err, turnId }, 'no repair after a failed run');
          return fail(outcome.error, { trace, runMs, attempts });
        }
        attempts.push(...(plan.attempts ?? []));
        plan = { ...plan, latencyMs: plan.latencyMs ?? performance.now() - repairStarted };
      }
      const runMs = Math.round(outcome.durationMs);
      const trace = outcome.trace.map(plainTrace);
      if (outcome.status === 'cancelled') {
        await finish('cancelled', { trace, runMs });
        await emit({ type: 'cancelled', turnId });
        return 'cancelled';
      }
      if (outcome.status === 'failed') return fail(outcome.error, { trace, runMs });

      const results: ResultImage[] = [];
      const texts: string[] = [];
      for (const v of outcome.results) {
        if (typeof v === 'string' || typeof v === 'number') {
          texts.push(String(v));
          continue;
        }
        const bytes = await encodeImage(v, 'png');
        const sha = await this.#blobs.put(bytes);
        results.push({ bytes, format: 'png', sha256: sha, width: v.width, height: v.height });
        if (v.kind === 'image') this.#images.remember(sha, v);
      }
      const warnings = outcome.warnings.map((w) => w.userMessage);
      if (plan.rerun && revisesTurnId !== null && (await this.#sameOutputs(revisesTurnId, results))) {
        warnings.push('Same result as before: every tool in this plan gives the same output for the same photo. Tell me what to change instead, e.g. "the other one", "too much" or "darker instead".');
      }
      const next = results.length
        ? this.#nextStacks(conv, [...(pushSource ? [{ image: sourceSha, turnId }] : []), { image: results[0]!.sha256, turnId }])
        : undefined;
      // Images, lineage, the finished turn and the new current image in one statement: all or nothing, one round trip.
      const imageRows = results.map((r) => sql`(${r.sha256}, ${r.bytes.byteLength}, ${r.width}, ${r.height}, 'png')`);
      const linkRows = results.map((r, position) => sql`(${turnId}, 'output', ${position}, ${r.sha256})`);
      const committed = await this.#db.execute(sql`
        with
        ${results.length ? sql`img as (insert into ${images} (sha256, bytes, width, height, format) values ${sql.join(imageRows, sql`, `)} on conflict do nothing returning bytes),` : sql``}
        ${results.length ? sql`lnk as (insert into ${turnImages} (turn_id, role, position, image_sha) values ${sql.join(linkRows, sql`, `)}),` : sql``}
        ${next ? sql`cnv as (update ${conversations} set current = ${JSON.stringify(next.current)}::jsonb, undo_stack = ${JSON.stringify(next.undo)}::jsonb, redo_stack = '[]'::jsonb, updated_at = now() where id = ${convId}),` : sql``}
        trn as (update ${turns} set status = 'done', finished_at = now(), trace = ${JSON.stringify(trace)}::jsonb, run_ms = ${runMs}, warnings = ${JSON.stringify(warnings)}::jsonb where id = ${turnId} returning id)
        select ${results.length ? sql`(select coalesce(sum(bytes), 0) from img)` : sql`0`} as added from trn`);
      this.#images.storedBytes += Number(rowsOf<{ added: string | number | null }>(committed)[0]?.added ?? 0);
      if (next) Object.assign(conv, next);
      conv.lastPlanned = turnId;
      this.#remember(conv, toPriorTurn({ text: ctx.text, instruction, workflow: plan.workflow, status: 'done', errorMessage: null, trace }));
      // A concurrent prune may have removed a blob this turn just linked; put it back.
      for (const r of results) if (!(await this.#blobs.has(r.sha256))) await this.#blobs.put(r.bytes);

      const caption = [summariseWorkflow(plan.workflow), ...warnings].join('\n');
      await emit({ type: 'result', turnId, images: results, texts, caption });
      if (++conv.turnsSincePrune >= this.#settings.pruneEvery || this.#retention.overLimit) {
        conv.turnsSincePrune = 0;
        await this.#retention.prune(convId).catch((err: unknown) => this.#logger.warn({ err, convId }, 'pruning failed'));
      }
      return 'done';
    } catch (err) {
      if (signal.aborted) return cancelled();
      return fail(err);
    }
  }

  /** Whether `results` are exactly the output images of an earlier turn. */
  async #sameOutputs(turnId: number, results: readonly ResultImage[]): Promise<boolean> {
    const rows = await this.#db
      .select({ sha: turnImages.imageSha })
      .from(turnImages)
      .where(and(eq(turnImages.turnId, turnId), eq(turnImages.role, 'output')))
      .orderBy(asc(turnImages.position));
    return rows.length === results.length && rows.every((r, i) => r.sha === results[i]!.sha256);
  }

  async #stepEvent(turnId: number, e: ExecutorEvent, emit: (e: SessionEvent) => Promise<void>): Promise<void> {
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

  // ---- current image and undo/redo -------------------------------------------

  /** The stacks after making the last of `states` current: the old current (and the others) go onto the undo stack; redo empties. */
  #nextStacks(conv: ConversationState, states: readonly ImageState[]): { current: ImageState; undo: ImageState[]; redo: ImageState[] } {
    const undo = [...conv.undo];
    if (conv.current) undo.push(conv.current);
    undo.push(...states.slice(0, -1));
    while (undo.length > this.#settings.undoDepth) undo.shift();
    return { current: states.at(-1)!, undo, redo: [] };
  }

  async #pushState(conv: ConversationState, states: readonly ImageState[]): Promise<void> {
    const next = this.#nextStacks(conv, states);
    await this.#db
      .update(conversations)
      .set({ current: next.current, undoStack: next.undo, redoStack: next.redo, updatedAt: new Date() })
      .where(eq(conversations.id, conv.id));
    Object.assign(conv, next);
  }

  async #undoRedo(convId: number, which: 'undo' | 'redo'): Promise<CommandReply> {
    const conv = await this.#state(convId);
    const from = which === 'undo' ? [...conv.undo] : [...conv.redo];
    const to = which === 'undo' ? [...conv.redo] : [...conv.undo];
    const next = from.pop();
    if (!next) return { ok: false, text: which === 'undo' ? 'Nothing to undo.' : 'Nothing to redo.' };
    if (conv.current) to.push(conv.current);
    // Undoing a turn's result, or redoing it, is feedback on that turn (kept for the export); the photo an edit started from is not a result.
    const judged = which === 'undo' ? conv.current : next;
    const undoStack = which === 'undo' ? from : to;
    const redoStack = which === 'undo' ? to : from;
    await this.#db.execute(sql`
      with cnv as (
        update ${conversations} set current = ${JSON.stringify(next)}::jsonb, undo_stack = ${JSON.stringify(undoStack)}::jsonb, redo_stack = ${JSON.stringify(redoStack)}::jsonb, updated_at = now()
        where id = ${convId}
      )
      ${
        judged?.turnId != null
          ? sql`, rct as (
        update ${turns} set reactions = reactions || jsonb_build_array(jsonb_build_object('kind', ${which}::text, 'at', now()))
        where id = ${judged.turnId} and conversation_id = ${convId} and source_image is distinct from ${judged.image}
      )`
          : sql``
      }
      select 1`);
    Object.assign(conv, { current: next, undo: undoStack, redo: redoStack });
    const image = await this.#images.result(next.image);
    const [turn] = next.turnId !== null ? await this.#db.select({ text: turns.text }).from(turns).where(eq(turns.id, next.turnId)) : [];
    const what = turn?.text ? ` (${quote(turn.text)})` : '';
    const text = `${which === 'undo' ? 'Undone' : 'Redone'}: the current image is now the one from turn ${next.turnId ?? '?'}${what}.`;
    return image ? { ok: true, text, image } : { ok: true, text };
  }

  async #reset(convId: number): Promise<CommandReply> {
    await this.#db.transaction(async (tx) => {
      await tx.update(conversations).set({ current: null, undoStack: [], redoStack: [], updatedAt: new Date() }).where(eq(conversations.id, convId));
      await tx.delete(rulesTable).where(eq(rulesTable.conversationId, convId));
    });
    const conv = await this.#state(convId);
    Object.assign(conv, { current: null, undo: [], redo: [], rules: conv.rules.filter((r) => !r.scoped) });
    const kept = conv.rules.length ? ` Your ${conv.rules.length === 1 ? 'rule' : 'rules'} for all chats still ${conv.rules.length === 1 ? 'holds' : 'hold'} (/rules).` : '';
    return { ok: true, text: `Started afresh: no current image and no rules for this chat. Your history is kept (/history).${kept} Send a photo to begin.` };
  }

  // ---- rules, history, plans -------------------------------------------------

  async #rules(convId: number): Promise<RuleEntry[]> {
    return (await this.#state(convId)).rules.map((r, i) => ({ index: i + 1, text: r.rule.text, kind: r.rule.kind, everywhere: !r.scoped }));
  }

  async #forgetRule(convId: number, index: number): Promise<CommandReply> {
    const conv = await this.#state(convId);
    const list = conv.rules;
    const target = list[index - 1];
    if (!target || index < 1) {
      return { ok: false, text: list.length ? `There is no rule ${index}; your rules are numbered 1 to ${list.length} (see /rules).` : 'You have no rules to forget.' };
    }
    await this.#db.delete(rulesTable).where(eq(rulesTable.id, target.id));
    conv.rules = list.filter((r) => r.id !== target.id);
    if (!target.scoped) {
      this.#userRulesEpoch++;
      for (const other of this.#cachedStatesOf(conv.platform, conv.userId)) other.rules = other.rules.filter((r) => r.id !== target.id);
    }
    return { ok: true, text: `Forgot rule ${index}: ${quote(target.rule.text)}${target.scoped ? '' : ', in all your chats'}.` };
  }

  async #history(convId: number, limit: number): Promise<HistoryEntry[]> {
    const [conv, rows] = await Promise.all([
      this.#state(convId),
      this.#db
        .select({ id: turns.id, intent: turns.intent, text: turns.text, status: turns.status, workflow: turns.workflow, createdAt: turns.createdAt })
        .from(turns)
        .where(eq(turns.conversationId, convId))
        .orderBy(desc(turns.id))
        .limit(limit),
    ]);
    return rows.reverse().map((r) => ({
      turnId: r.id,
      intent: r.intent as Intent,
      instruction: r.text,
      status: r.status,
      ...(r.workflow ? { summary: summariseWorkflow(r.workflow as Workflow) } : {}),
      createdAt: r.createdAt,
      current: conv.current?.turnId === r.id,
    }));
  }

  async #plan(convId: number, turnId?: number): Promise<PlanView | undefined> {
    const row = turnId !== undefined ? await this.#turnRow(convId, turnId) : await this.#lastPlannedTurn(convId);
    if (!row?.workflow) return undefined;
    const wf = row.workflow as Workflow;
    return {
      turnId: row.id,
      summary: summariseWorkflow(wf),
      workflow: toLegoEditJson(wf),
      builder: row.builder ?? 'unknown',
      ...(row.reasoning ? { reasoning: row.reasoning } : {}),
    };
  }

  // ---- public commands -------------------------------------------------------------

  async cancel(key: ConversationKey, requestedBy: string, turnId?: number): Promise<CommandReply> {
    if (requestedBy !== key.userId) return { ok: false, text: 'Only the person who asked for this edit can cancel it.' };
    const conv = await this.#existingConversation(key);
    const active = conv ? this.#active.get(conv.id) : undefined;
    if (turnId !== undefined) {
      // A button on one edit's status message: that edit only; the ones queued behind it go on.
      const job = [...(active?.jobs ?? [])].find((j) => j.turnId === turnId);
      if (!job) return { ok: false, text: 'That edit has already finished.' };
      job.controller.abort();
      return { ok: true, text: 'Cancelling that edit.' };
    }
    if (!active || active.jobs.size === 0) return { ok: false, text: 'Nothing is running.' };
    const n = active.jobs.size;
    for (const job of active.jobs) job.controller.abort();
    return { ok: true, text: n === 1 ? 'Cancelling your edit.' : `Cancelling your ${n} edits.` };
  }

  async undo(key: ConversationKey): Promise<CommandReply> {
    const conv = await this.#existingConversation(key);
    if (!conv) return { ok: false, text: 'Nothing to undo.' };
    return this.#enqueue(conv.id, () => this.#undoRedo(conv.id, 'undo'));
  }

  async redo(key: ConversationKey): Promise<CommandReply> {
    const conv = await this.#existingConversation(key);
    if (!conv) return { ok: false, text: 'Nothing to redo.' };
    return this.#enqueue(conv.id, () => this.#undoRedo(conv.id, 'redo'));
  }

  async history(key: ConversationKey, limit = 20): Promise<readonly HistoryEntry[]> {
    const conv = await this.#existingConversation(key);
    return conv ? this.#history(conv.id, limit) : [];
  }

  async rules(key: ConversationKey): Promise<readonly RuleEntry[]> {
    const conv = await this.#existingConversation(key);
    return conv ? this.#rules(conv.id) : [];
  }

  async forgetRule(key: ConversationKey, index: number): Promise<CommandReply> {
    const conv = await this.#existingConversation(key);
    if (!conv) return { ok: false, text: 'You have no rules to forget.' };
    return this.#enqueue(conv.id, () => this.#forgetRule(conv.id, index));
  }

  async reset(key: ConversationKey): Promise<CommandReply> {
    const conv = await this.#existingConversation(key);
    if (!conv) return { ok: true, text: 'Nothing to reset.' };
    return this.#enqueue(conv.id, () => this.#reset(conv.id));
  }

  async showPlan(key: ConversationKey, turnId?: number): Promise<PlanView | undefined> {
    const conv = await this.#existingConversation(key);
    return conv ? this.#plan(conv.id, turnId) : undefined;
  }

  async linkMessage(key: ConversationKey, turnId: number, platformMessageId: string): Promise<void> {
    const conv = await this.#existingConversation(key);
    if (!conv || !(await this.#turnRow(conv.id, turnId))) return;
    await this.#db.insert(messageLinks).values({ conversationId: conv.id, platformMessageId, turnId }).onConflictDoNothing();
  }

  async pendingNotices(): Promise<ReadonlyArray<{ key: ConversationKey; text: string }>> {
    const rows = await this.#db
      .update(turns)
      .set({ noticePending: false })
      .where(eq(turns.noticePending, true))
      .returning({ id: turns.id, conversationId: turns.conversationId, text: turns.text });
    if (!rows.length) return [];
    const convs = await this.#db
      .select()
      .from(conversations)
      .where(inArray(conversations.id, [...new Set(rows.map((r) => r.conversationId))]));
    const byId = new Map(convs.map((c) => [c.id, c]));
    for (const r of rows) this.#noticeDue.delete(r.conversationId);
    return rows
      .sort((a, b) => a.id - b.id)
      .map((r) => {
        const c = byId.get(r.conversationId)!;
        const key: ConversationKey = { platform: c.platform, chatId: c.chatId, userId: c.userId, ...(c.threadId ? { threadId: c.threadId } : {}) };
        return { key, text: interruptedText(r.text) };
      });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const tails: Promise<unknown>[] = [];
    for (const a of this.#active.values()) {
      for (const job of a.jobs) job.controller.abort();
      tails.push(a.tail);
    }
    await Promise.all(tails);
  }
}

/** Rows of a raw query; PGlite and node-postgres both answer with `{ rows }`. */
function rowsOf<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}


function toPriorTurn(r: { text: string; instruction: string; workflow: unknown; status: string; errorMessage: string | null; trace?: unknown }): PriorTurn {
  const status = (['done', 'failed', 'cancelled', 'interrupted'] as const).find((s) => s === r.status) ?? 'interrupted';
  return {
    instruction: r.instruction || r.text,
    ...(r.workflow ? { workflow: r.workflow as Workflow } : {}),
    status,
    ...(r.errorMessage ? { error: r.errorMessage } : {}),
    // The Builder reads which steps ran, how long, and which masks came back empty.
    ...(Array.isArray(r.trace) && r.trace.length ? { trace: r.trace as StepTrace[] } : {}),
  };
}

/** Traces hold only JSON-safe fields; step errors are kept as their messages. */
function plainTrace(t: StepTrace): StepTrace {
  return JSON.parse(JSON.stringify(t)) as StepTrace;
}
