/**
 * One specification of the TurnStore, run against every implementation: the
 * in-memory store tests use, PGlite and PostgreSQL (through drizzle). What one
 * answers, the others answer too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rule } from '../../../src/builder/builder.ts';
import { parseWorkflow } from '../../../src/engine/workflow/parse.ts';
import { type Database, openDatabase } from '../../../src/sessions/database.ts';
import { DrizzleTurnStore } from '../../../src/sessions/store/drizzle-store.ts';
import { MemoryTurnStore } from '../../../src/sessions/store/memory-store.ts';
import type { ImageMeta, TurnStore } from '../../../src/sessions/store/turn-store.ts';
import type { ConversationKey } from '../../../src/sessions/types.ts';
import { describeWithPostgres } from '../../support/services.ts';
import { freshPostgres } from '../harness.ts';

const describePg = await describeWithPostgres();

const grayscale = parseWorkflow(`{"pipeline": [{"step": 1, "model": "GRAYSCALE", "input": {"image": "init[image]"}, "output": {"image": "step1[image]"}}, {"result": "[step1[image]]"}]}`);
const rule = (text: string, brick: string): Rule => ({ kind: 'forbid', brick, text });
const meta = (sha: string, bytes = 100): ImageMeta => ({ sha, bytes, width: 4, height: 3, format: 'png' });
const plan = { builder: 'offline', reasoning: 'because', workflow: grayscale, attempts: null, promptTokens: null, completionTokens: null, planMs: 3 };

function storeSpec(open: () => Promise<{ store: TurnStore; close: () => Promise<void> }>): void {
  let store: TurnStore;
  let close: () => Promise<void>;
  let n = 0;
  /** A conversation of its own for each test: the store is shared within the suite. */
  const key = (user = `u${++n}`): ConversationKey => ({ platform: 'test', chatId: `chat-${user}`, userId: user });

  beforeAll(async () => {
    ({ store, close } = await open());
  }, 60_000);
  afterAll(async () => close?.());

  it('gives a key one conversation, and finding one never creates it', async () => {
    const k = key();
    expect(await store.findConversation(k)).toBeUndefined();
    const id = await store.conversationId(k, 'Ann');
    expect(await store.conversationId(k)).toBe(id);
    expect(await store.findConversation(k)).toBe(id);
    expect(await store.findConversation({ ...k, threadId: 't1' })).toBeUndefined();
    const snap = await store.load(id, 8);
    expect(snap?.conversation).toEqual({ id, key: k, current: null, undo: [], redo: [] });
  });

  it('stores a turn with its inputs, and refuses a second turn for the same message', async () => {
    const conv = await store.conversationId(key());
    await store.recordImage(meta('photo-a'));
    await store.recordImage(meta('mask-a'));
    const id = await store.insertTurn({ conversationId: conv, messageId: 'm1', text: 'make it grey', intent: 'edit', status: 'queued', inputs: { image: 'photo-a', mask: 'mask-a' } });
    expect(id).toBeTypeOf('number');
    expect(await store.insertTurn({ conversationId: conv, messageId: 'm1', text: 'again', intent: 'edit', status: 'queued', inputs: {} })).toBeUndefined();
    // Messages without an id (typed in the terminal) are never taken for redeliveries.
    const a = await store.insertTurn({ conversationId: conv, messageId: '', text: 'a', intent: 'follow-up', status: 'queued', inputs: {} });
    const b = await store.insertTurn({ conversationId: conv, messageId: '', text: 'b', intent: 'follow-up', status: 'queued', inputs: {} });
    expect(a).not.toBe(b);
    expect([await store.input(id!, 0), await store.input(id!, 1), await store.input(id!, 2)]).toEqual(['photo-a', 'mask-a', undefined]);
    expect(await store.turn(conv, id!)).toMatchObject({ id, conversationId: conv, text: 'make it grey', intent: 'edit', status: 'queued', sourceImage: 'photo-a', workflow: null });
    // Another conversation cannot read it.
    expect(await store.turn(await store.conversationId(key()), id!)).toBeUndefined();
  });

  it('records planning, running and the committed result with its lineage and the new stacks', async () => {
    const conv = await store.conversationId(key());
    await store.recordImage(meta('photo-b'));
    const id = (await store.insertTurn({ conversationId: conv, messageId: 'm', text: 'grey', intent: 'edit', status: 'queued', inputs: {} }))!;
    await store.startPlanning(id, { instruction: 'grey', revisesTurnId: null, inputs: { image: 'photo-b' } });
    expect(await store.turn(conv, id)).toMatchObject({ status: 'planning', instruction: 'grey', sourceImage: 'photo-b' });
    expect(await store.input(id, 0)).toBe('photo-b');
    await store.markRunning(id, plan);
    expect(await store.turn(conv, id)).toMatchObject({ status: 'running', builder: 'offline', reasoning: 'because', workflow: grayscale });
    const stacks = { current: { image: 'out-b', turnId: id }, undo: [{ image: 'photo-b', turnId: id }], redo: [] };
    const trace = [{ step: 1, brick: 'GRAYSCALE', status: 'ok' as const, inputs: {}, emptyMasks: [] }];
    const added = await store.commitResult({ conversationId: conv, turnId: id, outputs: [meta('out-b', 250), meta('photo-b')], stacks, trace, runMs: 7, warnings: [] });
    // Only the image that was new counts.
    expect(added).toBe(250);
    expect(await store.outputs(id)).toEqual(['out-b', 'photo-b']);
    expect(await store.turn(conv, id)).toMatchObject({ status: 'done', trace });
    expect((await store.load(conv, 8))?.conversation).toMatchObject(stacks);
    expect(await store.image('out-b')).toEqual(meta('out-b', 250));
  });

  it('loads a conversation: its rules and its user’s rules for all chats, the newest planned turns, wordless photos', async () => {
    const k = key();
    const conv = await store.conversationId(k);
    const other = await store.conversationId({ ...k, chatId: 'elsewhere' });
    const stranger = await store.conversationId(key());
    const here = await store.insertRule({ conversationId: conv, platform: k.platform, userId: k.userId, rule: rule('never use RES', 'RES') });
    const everywhere = await store.insertRule({ conversationId: null, platform: k.platform, userId: k.userId, rule: rule('never use SOS', 'SOS') });
    await store.insertRule({ conversationId: other, platform: k.platform, userId: k.userId, rule: rule('never use INPAINT', 'INPAINT') });
    await store.insertRule({ conversationId: null, platform: k.platform, userId: 'someone-else', rule: rule('never use FLUX-STYLE', 'FLUX-STYLE') });
    const ids: number[] = [];
    for (const text of ['one', 'two', 'three']) {
      const id = (await store.insertTurn({ conversationId: conv, messageId: text, text, intent: 'edit', status: 'queued', inputs: {} }))!;
      await store.markRunning(id, plan);
      await store.finishTurn(id, 'done');
      ids.push(id);
    }
    await store.recordImage(meta('photo-w'));
    await store.recordImage(meta('mask-w'));
    const wordless = (await store.insertTurn({ conversationId: conv, messageId: 'w', text: '', intent: 'ask-what-to-do', status: 'done', inputs: { image: 'photo-w', mask: 'mask-w' } }))!;
    await store.insertTurn({ conversationId: conv, messageId: 'w2', text: '', intent: 'ask-what-to-do', status: 'done', inputs: { image: 'photo-w' } });

    const snap = (await store.load(conv, 2))!;
    expect(snap.rules.map((r) => [r.id, r.rule.text, r.scoped])).toEqual([
      [here, 'never use RES', true],
      [everywhere, 'never use SOS', false],
    ]);
    expect(snap.planned.map((t) => t.text)).toEqual(['three', 'two']);
    expect(snap.wordless).toEqual([wordless]);
    expect((await store.load(stranger, 8))!.rules).toEqual([]);
    expect((await store.history(conv, 3)).map((t) => t.id)).toEqual([wordless + 1, wordless, ids[2]]);
  });

  it('reset clears the stacks and the conversation’s own rules, keeping rules for all chats', async () => {
    const k = key();
    const conv = await store.conversationId(k);
    await store.setStacks(conv, { current: { image: 'x', turnId: null }, undo: [{ image: 'y', turnId: null }], redo: [] });
    await store.insertRule({ conversationId: conv, platform: k.platform, userId: k.userId, rule: rule('never use RES', 'RES') });
    const kept = await store.insertRule({ conversationId: null, platform: k.platform, userId: k.userId, rule: rule('never use SOS', 'SOS') });
    await store.reset(conv);
    const snap = (await store.load(conv, 8))!;
    expect(snap.conversation).toMatchObject({ current: null, undo: [], redo: [] });
    expect(snap.rules.map((r) => r.id)).toEqual([kept]);
    await store.deleteRule(kept);
    expect((await store.load(conv, 8))!.rules).toEqual([]);
  });

  it('undo and redo move the stacks', async () => {
    const conv = await store.conversationId(key());
    const id = (await store.insertTurn({ conversationId: conv, messageId: 'u', text: 'x', intent: 'edit', status: 'done', inputs: {} }))!;
    const stacks = { current: { image: 'a', turnId: null }, undo: [], redo: [{ image: 'b', turnId: id }] };
    await store.moveCurrent(conv, stacks, { turnId: id, image: 'b', kind: 'undo' });
    expect((await store.load(conv, 8))!.conversation).toMatchObject(stacks);
  });

  it('links platform messages to turns of their conversation', async () => {
    const conv = await store.conversationId(key());
    const other = await store.conversationId(key());
    const id = (await store.insertTurn({ conversationId: conv, messageId: 'l', text: 'x', intent: 'edit', status: 'done', inputs: {} }))!;
    await store.linkMessage(conv, 'tg-1', id);
    await store.linkMessage(conv, 'tg-1', id);
    expect(await store.turnOfMessage(conv, 'tg-1')).toBe(id);
    expect(await store.turnOfMessage(other, 'tg-1')).toBeUndefined();
  });

  it('counts image bytes once per image, and prunes only what no turn links', async () => {
    const before = await store.totalImageBytes();
    expect(await store.recordImage(meta('img-1', 10))).toBe(true);
    expect(await store.recordImage(meta('img-1', 10))).toBe(false);
    await store.recordImage(meta('img-2', 20));
    expect(await store.totalImageBytes()).toBe(before + 30);
    const conv = await store.conversationId(key());
    const t1 = (await store.insertTurn({ conversationId: conv, messageId: 'p1', text: '', intent: 'edit', status: 'done', inputs: { image: 'img-2' } }))!;
    await store.insertTurn({ conversationId: conv, messageId: 'p2', text: '', intent: 'edit', status: 'done', inputs: { image: 'img-1' } });
    expect(await store.conversationImages(conv)).toEqual(['img-2', 'img-1']);
    expect((await store.allImages()).map((i) => i.sha).filter((s) => s.startsWith('img-'))).toEqual(['img-1', 'img-2']);
    await store.setStacks(conv, { current: { image: 'img-1', turnId: null }, undo: [], redo: [] });
    expect(await store.protectedImages(conv)).toEqual(new Set(['img-1']));
    expect((await store.protectedImages()).has('img-1')).toBe(true);
    // Still linked: nothing goes.
    expect(await store.deleteUnlinked(['img-2'])).toEqual([]);
    await store.unlink(['img-2'], await store.conversationId(key()));
    expect(await store.input(t1, 0)).toBe('img-2');
    await store.unlink(['img-2'], conv);
    expect(await store.input(t1, 0)).toBeUndefined();
    expect(await store.deleteUnlinked(['img-2', 'img-1'])).toEqual([meta('img-2', 20)]);
    expect(await store.image('img-2')).toBeUndefined();
    expect(await store.totalImageBytes()).toBe(before + 10);
  });

  // Last: it marks every unfinished turn of the suite interrupted.
  it('recovery marks unfinished turns interrupted, and each notice is handed out once', async () => {
    const k = key();
    const conv = await store.conversationId(k);
    const queued = (await store.insertTurn({ conversationId: conv, messageId: 'r1', text: 'slow one', intent: 'edit', status: 'queued', inputs: {} }))!;
    const done = (await store.insertTurn({ conversationId: conv, messageId: 'r2', text: 'fine', intent: 'edit', status: 'done', inputs: {} }))!;
    const { interrupted, noticeDue } = await store.recover();
    expect(interrupted).toContain(queued);
    expect(interrupted).not.toContain(done);
    expect(noticeDue).toContain(conv);
    expect(await store.turn(conv, queued)).toMatchObject({ status: 'interrupted' });
    expect(await store.takeNotices(conv)).toEqual([{ turnId: queued, conversationId: conv, key: k, text: 'slow one' }]);
    expect(await store.takeNotices(conv)).toEqual([]);
    const all = await store.takeNotices();
    expect(all.every((notice) => notice.conversationId !== conv)).toBe(true);
    expect(await store.takeNotices()).toEqual([]);
  });
}

describe('MemoryTurnStore', () => {
  storeSpec(async () => ({ store: new MemoryTurnStore(), close: async () => undefined }));
});

describe('DrizzleTurnStore on PGlite', () => {
  storeSpec(async () => {
    const database: Database = await openDatabase({ inMemory: true });
    return { store: new DrizzleTurnStore(database.db), close: () => database.close() };
  });
});

describePg('DrizzleTurnStore on PostgreSQL (progress writes without waiting for the disk)', () => {
  storeSpec(async () => {
    const pg = await freshPostgres();
    const database = await openDatabase({ databaseUrl: pg.url, poolSize: 2 });
    return {
      store: new DrizzleTurnStore(database.db, { databaseOutlivesProcess: true }),
      close: async () => {
        await database.close();
        await pg.drop();
      },
    };
  });
});
