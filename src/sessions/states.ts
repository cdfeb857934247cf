/**
 * What the manager needs of a conversation on every turn, kept in memory: its
 * id by key, current image and stacks, rules, recent history. This process is
 * the only writer (see docs/sessions.md), and every change is written to the
 * store before it is applied here. A rule for all of a user's chats is applied
 * to every state of theirs held here ("in all my chats").
 */
import { LRUCache } from 'lru-cache';
import type { PriorTurn, Rule } from '../builder/builder.ts';
import type { StepTrace } from '../engine/executor.ts';
import type { Workflow } from '../engine/workflow/types.ts';
import type { ImageState, RuleRecord, Stacks, TurnStore } from './store/turn-store.ts';
import type { ConversationKey } from './types.ts';

export interface ConversationState {
  readonly id: number;
  readonly platform: string;
  readonly userId: string;
  current: ImageState | null;
  undo: ImageState[];
  redo: ImageState[];
  /** The newest turn with a workflow: what feedback revises. */
  lastPlanned: number | undefined;
  /** `scoped`: belongs to this conversation (reset removes it), else to the user everywhere. */
  rules: RuleRecord[];
  /** The Builder's context: the newest finished planned turns, oldest first. */
  history: PriorTurn[];
  /** Turns of photos sent without words that brought a mask or second photo: an instruction on that photo gets it too. */
  readonly wordless: Set<number>;
  turnsSincePrune: number;
}

export interface StatesSettings {
  /** Conversations whose state stays cached. */
  readonly cachedConversations: number;
  /** Earlier turns given to the Builder as context. */
  readonly historyTurns: number;
  readonly undoDepth: number;
}

const FINISHED = new Set(['done', 'failed', 'cancelled', 'interrupted']);

export class ConversationStates {
  readonly #store: TurnStore;
  readonly #settings: StatesSettings;
  readonly #ids: LRUCache<string, number>;
  readonly #cached: LRUCache<number, ConversationState>;
  /** States of conversations with jobs queued or running, pinned so the cache can never hand out a second, diverging copy. */
  readonly #pinned = new Map<number, ConversationState | undefined>();
  /** Bumped whenever a rule for all of a user's chats is stored or forgotten: see get(). */
  #userRulesEpoch = 0;

  constructor(store: TurnStore, settings: StatesSettings) {
    this.#store = store;
    this.#settings = settings;
    this.#ids = new LRUCache({ max: settings.cachedConversations });
    this.#cached = new LRUCache({ max: settings.cachedConversations });
  }

  /** The conversation of a key, created when new. */
  async conversationId(key: ConversationKey, userName?: string): Promise<number> {
    const k = keyText(key);
    const cached = this.#ids.get(k);
    if (cached !== undefined) return cached;
    const id = await this.#store.conversationId(key, userName);
    this.#ids.set(k, id);
    return id;
  }

  /** The conversation of a key if it exists; never creates one (queries must not leave rows behind). */
  async find(key: ConversationKey): Promise<number | undefined> {
    const id = await this.#store.findConversation(key);
    if (id !== undefined) this.#ids.set(keyText(key), id);
    return id;
  }

  /** Holds the conversation's state while it has jobs (ConversationQueue's onBusy). */
  pin(convId: number): void {
    this.#pinned.set(convId, this.#cached.get(convId));
  }

  /** Its jobs are done: idle conversations hold no memory beyond the cache (ConversationQueue's onIdle). */
  unpin(convId: number): void {
    this.#pinned.delete(convId);
  }

  async get(convId: number): Promise<ConversationState> {
    const pinned = this.#pinned.get(convId);
    if (pinned) return pinned;
    let state = this.#cached.get(convId);
    if (!state) {
      let loaded: ConversationState;
      let epoch: number;
      // A rule for all chats stored or forgotten while this loaded may be missing from what it read; read again.
      do {
        epoch = this.#userRulesEpoch;
        loaded = await this.#load(convId);
      } while (epoch !== this.#userRulesEpoch);
      // Another caller may have loaded it meanwhile; keep one copy.
      state = this.#pinned.get(convId) ?? this.#cached.get(convId) ?? loaded;
      this.#cached.set(convId, state);
    }
    if (this.#pinned.has(convId)) this.#pinned.set(convId, state);
    return state;
  }

  async #load(convId: number): Promise<ConversationState> {
    const snapshot = await this.#store.load(convId, this.#settings.historyTurns);
    if (!snapshot) throw new Error(`conversation ${convId} vanished`);
    const { conversation: c, planned } = snapshot;
    return {
      id: convId,
      platform: c.key.platform,
      userId: c.key.userId,
      current: c.current,
      undo: [...c.undo],
      redo: [...c.redo],
      lastPlanned: planned[0]?.id,
      rules: [...snapshot.rules],
      history: planned
        .filter((r) => FINISHED.has(r.status))
        .reverse()
        .map((r) => toPriorTurn(r)),
      wordless: new Set(snapshot.wordless),
      turnsSincePrune: 0,
    };
  }

  /** Adds a finished planned turn to the Builder's context. */
  remember(state: ConversationState, turn: PriorTurn): void {
    state.history.push(turn);
    while (state.history.length > this.#settings.historyTurns) state.history.shift();
  }

  /** The stacks after making the last of `states` current: the old current (and the others) go onto the undo stack; redo empties. */
  nextStacks(conv: ConversationState, states: readonly ImageState[]): { current: ImageState; undo: ImageState[]; redo: ImageState[] } {
    const undo = [...conv.undo];
    if (conv.current) undo.push(conv.current);
    undo.push(...states.slice(0, -1));
    while (undo.length > this.#settings.undoDepth) undo.shift();
    return { current: states.at(-1)!, undo, redo: [] };
  }

  /** Makes the last of `states` current, stored first. */
  async push(conv: ConversationState, states: readonly ImageState[]): Promise<void> {
    const next = this.nextStacks(conv, states);
    await this.#store.setStacks(conv.id, next);
    Object.assign(conv, next);
  }

  /** Applies stacks already stored. */
  apply(conv: ConversationState, stacks: Stacks): void {
    Object.assign(conv, { current: stacks.current, undo: [...stacks.undo], redo: [...stacks.redo] });
  }

  /** Stores a rule of this conversation, or (`everywhere`) of its user in all their chats, and applies it to every state it concerns. */
  async addRule(convId: number, key: ConversationKey, rule: Rule, everywhere: boolean): Promise<RuleRecord> {
    // No conversation: the rule belongs to the user on this platform, and every conversation of theirs loads it.
    const id = await this.#store.insertRule({ conversationId: everywhere ? null : convId, platform: key.platform, userId: key.userId, rule });
    const entry: RuleRecord = { id, rule, scoped: !everywhere };
    if (everywhere) {
      this.#userRulesEpoch++;
      // A state loaded after the insert already has it.
      for (const other of this.#statesOf(key.platform, key.userId)) if (!other.rules.some((r) => r.id === id)) other.rules.push(entry);
    }
    const here = await this.get(convId);
    if (!here.rules.some((r) => r.id === id)) here.rules.push(entry);
    return entry;
  }

  /** Deletes a rule; one for all chats leaves every state of its user. */
  async forgetRule(conv: ConversationState, target: RuleRecord): Promise<void> {
    await this.#store.deleteRule(target.id);
    conv.rules = conv.rules.filter((r) => r.id !== target.id);
    if (!target.scoped) {
      this.#userRulesEpoch++;
      for (const other of this.#statesOf(conv.platform, conv.userId)) other.rules = other.rules.filter((r) => r.id !== target.id);
    }
  }

  /** Every conversation state held in memory for this user on this platform. */
  #statesOf(platform: string, userId: string): Set<ConversationState> {
    const found = new Set<ConversationState>();
    for (const s of this.#cached.values()) if (s.platform === platform && s.userId === userId) found.add(s);
    for (const s of this.#pinned.values()) if (s?.platform === platform && s.userId === userId) found.add(s);
    return found;
  }
}

export function keyText(k: ConversationKey): string {
  return `${k.platform}\u0000${k.chatId}\u0000${k.threadId ?? ''}\u0000${k.userId}`;
}

export function toPriorTurn(r: { text: string; instruction: string; workflow: unknown; status: string; errorMessage: string | null; trace?: unknown }): PriorTurn {
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
