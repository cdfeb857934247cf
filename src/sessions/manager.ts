/**
 * The session manager: turns chat messages into conversation turns with a
 * feedback loop. It classifies each message and dispatches its intent through
 * one table (`#INTENTS`: adding an intent is one entry); the work is done by
 * its parts:
 *
 * - `TurnStore` (store/): everything kept, in PGlite/PostgreSQL or in memory;
 * - `ConversationQueue`: the arrival gate, one job chain per conversation, cancellation;
 * - `RateLimiter`: per-user limits;
 * - `ConversationStates`: the in-memory state of conversations and rule propagation;
 * - `TurnRunner`: which turn a message targets, plan → rule check → run → repair, commit;
 * - `ConversationCommands`: undo, redo, reset, rules, history and plan views.
 *
 * Ordering: turns and state changes (undo, reset, rules) apply in the order
 * messages arrived, at most one turn runs per conversation; read-only commands
 * skip the chain. Durability: a turn row (and its upload) is stored before the
 * user hears "queued" or "planning"; a result is committed, with the new
 * current image, before the result event. Turns left unfinished by a crash are
 * marked interrupted at start-up and the user is told on their next message.
 */
import type { Logger } from 'pino';
import type { Builder } from '../builder/builder.ts';
import type { Critic } from '../critic/critic.ts';
import type { IntentAdvice, IntentAdvisor } from '../builder/intent-advisor.ts';
import { LegoEditError, errorMessage } from '../engine/errors.ts';
import type { Executor } from '../engine/executor.ts';
import type { ImageLimits } from '../engine/image-io.ts';
import type { BrickRegistry } from '../engine/registry.ts';
import { silentLogger } from '../logger.ts';
import type { BlobStore } from './blob-store.ts';
import { ConversationCommands } from './commands.ts';
import { formatHistory, formatPlan, formatRules, interruptedText } from './format.ts';
import { type Classified, applyAdvice, classify, isAdvisable } from './intent.ts';
import { ConversationQueue } from './queue.ts';
import { RateLimiter } from './rate-limiter.ts';
import { Retention } from './retention.ts';
import { SessionImages } from './session-images.ts';
import { DEFAULT_SETTINGS, type SessionSettings } from './settings.ts';
import { type ConversationState, ConversationStates, keyText } from './states.ts';
import type { TurnStore } from './store/turn-store.ts';
import { type Emit, TurnRunner, type Upload } from './turn-runner.ts';
import type {
  CommandReply,
  ConversationKey,
  HandleOutcome,
  HistoryEntry,
  IncomingMessage,
  Intent,
  PlanView,
  RuleEntry,
  SessionListener,
  SessionManager,
} from './types.ts';

export interface SessionManagerOptions {
  /** Where conversations, turns, rules and image metadata are kept: `DrizzleTurnStore` or `MemoryTurnStore`. */
  readonly store: TurnStore;
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
  /** Judges each result before it is sent; the offline checks alone when not given. */
  readonly critic?: Critic;
}

/** One classified message on its way through the table. */
interface Dispatch {
  readonly message: IncomingMessage;
  readonly key: ConversationKey;
  readonly convId: number;
  readonly classified: Classified;
  readonly emit: Emit;
  /** Lets the conversation's next message be classified: called once this one's job is queued. */
  readonly admitted: () => void;
}

type IntentHandler = (m: DbSessionManager, d: Dispatch) => Promise<HandleOutcome>;

export class DbSessionManager implements SessionManager {
  readonly #store: TurnStore;
  readonly #registry: BrickRegistry;
  readonly #settings: SessionSettings;
  readonly #logger: Logger;
  readonly #advisor: IntentAdvisor | undefined;
  readonly #images: SessionImages;
  readonly #states: ConversationStates;
  readonly #queue: ConversationQueue;
  readonly #limiter: RateLimiter;
  readonly #runner: TurnRunner;
  readonly #commands: ConversationCommands;
  /** Conversations with interrupted turns nobody has been told about. */
  readonly #noticeDue = new Set<number>();
  #closed = false;

  /** Turns: stored, queued and run by the TurnRunner. */
  static #turn: IntentHandler = (m, d) => m.#acceptTurn(d);

  /** Commands that change the conversation: they wait their turn in its chain, so they apply in arrival order. */
  static #queuedCommand(run: (c: ConversationCommands, convId: number, d: Dispatch) => Promise<CommandReply>): IntentHandler {
    return (m, d) => m.#enqueueCommand(d, (c) => run(c, d.convId, d));
  }

  /**
   * Every intent and what it does (inside the class, so the handlers reach its private parts).
   * `this` is the class here; tsc's output (dist/) reaches the class by name only once its body has run.
   */
  static readonly #INTENTS: Readonly<Record<Intent, IntentHandler>> = {
    edit: this.#turn,
    'follow-up': this.#turn,
    revision: this.#turn,
    rule: this.#turn,
    'ask-what-to-do': this.#turn,
    undo: this.#queuedCommand((c, convId) => c.undoRedo(convId, 'undo')),
    redo: this.#queuedCommand((c, convId) => c.undoRedo(convId, 'redo')),
    reset: this.#queuedCommand((c, convId) => c.reset(convId)),
    'forget-rule': this.#queuedCommand((c, convId, d) => c.forgetRule(convId, d.classified.index ?? 0)),
    history: async (m, d) => {
      await d.emit({ type: 'info', text: formatHistory(await m.#commands.history(d.convId, 10)) });
      return { intent: 'history' };
    },
    rules: async (m, d) => {
      await d.emit({ type: 'info', text: formatRules(await m.#commands.rules(d.convId)) });
      return { intent: 'rules' };
    },
    'show-plan': async (m, d) => {
      const view = await m.#commands.plan(d.convId, d.message.replyTo ? await m.#resolveReply(d.convId, d.message.replyTo) : undefined);
      await d.emit(view ? { type: 'info', text: formatPlan(view), turnId: view.turnId } : { type: 'info', text: 'There is no plan yet in this conversation.' });
      return { intent: 'show-plan' };
    },
    cancel: async (m, d) => {
      const reply = await m.cancel(d.key, d.key.userId);
      await d.emit({ type: 'info', text: reply.text });
      return { intent: 'cancel' };
    },
    clarify: async (_m, d) => {
      await d.emit({ type: 'clarify', question: d.classified.question ?? 'What should I do?' });
      return { intent: 'clarify' };
    },
  };

  private constructor(options: SessionManagerOptions) {
    this.#store = options.store;
    this.#registry = options.registry;
    this.#settings = { ...DEFAULT_SETTINGS, ...options.settings };
    this.#logger = options.logger ?? silentLogger;
    this.#advisor = options.intentAdvisor;
    const now = options.now ?? Date.now;
    const store = this.#store;
    this.#images = new SessionImages({ store, blobs: options.blobs, limits: options.limits, decodedCacheBytes: this.#settings.decodedCacheBytes });
    const retention = new Retention({ store, blobs: options.blobs, images: this.#images, limits: this.#settings });
    this.#states = new ConversationStates(store, this.#settings);
    this.#queue = new ConversationQueue({ onBusy: (id) => this.#states.pin(id), onIdle: (id) => this.#states.unpin(id) });
    this.#limiter = new RateLimiter(this.#settings, now);
    this.#runner = new TurnRunner({
      store,
      states: this.#states,
      images: this.#images,
      blobs: options.blobs,
      retention,
      builder: options.builder,
      executor: options.executor,
      registry: options.registry,
      ...(options.critic ? { critic: options.critic } : {}),
      settings: this.#settings,
      logger: this.#logger,
      now,
    });
    this.#commands = new ConversationCommands({ store, states: this.#states, images: this.#images, runner: this.#runner });
  }

  /** Starts a manager: marks turns a crash left unfinished as interrupted, then accepts messages. */
  static async start(options: SessionManagerOptions): Promise<DbSessionManager> {
    const m = new DbSessionManager(options);
    const { interrupted, noticeDue } = await m.#store.recover();
    if (interrupted.length) m.#logger.warn({ turns: interrupted }, 'marked turns left unfinished by a crash as interrupted');
    for (const id of noticeDue) m.#noticeDue.add(id);
    m.#images.storedBytes = await m.#store.totalImageBytes();
    return m;
  }

  // ---- handle ---------------------------------------------------------------

  async handle(message: IncomingMessage, listener: SessionListener): Promise<HandleOutcome> {
    if (this.#closed) throw new Error('session manager is closed');
    // Classification depends on what earlier messages queued, so a conversation admits one message at a time;
    // the admitted work itself runs later, on the conversation's chain.
    return this.#queue.arrive(keyText(message), (admitted) => this.#handle(message, listener, admitted));
  }

  async #handle(message: IncomingMessage, listener: SessionListener, admitted: () => void): Promise<HandleOutcome> {
    const emit: Emit = async (e) => {
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
    const convId = await this.#states.conversationId(key, message.userName);
    if (this.#noticeDue.has(convId)) {
      this.#noticeDue.delete(convId);
      for (const n of await this.#store.takeNotices(convId)) await emit({ type: 'info', turnId: n.turnId, text: interruptedText(n.text) });
    }

    const busy = this.#queue.pending(convId) > 0;
    const state = await this.#states.get(convId);
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
    return DbSessionManager.#INTENTS[classified.intent](this, { message, key, convId, classified, emit, admitted });
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

  /** A command that changes the conversation, queued behind its running turn; its reply is emitted. */
  #enqueueCommand(d: Dispatch, run: (c: ConversationCommands) => Promise<CommandReply>): Promise<HandleOutcome> {
    const { intent } = d.classified;
    const job = this.#queue.enqueue(d.convId, async () => {
      const reply = await run(this.#commands);
      if (reply.image) await d.emit({ type: 'result', turnId: 0, images: [reply.image], texts: [], caption: reply.text });
      else await d.emit(reply.ok ? { type: 'info', text: reply.text } : { type: 'error', code: 'command', userMessage: reply.text });
      return { intent };
    });
    d.admitted();
    return job;
  }

  /** A message that starts work: checked, stored as a turn, queued, run. */
  async #acceptTurn(d: Dispatch): Promise<HandleOutcome> {
    const { key, convId, message, classified, emit } = d;
    const { intent } = classified;
    const refused = this.#limiter.admit(key);
    if (refused) {
      await emit({ type: 'error', code: 'rate-limited', userMessage: refused });
      return { intent };
    }
    try {
      // Bad input is refused before anything is stored, so it can never displace the user's work.
      let upload: Upload | undefined;
      try {
        upload = await this.#readUpload(message);
      } catch (err) {
        if (!(err instanceof LegoEditError)) throw err;
        await emit({ type: 'error', code: err.code, userMessage: err.userMessage });
        return { intent };
      }
      const replyTarget = message.replyTo ? await this.#resolveReply(convId, message.replyTo) : undefined;
      if (message.replyTo && replyTarget === undefined) {
        await emit({ type: 'error', code: 'unknown-reply', userMessage: 'I cannot find the message you replied to in your conversation; send your request without replying to it.' });
        return { intent };
      }
      const text = (message.text ?? '').trim();

      // Every message that starts work gets its turn row now: the message id makes a redelivery a no-op.
      const turnId = await this.#store.insertTurn({
        conversationId: convId,
        messageId: message.messageId,
        text,
        intent,
        status: intent === 'ask-what-to-do' ? 'done' : 'queued',
        inputs: { image: upload?.sha, mask: upload?.mask?.sha, reference: upload?.reference?.sha },
      });
      if (turnId === undefined) {
        await emit({ type: 'info', text: 'I already have this message; it is being handled or was handled before.' });
        return { intent };
      }

      const ahead = this.#queue.pending(convId);
      const outcome = this.#queue.enqueue(
        convId,
        async (job): Promise<HandleOutcome> => {
          if (intent === 'ask-what-to-do') {
            const conv = await this.#states.get(convId);
            await this.#states.push(conv, [{ image: upload!.sha, turnId }]);
            if (upload!.mask || upload!.reference) conv.wordless.add(turnId);
            await emit({ type: 'clarify', question: classified.question ?? 'What should I do with this photo?' });
            return { intent, turnId, status: 'done' };
          }
          if (intent === 'rule') {
            if (classified.everywhere && message.sharedIdentity) {
              await emit({ type: 'info', turnId, text: 'You write anonymously here (as the group or a channel), so I keep this rule to this chat only.' });
            }
            // A photo sent with a rule becomes the image to edit; the last edit (of another photo) is not re-planned.
            if (upload) await this.#states.push(await this.#states.get(convId), [{ image: upload.sha, turnId }]);
            const everywhere = classified.everywhere === true && !message.sharedIdentity;
            const replan = await this.#runner.applyRule(key, convId, turnId, classified.rule!, everywhere, emit, upload === undefined);
            if (!replan) return { intent, turnId, status: 'done' };
          }
          const status = await this.#runner.run({ conversationId: convId, turnId, intent, text, key, upload, replyTarget }, job.controller.signal, emit);
          return { intent, turnId, status };
        },
        { controller: new AbortController(), turnId },
      );
      d.admitted();
      if (ahead > 0) await emit({ type: 'queued', turnId, position: ahead });
      return await outcome;
    } finally {
      this.#limiter.release(key);
    }
  }

  /**
   * The user's photo and what came with it. A second image (a Telegram album, Discord's mask option) is the region
   * to edit, init[mask], when it is black and white, else a photo of something to paste in, init[reference].
   * Both are checked before either is stored.
   */
  async #readUpload(message: IncomingMessage): Promise<Upload | undefined> {
    const [first, second] = message.images;
    if (!first) return undefined;
    const extra = second ? await this.#images.readSecond(second.bytes, second.role) : undefined;
    const { image, sha } = await this.#images.storeUpload(first.bytes);
    return {
      image,
      sha,
      ...(extra && 'mask' in extra ? { mask: { mask: extra.mask, sha: await this.#images.storeMask(second!.bytes, extra.mask) } } : {}),
      ...(extra && 'reference' in extra ? { reference: { image: extra.reference, sha: await this.#images.storeReference(second!.bytes, extra.reference) } } : {}),
    };
  }

  /** The turn a reply names, when it is in this conversation. */
  async #resolveReply(convId: number, replyTo: NonNullable<IncomingMessage['replyTo']>): Promise<number | undefined> {
    if (replyTo.turnId !== undefined) return (await this.#store.turn(convId, replyTo.turnId))?.id;
    if (replyTo.messageId !== undefined) return this.#store.turnOfMessage(convId, replyTo.messageId);
    return undefined;
  }

  // ---- public commands -------------------------------------------------------------

  async cancel(key: ConversationKey, requestedBy: string, turnId?: number): Promise<CommandReply> {
    if (requestedBy !== key.userId) return { ok: false, text: 'Only the person who asked for this edit can cancel it.' };
    const convId = await this.#states.find(key);
    if (turnId !== undefined) {
      // A button on one edit's status message: that edit only; the ones queued behind it go on.
      const n = convId === undefined ? 0 : this.#queue.cancel(convId, turnId);
      return n ? { ok: true, text: 'Cancelling that edit.' } : { ok: false, text: 'That edit has already finished.' };
    }
    const n = convId === undefined ? 0 : this.#queue.cancel(convId);
    if (n === 0) return { ok: false, text: 'Nothing is running.' };
    return { ok: true, text: n === 1 ? 'Cancelling your edit.' : `Cancelling your ${n} edits.` };
  }

  async undo(key: ConversationKey): Promise<CommandReply> {
    return this.#queued(key, { ok: false, text: 'Nothing to undo.' }, (id) => this.#commands.undoRedo(id, 'undo'));
  }

  async redo(key: ConversationKey): Promise<CommandReply> {
    return this.#queued(key, { ok: false, text: 'Nothing to redo.' }, (id) => this.#commands.undoRedo(id, 'redo'));
  }

  async forgetRule(key: ConversationKey, index: number): Promise<CommandReply> {
    // A chat not started yet lists the user's rules for all chats (rules()), so forgetting one may start it.
    const convId = await this.#states.conversationId(key);
    return this.#queue.enqueue(convId, () => this.#commands.forgetRule(convId, index));
  }

  async reset(key: ConversationKey): Promise<CommandReply> {
    return this.#queued(key, { ok: true, text: 'Nothing to reset.' }, (id) => this.#commands.reset(id));
  }

  async history(key: ConversationKey, limit = 20): Promise<readonly HistoryEntry[]> {
    const convId = await this.#states.find(key);
    return convId === undefined ? [] : this.#commands.history(convId, limit);
  }

  async rules(key: ConversationKey): Promise<readonly RuleEntry[]> {
    const convId = await this.#states.find(key);
    if (convId !== undefined) return this.#commands.rules(convId);
    // A chat not started yet already has the user's rules for all their chats.
    return (await this.#store.rulesEverywhere(key.platform, key.userId)).map((r, i) => ({ index: i + 1, text: r.rule.text, kind: r.rule.kind, everywhere: true }));
  }

  async showPlan(key: ConversationKey, turnId?: number): Promise<PlanView | undefined> {
    const convId = await this.#states.find(key);
    return convId === undefined ? undefined : this.#commands.plan(convId, turnId);
  }

  async linkMessage(key: ConversationKey, turnId: number, platformMessageId: string): Promise<void> {
    const convId = await this.#states.find(key);
    if (convId === undefined || !(await this.#store.turn(convId, turnId))) return;
    await this.#store.linkMessage(convId, platformMessageId, turnId);
  }

  async pendingNotices(): Promise<ReadonlyArray<{ key: ConversationKey; text: string }>> {
    const notices = await this.#store.takeNotices();
    for (const n of notices) this.#noticeDue.delete(n.conversationId);
    return notices.map((n) => ({ key: n.key, text: interruptedText(n.text) }));
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#queue.close();
  }

  /** A command of an existing conversation, queued behind its running turn; `none` when there is no conversation. */
  async #queued(key: ConversationKey, none: CommandReply, run: (convId: number) => Promise<CommandReply>): Promise<CommandReply> {
    const convId = await this.#states.find(key);
    if (convId === undefined) return none;
    return this.#queue.enqueue(convId, () => run(convId));
  }
}
