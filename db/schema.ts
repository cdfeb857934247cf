/**
 * The one database schema, shared by embedded PGlite and PostgreSQL.
 * Migrations in migrations/ are generated from it with `npm run db:generate`.
 */
import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, jsonb, pgTable, primaryKey, serial, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import type { StoredVerdict } from '../src/critic/types.ts';

/** One entry of the current-image pointer and its undo/redo stacks: an image and the turn that made it (null for an upload). */
export interface ImageState {
  readonly image: string;
  readonly turnId: number | null;
}

export const conversations = pgTable(
  'conversations',
  {
    id: serial('id').primaryKey(),
    platform: text('platform').notNull(),
    chatId: text('chat_id').notNull(),
    /** '' when the platform has no threads, so the unique key needs no NULL handling. */
    threadId: text('thread_id').notNull().default(''),
    userId: text('user_id').notNull(),
    userName: text('user_name'),
    current: jsonb('current').$type<ImageState | null>(),
    undoStack: jsonb('undo_stack').$type<ImageState[]>().notNull().default(sql`'[]'::jsonb`),
    redoStack: jsonb('redo_stack').$type<ImageState[]>().notNull().default(sql`'[]'::jsonb`),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('conversations_key').on(t.platform, t.chatId, t.threadId, t.userId), index('conversations_user').on(t.platform, t.userId)],
);

export const turns = pgTable(
  'turns',
  {
    id: serial('id').primaryKey(),
    conversationId: integer('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    /** The platform's message id, to ignore redelivered updates. */
    messageId: text('message_id'),
    text: text('text').notNull().default(''),
    intent: text('intent').notNull(),
    /** The instruction the Builder was given (for a revision or rule re-plan, the original turn's). */
    instruction: text('instruction').notNull().default(''),
    /** The turn this one revises or re-plans, with the feedback in `text`. */
    revisesTurnId: integer('revises_turn_id'),
    /** The image the workflow ran on. */
    sourceImage: text('source_image'),
    status: text('status').$type<'queued' | 'planning' | 'running' | 'done' | 'failed' | 'interrupted' | 'cancelled'>().notNull(),
    builder: text('builder'),
    reasoning: text('reasoning'),
    /** The accepted workflow, internal form. */
    workflow: jsonb('workflow'),
    /** Every planner attempt with its problems. */
    attempts: jsonb('attempts'),
    /** Per-step trace: timings, cache hits, empty masks, errors. */
    trace: jsonb('trace'),
    warnings: jsonb('warnings').$type<string[]>(),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    promptTokens: integer('prompt_tokens'),
    completionTokens: integer('completion_tokens'),
    planMs: integer('plan_ms'),
    runMs: integer('run_ms'),
    /** What the user did with this turn's result afterwards: undo (they went back from it), redo (they took it back). */
    reactions: jsonb('reactions').$type<Array<{ kind: 'undo' | 'redo'; at: string }>>().notNull().default([]),
    /** What the critic said of the result before it was sent (offline checks, critic model), per run of the turn: src/critic. */
    verdicts: jsonb('verdicts').$type<StoredVerdict[]>(),
    /** Interrupted by a crash and the user not yet told. */
    noticePending: boolean('notice_pending').notNull().default(false),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    index('turns_conversation').on(t.conversationId, t.id),
    index('turns_status').on(t.status),
    uniqueIndex('turns_message').on(t.conversationId, t.messageId),
  ],
);

/** Content-addressed image metadata; the bytes live in the blob store under the same hash. */
export const images = pgTable('images', {
  sha256: text('sha256').primaryKey(),
  bytes: bigint('bytes', { mode: 'number' }).notNull(),
  width: integer('width').notNull(),
  height: integer('height').notNull(),
  format: text('format').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Inputs and outputs of turns: the image lineage (which result came from which source by which workflow). */
export const turnImages = pgTable(
  'turn_images',
  {
    turnId: integer('turn_id')
      .notNull()
      .references(() => turns.id, { onDelete: 'cascade' }),
    role: text('role').$type<'input' | 'output'>().notNull(),
    position: integer('position').notNull(),
    imageSha: text('image_sha')
      .notNull()
      .references(() => images.sha256),
  },
  (t) => [primaryKey({ columns: [t.turnId, t.role, t.position] }), index('turn_images_image').on(t.imageSha)],
);

/** Standing constraints from feedback. A rule with no conversation applies to all the user's conversations on that platform. */
export const rules = pgTable(
  'rules',
  {
    id: serial('id').primaryKey(),
    conversationId: integer('conversation_id').references(() => conversations.id, { onDelete: 'cascade' }),
    platform: text('platform').notNull(),
    userId: text('user_id').notNull(),
    kind: text('kind').notNull(),
    brick: text('brick').notNull(),
    before: text('before'),
    text: text('text').notNull(),
    /** The whole structured rule as the Builder's parser made it (scope, resolved bricks). */
    data: jsonb('data').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('rules_conversation').on(t.conversationId), index('rules_user').on(t.platform, t.userId)],
);

/** Platform messages that carried a turn's result, so a reply to one resolves to its turn. */
export const messageLinks = pgTable(
  'message_links',
  {
    conversationId: integer('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    platformMessageId: text('platform_message_id').notNull(),
    turnId: integer('turn_id')
      .notNull()
      .references(() => turns.id, { onDelete: 'cascade' }),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.platformMessageId] })],
);
