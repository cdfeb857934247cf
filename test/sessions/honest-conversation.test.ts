/**
 * What a person sees of a conversation, through the session manager with the offline Builder, real bricks and
 * a real database: nothing lost after a failed first message, a rule is a rule whenever it comes, undo and redo
 * say which image is current, compound corrections, rules for all chats visible in a new chat, answers that are
 * true, and turn numbers per conversation.
 */
import { eq } from 'drizzle-orm';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { conversations } from '../../db/schema.ts';
import { sha256Hex } from '../../src/sessions/blob-store.ts';
import { formatHistory } from '../../src/sessions/format.ts';
import type { ConversationKey } from '../../src/sessions/types.ts';
import { type Harness, gradientPng, meanAndSpread, message, openHarness, recorder } from './harness.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const keyOf = (user: string, chatId = `chat-${user}`): ConversationKey => ({ platform: 'test', chatId, userId: user });

async function currentOf(harness: Harness, user: string): Promise<{ image: string; turnId: number | null } | null> {
  const [row] = await harness.database.db.select().from(conversations).where(eq(conversations.userId, user));
  return row?.current ?? null;
}

describe('a failed first edit', () => {
  it('keeps the photo as the current image, so the next instruction edits it', async () => {
    h = await openHarness('pglite', { memory: true });
    const photo = await gradientPng();
    const first = recorder();
    // FLUX-STYLE needs a GPU host, and this host has none.
    const failed = await h.manager.handle(message('ann', 'make it look like a watercolour painting', photo), first.listener);
    expect(failed.status).toBe('failed');
    expect((await currentOf(h, 'ann'))?.image).toBe(sha256Hex(photo));

    const next = recorder();
    const out = await h.manager.handle(message('ann', 'ok, make it black and white then'), next.listener);
    expect(out).toMatchObject({ intent: 'follow-up', status: 'done' });
    expect((await meanAndSpread(next.of('result')[0]!.images[0]!.bytes)).channelSpread).toBeLessThan(1);
  });

  it('tells the user one friendly sentence, once, with no setting names and no "trying another" without another plan', async () => {
    h = await openHarness('pglite', { memory: true });
    const r = recorder();
    await h.manager.handle(message('bob', 'make it look like a watercolour painting', await gradientPng()), r.listener);
    const errors = r.of('error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.userMessage).toMatch(/^I can't make that edit here: it needs a tool this bot has not been set up with\. You can ask for something else, for example "make it black and white"/);
    const shown = r.events.map((e) => ('userMessage' in e ? e.userMessage : 'text' in e ? e.text : '')).join('\n');
    expect(shown).not.toMatch(/LEGO_EDIT_|REDIS_URL|README/);
    const tries = r.of('info').filter((i) => /Trying another way/.test(i.text));
    // Announced only when another plan was made and run.
    expect(tries).toHaveLength(r.of('planned').length - 1);
  });

  it('gives the operator, in the log, the setting the user is spared', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    h = await openHarness('pglite', { memory: true, customise: (rt) => Object.assign(rt, { logger }) });
    const r = recorder();
    await h.manager.handle(message('bob', 'make it look like a watercolour painting', await gradientPng()), r.listener);
    expect(r.of('error')[0]!.userMessage).not.toMatch(/LEGO_EDIT_WORKER_URL/);
    const failed = lines.map((l) => JSON.parse(l) as { msg: string; err?: unknown }).filter((l) => l.msg === 'turn failed');
    expect(failed).toHaveLength(1);
    expect(String(failed[0]!.err)).toMatch(/LEGO_EDIT_WORKER_URL \(HTTP worker\) or REDIS_URL/);
  });
});

describe('a standing rule', () => {
  it('sent with the first photo is stored as a rule, and the photo waits for an instruction', async () => {
    h = await openHarness('pglite', { memory: true });
    const photo = await gradientPng();
    const r = recorder();
    const out = await h.manager.handle(message('cat', 'never use FLUX-STYLE', photo), r.listener);
    expect(out).toMatchObject({ intent: 'rule', status: 'done' });
    expect(r.of('planning')).toHaveLength(0);
    expect(r.of('info').at(-1)!.text).toBe('Rule stored: never use FLUX-STYLE. It applies to every edit from now on. Now tell me what to change in your photo.');
    expect(await h.manager.rules(keyOf('cat'))).toEqual([{ index: 1, text: 'never use FLUX-STYLE', kind: 'forbid', everywhere: false }]);
    expect((await currentOf(h, 'cat'))?.image).toBe(sha256Hex(photo));
    const next = await h.manager.handle(message('cat', 'make it black and white'), () => {});
    expect(next).toMatchObject({ intent: 'follow-up', status: 'done' });
  });

  it('said "in all my chats" is listed by /rules in a chat that has had no message yet', async () => {
    h = await openHarness('pglite', { memory: true });
    await h.manager.handle(message('dan', 'never use FLUX-STYLE in all my chats', undefined, { chatId: 'first' }), () => {});
    const fresh = keyOf('dan', 'second');
    expect(await h.manager.rules(fresh)).toEqual([{ index: 1, text: 'never use FLUX-STYLE', kind: 'forbid', everywhere: true }]);
    expect(await h.manager.rules(keyOf('eve', 'second'))).toEqual([]);
    // What /rules lists there, /forget there removes.
    expect(await h.manager.forgetRule(fresh, 1)).toMatchObject({ ok: true, text: 'Forgot rule 1: "never use FLUX-STYLE", in all your chats.' });
    expect(await h.manager.rules(keyOf('dan', 'first'))).toEqual([]);
  });

  it('"prefer" is never answered "already follows it": the reply says what the last edit used', async () => {
    h = await openHarness('pglite', { memory: true });
    await h.manager.handle(message('fay', 'make it brighter', await gradientPng()), () => {});
    const r = recorder();
    await h.manager.handle(message('fay', 'prefer FASTINPAINT'), r.listener);
    const text = r.of('info').at(-1)!.text;
    expect(text).not.toMatch(/already follows/);
    expect(text).toMatch(/your last edit \("make it brighter"\) did not use FASTINPAINT\.$/);
  });
});

describe('undo and redo', () => {
  it('say which image is now current, and /history marks only a turn whose result is current', async () => {
    h = await openHarness('pglite', { memory: true });
    const key = keyOf('gus');
    await h.manager.handle(message('gus', 'make it brighter', await gradientPng()), () => {});
    await h.manager.handle(message('gus', 'make it black and white'), () => {});
    expect(formatHistory(await h.manager.history(key))).toMatch(/^#1 \[done\] .*\n#2 \* \[done\] "make it black and white"/);

    expect((await h.manager.undo(key)).text).toBe('Back to the result of #1 ("make it brighter").');
    expect(formatHistory(await h.manager.history(key))).toMatch(/^#1 \* \[done\] "make it brighter".*\n#2 \[done\]/);
    expect((await h.manager.undo(key)).text).toBe('Back to your original photo.');
    expect((await h.manager.history(key)).map((e) => e.current)).toEqual([false, false]);
    expect((await h.manager.redo(key)).text).toBe('Forward again to the result of #1 ("make it brighter").');
    expect((await h.manager.history(key)).map((e) => e.current)).toEqual([true, false]);
  });
});

describe('compound corrections', () => {
  it('"undo that and make it black and white" edits the photo the last edit started from', async () => {
    h = await openHarness('pglite', { memory: true });
    const photo = await gradientPng();
    await h.manager.handle(message('hal', 'make it brighter', photo), () => {});
    const r = recorder();
    const out = await h.manager.handle(message('hal', 'undo that and make it black and white'), r.listener);
    expect(out).toMatchObject({ intent: 'revision', status: 'done' });
    expect(r.of('planned')[0]!.summary).toBe('GRAYSCALE');
    const result = await meanAndSpread(r.of('result')[0]!.images[0]!.bytes);
    const original = await meanAndSpread(photo);
    expect(result.channelSpread).toBeLessThan(1);
    // Not brightened: the photo's own brightness, in gray.
    expect(Math.abs(result.mean - original.mean)).toBeLessThan(original.mean * 0.1);
  });

  it('"instead" with a new instruction replaces the last one on the same photo', async () => {
    h = await openHarness('pglite', { memory: true });
    await h.manager.handle(message('ida', 'make it brighter', await gradientPng()), () => {});
    const r = recorder();
    const out = await h.manager.handle(message('ida', 'undo that and make it black and white instead'), r.listener);
    expect(out).toMatchObject({ intent: 'revision', status: 'done' });
    expect(r.of('planned')[0]!.summary).toBe('GRAYSCALE');
  });
});

describe('turn numbers', () => {
  it('count per conversation in history, plans and undo', async () => {
    h = await openHarness('pglite', { memory: true });
    for (const chat of ['one', 'two']) await h.manager.handle(message('jo', 'make it brighter', await gradientPng(), { chatId: chat }), () => {});
    const second = keyOf('jo', 'two');
    const [entry] = await h.manager.history(second);
    expect(entry!.turnId).toBeGreaterThan(1);
    expect(entry!.number).toBe(1);
    expect(formatHistory([entry!])).toMatch(/^#1 \* \[done\]/);
    expect((await h.manager.showPlan(second))?.number).toBe(1);
    const r = recorder();
    await h.manager.handle(message('jo', 'show plan', undefined, { chatId: 'two' }), r.listener);
    expect(r.of('info')[0]!.text).toMatch(/^Plan of turn #1 /);
  });
});
