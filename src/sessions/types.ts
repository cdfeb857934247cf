/**
 * The narrow contract between chat adapters (Telegram, Discord, terminal) and
 * the session manager. Adapters translate platform updates into an
 * IncomingMessage, call `handle`, and render the SessionEvents they receive;
 * they never touch the database, the Builder or the Executor. Kept small and
 * stable on purpose, like grammY's StorageAdapter: adding an event variant is
 * allowed (render unknown ones as nothing), changing a field is not.
 */
import type { LegoEditJson } from '../engine/workflow/serialise.ts';

/**
 * Whose state a message touches. The user id is part of the key, so two people
 * in one group chat never share a conversation, and nobody can name another
 * user's turns or images through it.
 */
export interface ConversationKey {
  /** "telegram", "discord", "terminal", … */
  readonly platform: string;
  readonly chatId: string;
  /** Forum topic / Discord thread; omitted when the platform has none. */
  readonly threadId?: string;
  readonly userId: string;
}

/** An attachment as the adapter downloaded it; the session manager decodes and checks it. */
export interface IncomingImage {
  readonly bytes: Uint8Array;
  readonly name?: string;
  readonly mime?: string;
  /** For a second image: what the sender said it is (Discord's mask:/reference: options); otherwise its pixels decide. */
  readonly role?: 'mask' | 'reference';
}

export interface IncomingMessage extends ConversationKey {
  readonly userName?: string;
  /** The platform's id for this message, kept for replies and de-duplication of redelivered updates. */
  readonly messageId: string;
  readonly text?: string;
  /** Photos or image documents attached; empty when none. */
  readonly images: readonly IncomingImage[];
  /**
   * What the message replies to, when the user replied to one of the bot's
   * results: either the turn id the adapter knows, or the platform message id
   * it recorded with `linkMessage`.
   */
  readonly replyTo?: { readonly turnId?: number; readonly messageId?: string };
  /**
   * The sender's id stands for several people (Telegram's anonymous group admins, posts sent as a channel),
   * so nothing they set reaches beyond this conversation: a rule "in all my chats" stays in this chat.
   */
  readonly sharedIdentity?: boolean;
}

/** An encoded result image, ready to upload. */
export interface ResultImage {
  readonly bytes: Buffer;
  readonly format: 'png' | 'jpeg';
  readonly sha256: string;
  readonly width: number;
  readonly height: number;
}

/** What the session manager reports while it handles a message, in order. */
export type SessionEvent =
  /** Another turn of this conversation is running; `position` 1 means "next". */
  | { readonly type: 'queued'; readonly turnId: number; readonly position: number }
  | { readonly type: 'planning'; readonly turnId: number }
  | {
      readonly type: 'planned';
      readonly turnId: number;
      /** One line: "GRAYSCALE → ADJUST(1.3)". */
      readonly summary: string;
      readonly workflow: LegoEditJson;
      readonly builder: string;
      readonly steps: number;
    }
  | { readonly type: 'step-started'; readonly turnId: number; readonly step: number; readonly brick: string }
  | { readonly type: 'step-progress'; readonly turnId: number; readonly step: number; readonly brick: string; readonly fraction?: number; readonly message?: string }
  | {
      readonly type: 'step-finished';
      readonly turnId: number;
      readonly step: number;
      readonly brick: string;
      readonly durationMs: number;
      readonly cached: boolean;
      readonly emptyMasks: readonly string[];
    }
  | { readonly type: 'step-failed'; readonly turnId: number; readonly step: number; readonly brick: string; readonly userMessage: string }
  /** The turn finished; the images are already stored and are now the current image. */
  | {
      readonly type: 'result';
      readonly turnId: number;
      /** The turn's number in its conversation, as users see it (absent for an image a command shows, as after undo). */
      readonly number?: number;
      readonly images: readonly ResultImage[];
      readonly texts: readonly string[];
      readonly caption: string;
    }
  /** Something to tell the user that is neither a result nor a failure (rule stored, undo done, earlier turn interrupted). */
  | { readonly type: 'info'; readonly text: string; readonly turnId?: number }
  /** The message could not be carried out; `userMessage` is safe to show and says what to do. */
  | { readonly type: 'error'; readonly code: string; readonly userMessage: string; readonly turnId?: number }
  /** Nothing was done; the user is asked a short question instead of a guess that might destroy work. */
  | { readonly type: 'clarify'; readonly question: string; readonly options?: readonly string[] }
  | { readonly type: 'cancelled'; readonly turnId: number };

/** Receives events; a listener that throws is logged and otherwise ignored. */
export type SessionListener = (event: SessionEvent) => void | Promise<void>;

export type TurnStatus = 'queued' | 'planning' | 'running' | 'done' | 'failed' | 'interrupted' | 'cancelled';

export type Intent =
  | 'edit'
  | 'follow-up'
  | 'revision'
  | 'rule'
  | 'undo'
  | 'redo'
  | 'history'
  | 'rules'
  | 'forget-rule'
  | 'reset'
  | 'show-plan'
  | 'cancel'
  | 'ask-what-to-do'
  | 'clarify';

/** How `handle` ended, for adapters that want to await the whole turn. */
export interface HandleOutcome {
  readonly intent: Intent;
  readonly turnId?: number;
  readonly status?: TurnStatus;
}

export interface HistoryEntry {
  readonly turnId: number;
  /** The turn's number in this conversation, as users see it ("#1" is its first turn). */
  readonly number: number;
  readonly intent: Intent;
  readonly instruction: string;
  readonly status: TurnStatus;
  readonly summary?: string;
  readonly createdAt: Date;
  /** Whether this turn's result is the current image (not when the photo it started from is). */
  readonly current: boolean;
}

export interface RuleEntry {
  /** 1-based position in the list, as `forgetRule` takes it. */
  readonly index: number;
  readonly text: string;
  readonly kind: string;
  /** The rule holds in every conversation of this user on this platform, not just this one. */
  readonly everywhere: boolean;
}

/** A command's answer: a line to show, and the now-current image where it changed. */
export interface CommandReply {
  readonly ok: boolean;
  readonly text: string;
  readonly image?: ResultImage;
}

export interface PlanView {
  readonly turnId: number;
  /** The turn's number in this conversation, as users see it. */
  readonly number: number;
  readonly summary: string;
  readonly workflow: LegoEditJson;
  readonly builder: string;
  readonly reasoning?: string;
  /** How each step ran, when the turn ran: "1 GRAYSCALE 0.2 s", for people who open the plan. */
  readonly timings?: string;
}

export interface SessionManager {
  /**
   * Classifies and carries out one message. Resolves when the message is fully
   * handled (its turn done, failed or cancelled); events arrive before that.
   * Everything is stored before an event acknowledges it.
   */
  handle(message: IncomingMessage, listener: SessionListener): Promise<HandleOutcome>;
  /**
   * Cancels the running turn and drops the queued ones of a conversation; with `turnId`
   * (a button on that turn's status message), that turn only, running or queued.
   * `requestedBy` is who pressed the button; only the conversation's owner may.
   */
  cancel(key: ConversationKey, requestedBy: string, turnId?: number): Promise<CommandReply>;
  undo(key: ConversationKey): Promise<CommandReply>;
  redo(key: ConversationKey): Promise<CommandReply>;
  history(key: ConversationKey, limit?: number): Promise<readonly HistoryEntry[]>;
  rules(key: ConversationKey): Promise<readonly RuleEntry[]>;
  /** Removes the rule at 1-based `index` of `rules(key)`. */
  forgetRule(key: ConversationKey, index: number): Promise<CommandReply>;
  /** Starts afresh: clears the current image, undo stack and rules of this conversation; history is kept. */
  reset(key: ConversationKey): Promise<CommandReply>;
  /** The workflow of a turn of this conversation (the latest planned one when omitted). */
  showPlan(key: ConversationKey, turnId?: number): Promise<PlanView | undefined>;
  /** Records which platform message carried a turn's result, so replies to it resolve to the turn. */
  linkMessage(key: ConversationKey, turnId: number, platformMessageId: string): Promise<void>;
  /** Turns interrupted by a crash whose users have not been told yet, for adapters that can notify proactively; returning them marks them told. */
  pendingNotices(): Promise<ReadonlyArray<{ readonly key: ConversationKey; readonly text: string }>>;
  /** Waits for running turns to stop (cancelling them), then releases the database. */
  close(): Promise<void>;
}
