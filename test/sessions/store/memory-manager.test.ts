/**
 * The session manager on the in-memory TurnStore behaves as it does on the
 * database: the same conversation (edits, feedback, rules, undo/redo, reset,
 * replies, history, a redelivery, a restart's notices) gives the same events,
 * results, history, rules and plans on both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import { MemoryBlobStore } from '../../../src/sessions/blob-store.ts';
import { type Database, openDatabase } from '../../../src/sessions/database.ts';
import { DbSessionManager } from '../../../src/sessions/manager.ts';
import { DrizzleTurnStore } from '../../../src/sessions/store/drizzle-store.ts';
import { MemoryTurnStore } from '../../../src/sessions/store/memory-store.ts';
import type { TurnStore } from '../../../src/sessions/store/turn-store.ts';
import type { ConversationKey, HistoryEntry, IncomingMessage, PlanView, SessionEvent } from '../../../src/sessions/types.ts';
import { gradientPng, testRuntime } from '../harness.ts';

const key: ConversationKey = { platform: 'test', chatId: 'chat-ann', userId: 'ann' };

/** What a user sees of an event, with nothing that differs between runs (timings). */
function seen(e: SessionEvent): unknown {
  switch (e.type) {
    case 'result':
      return { type: e.type, turnId: e.turnId, caption: e.caption, images: e.images.map((i) => i.sha256) };
    case 'step-finished':
      return { type: e.type, turnId: e.turnId, step: e.step, brick: e.brick, cached: e.cached };
    case 'planned':
      return { type: e.type, turnId: e.turnId, summary: e.summary, builder: e.builder };
    case 'info':
      return { ...e, text: untimed(e.text) };
    default:
      return e;
  }
}

/** A plan's step lines ("1 ADJUST 0.1 s") without their times, which a loaded machine changes. */
const untimed = (text: string): string => text.replace(/\b\d+\.\d s\b/g, '… s');

/** A plan as shown, without its step times. */
const untimedPlan = (plan: PlanView | undefined): unknown => plan && { ...plan, ...(plan.timings !== undefined ? { timings: untimed(plan.timings) } : {}) };

/** History without its timestamps. */
const undated = (entries: readonly HistoryEntry[]): unknown[] => entries.map(({ createdAt: _at, ...rest }) => rest);

/** Runs one scripted conversation on a manager over `store`, and returns everything the user could observe. */
async function conversation(store: TurnStore): Promise<unknown[]> {
  const rt = testRuntime({ ...loadConfig({}), dataDir: '/nonexistent' });
  const start = (): Promise<DbSessionManager> =>
    DbSessionManager.start({ store, blobs, builder: rt.builder, executor: rt.executor, registry: rt.registry, limits: rt.limits, settings: { pruneEvery: 1, maxImagesPerConversation: 6 } });
  const blobs = new MemoryBlobStore();
  let manager = await start();
  const seenAll: unknown[] = [];
  let seq = 0;
  const say = async (text: string | undefined, image?: Buffer, extra: Partial<IncomingMessage> = {}): Promise<void> => {
    const events: SessionEvent[] = [];
    const msg: IncomingMessage = { ...key, messageId: `m${++seq}`, ...(text !== undefined ? { text } : {}), images: image ? [{ bytes: image }] : [], ...extra };
    const out = await manager.handle(msg, (e) => void events.push(e));
    seenAll.push({ said: text, out, events: events.map(seen) });
  };
  const photo = await gradientPng();
  await say('make it black and white', photo);
  await say('make it brighter');
  await say('too much');
  await say('never use GRAYSCALE');
  await say('/rules');
  await say('undo');
  await say('redo');
  await say('make it darker', undefined, { replyTo: { turnId: 1 } });
  await say('show plan');
  await say(undefined, await gradientPng(40, 30, 3));
  await say('make it brighter');
  await say('history');
  seenAll.push(undated(await manager.history(key)), await manager.rules(key), untimedPlan(await manager.showPlan(key, 2)));
  // A redelivered message (the same id as the last edit) is refused.
  await say('make it brighter', undefined, { messageId: 'm11' });
  await say('/forget 1');
  await say('/reset');
  await say('make it brighter');
  seenAll.push(await manager.cancel(key, 'ann'), await manager.cancel(key, 'bob'));
  await manager.close();
  manager = await start();
  seenAll.push(await manager.pendingNotices(), undated(await manager.history(key, 3)));
  await manager.close();
  return seenAll;
}

describe('the session manager on the in-memory TurnStore', () => {
  let database: Database;
  let onMemory: unknown[];
  let onDatabase: unknown[];

  beforeAll(async () => {
    database = await openDatabase({ inMemory: true });
    onMemory = await conversation(new MemoryTurnStore());
    onDatabase = await conversation(new DrizzleTurnStore(database.db));
  }, 120_000);
  afterAll(async () => database?.close());

  it('runs a whole conversation: edits, feedback, a rule, undo and redo, a reply, a wordless photo, reset', () => {
    const outs = onMemory.filter((s): s is { said: string; out: { intent: string; status?: string } } => typeof s === 'object' && s !== null && 'out' in s).map((s) => [s.said, s.out.intent, s.out.status]);
    expect(outs).toEqual([
      ['make it black and white', 'edit', 'done'],
      ['make it brighter', 'follow-up', 'done'],
      ['too much', 'revision', 'done'],
      ['never use GRAYSCALE', 'rule', 'done'],
      ['/rules', 'rules', undefined],
      ['undo', 'undo', undefined],
      ['redo', 'redo', undefined],
      ['make it darker', 'follow-up', 'done'],
      ['show plan', 'show-plan', undefined],
      [undefined, 'ask-what-to-do', 'done'],
      ['make it brighter', 'follow-up', 'done'],
      ['history', 'history', undefined],
      ['make it brighter', 'follow-up', undefined],
      ['/forget 1', 'forget-rule', undefined],
      ['/reset', 'reset', undefined],
      // Nothing to edit after a reset: a question, not an edit.
      ['make it brighter', 'clarify', undefined],
    ]);
  });

  it('shows the user exactly what the database-backed manager shows', () => {
    expect(onMemory).toEqual(onDatabase);
  });
});
