/**
 * Everything the session manager keeps, behind one narrow interface in the
 * manner of grammY's StorageAdapter: conversations with their current image
 * and undo/redo stacks, turns with their lineage, rules, message links and
 * image metadata. `DrizzleTurnStore` keeps it in PGlite or PostgreSQL;
 * `MemoryTurnStore` keeps it in memory for tests. Both pass one specification
 * (test/sessions/store/turn-store.test.ts).
 *
 * Every write is durable when its promise resolves, except the progress writes
 * (`insertTurn` of a queued turn, `startPlanning`, `markRunning`), which a store
 * may commit without waiting for the disk as long as a later waiting write
 * flushes them (see DrizzleTurnStore).
 */
import type { ImageState } from '../../../db/schema.ts';
import type { Rule } from '../../builder/builder.ts';
import type { StepTrace } from '../../engine/executor.ts';
import type { Workflow } from '../../engine/workflow/types.ts';
import type { ConversationKey, Intent, TurnStatus } from '../types.ts';
import type { Verdict } from '../../critic/types.ts';

export type { ImageState } from '../../../db/schema.ts';

/** A conversation's current image and its stacks. */
export interface Stacks {
  readonly current: ImageState | null;
  readonly undo: readonly ImageState[];
  readonly redo: readonly ImageState[];
}

export interface ConversationRecord extends Stacks {
  readonly id: number;
  readonly key: ConversationKey;
}

export interface TurnRecord {
  readonly id: number;
  readonly conversationId: number;
  readonly text: string;
  readonly intent: string;
  readonly instruction: string;
  readonly revisesTurnId: number | null;
  readonly sourceImage: string | null;
  readonly status: TurnStatus;
  readonly builder: string | null;
  readonly reasoning: string | null;
  readonly workflow: Workflow | null;
  readonly trace: StepTrace[] | null;
  readonly errorMessage: string | null;
  readonly createdAt: Date;
}

/** A stored rule; `scoped` rules belong to one conversation, the others to the user in all their chats. */
export interface RuleRecord {
  readonly id: number;
  readonly rule: Rule;
  readonly scoped: boolean;
}

/** What a conversation's state is loaded from. */
export interface ConversationSnapshot {
  readonly conversation: ConversationRecord;
  /** Its own rules and its user's rules for all chats, oldest first. */
  readonly rules: readonly RuleRecord[];
  /** The newest turns with a workflow, newest first, at most the number asked for. */
  readonly planned: readonly TurnRecord[];
  /** Turns of photos sent without words that came with a mask or second photo. */
  readonly wordless: readonly number[];
}

export interface NewTurn {
  readonly conversationId: number;
  /** The platform's message id: a second turn for the same id is refused (a redelivery). */
  readonly messageId: string;
  readonly text: string;
  readonly intent: Intent;
  readonly status: TurnStatus;
  /** The user's photo, mask and reference photo: inputs 0, 1 and 2. */
  readonly inputs: InputImages;
}

export interface InputImages {
  readonly image?: string | undefined;
  readonly mask?: string | undefined;
  readonly reference?: string | undefined;
}

/** What planning decided, recorded as a turn starts running. */
export interface PlanFields {
  readonly builder: string;
  readonly reasoning: string | null;
  readonly workflow: Workflow;
  readonly attempts: unknown[] | null;
  readonly promptTokens: number | null;
  readonly completionTokens: number | null;
  readonly planMs: number;
}

/** What a finished turn records besides its status. */
export interface FinishFields extends Partial<PlanFields> {
  readonly errorCode?: string;
  readonly errorMessage?: string;
  readonly trace?: StepTrace[];
  readonly runMs?: number;
}

export interface ImageMeta {
  readonly sha: string;
  readonly bytes: number;
  readonly width: number;
  readonly height: number;
  readonly format: string;
}

/** A successful turn, committed at once: its output images and lineage, the turn, and the conversation's new stacks. */
export interface CommittedResult {
  readonly conversationId: number;
  readonly turnId: number;
  readonly outputs: readonly ImageMeta[];
  readonly stacks?: Stacks | undefined;
  readonly trace: StepTrace[];
  readonly runMs: number;
  readonly warnings: readonly string[];
  /** The critic's verdicts on the result (src/critic), kept for export. */
  readonly verdicts?: readonly Verdict[] | undefined;
}

/** An interrupted turn whose user has not been told. */
export interface Notice {
  readonly turnId: number;
  readonly conversationId: number;
  readonly key: ConversationKey;
  readonly text: string;
}

export interface TurnStore {
  // ---- start-up
  /** Marks turns left queued, planning or running as interrupted (notice pending); returns them and every conversation owed a notice. */
  recover(): Promise<{ readonly interrupted: readonly number[]; readonly noticeDue: readonly number[] }>;

  // ---- conversations
  /** The conversation of a key, created when new. */
  conversationId(key: ConversationKey, userName?: string): Promise<number>;
  /** The conversation of a key if it exists; never creates one. */
  findConversation(key: ConversationKey): Promise<number | undefined>;
  load(conversationId: number, historyTurns: number): Promise<ConversationSnapshot | undefined>;
  setStacks(conversationId: number, stacks: Stacks): Promise<void>;
  /** Undo or redo: the new stacks, and the reaction recorded on the turn judged (unless the image was that turn's own source). */
  moveCurrent(conversationId: number, stacks: Stacks, reaction?: { readonly turnId: number; readonly image: string; readonly kind: 'undo' | 'redo' }): Promise<void>;
  /** No current image, empty stacks, and the conversation's own rules deleted, together. */
  reset(conversationId: number): Promise<void>;

  // ---- turns
  /** The new turn's id with its input links, or undefined when the conversation already has a turn for this message id. */
  insertTurn(turn: NewTurn): Promise<number | undefined>;
  turn(conversationId: number, turnId: number): Promise<TurnRecord | undefined>;
  /** Newest first. */
  history(conversationId: number, limit: number): Promise<readonly TurnRecord[]>;
  /** The turn's number within its conversation, as its user sees it (#1 is the conversation's first turn). */
  turnNumber(conversationId: number, turnId: number): Promise<number>;
  /** Planning starts: what is planned on which image (inputs not linked yet are linked). */
  startPlanning(turnId: number, p: { readonly instruction: string; readonly revisesTurnId: number | null; readonly inputs: InputImages & { readonly image: string } }): Promise<void>;
  markRunning(turnId: number, plan: PlanFields): Promise<void>;
  setRevises(turnId: number, revisesTurnId: number): Promise<void>;
  finishTurn(turnId: number, status: TurnStatus, fields?: FinishFields): Promise<void>;
  /** Returns the bytes of output images that were not stored before. */
  commitResult(result: CommittedResult): Promise<number>;
  /** A turn's output images by position. */
  outputs(turnId: number): Promise<readonly string[]>;
  /** The input image at `position` (0 photo, 1 mask, 2 reference). */
  input(turnId: number, position: number): Promise<string | undefined>;
  /** Notices owed, now marked told: of one conversation, or of all. Oldest first. */
  takeNotices(conversationId?: number): Promise<readonly Notice[]>;

  // ---- message links
  linkMessage(conversationId: number, platformMessageId: string, turnId: number): Promise<void>;
  turnOfMessage(conversationId: number, platformMessageId: string): Promise<number | undefined>;

  // ---- rules
  /** `conversationId` null: a rule for all the user's chats on this platform. */
  insertRule(r: { readonly conversationId: number | null; readonly platform: string; readonly userId: string; readonly rule: Rule }): Promise<number>;
  deleteRule(ruleId: number): Promise<void>;
  /** The user's rules for all their chats on this platform, oldest first: what a chat has before its first message. */
  rulesEverywhere(platform: string, userId: string): Promise<readonly RuleRecord[]>;

  // ---- images
  totalImageBytes(): Promise<number>;
  /** Whether it was new. */
  recordImage(meta: ImageMeta): Promise<boolean>;
  image(sha: string): Promise<ImageMeta | undefined>;
  /** Images a current pointer or stack needs, of one conversation or of all. */
  protectedImages(conversationId?: number): Promise<Set<string>>;
  /** The images a conversation's turns link, by their first turn, oldest first. */
  conversationImages(conversationId: number): Promise<readonly string[]>;
  /** Every image, oldest first. */
  allImages(): Promise<readonly ImageMeta[]>;
  /** Drops the links to these images: of one conversation's turns, or of all. */
  unlink(shas: readonly string[], conversationId?: number): Promise<void>;
  /** Deletes those of these images no turn links any more; returns them. */
  deleteUnlinked(shas: readonly string[]): Promise<readonly ImageMeta[]>;
}
