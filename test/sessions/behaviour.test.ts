/**
 * Queueing, limits, cancellation, bad input and isolation between users, on
 * real PGlite with real bricks.
 */
import { eq } from 'drizzle-orm';
import sharp from 'sharp';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { conversations, images, rules as rulesTable, turns } from '../../db/schema.ts';
import { PlanRefusedError } from '../../src/builder/builder.ts';
import { BuilderUnavailableError } from '../../src/builder/mllm-builder.ts';
import { loadConfig } from '../../src/config.ts';
import type { ConversationKey } from '../../src/sessions/types.ts';
import { sha256Hex } from '../../src/sessions/blob-store.ts';
import { type Harness, gradientPng, meanAndSpread, message, openHarness, recorder, withSlowBrick } from './harness.ts';

// Opening a database costs seconds on a loaded two-core machine.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const ann: ConversationKey = { platform: 'test', chatId: 'chat-ann', userId: 'ann' };

async function counts(harness: Harness) {
  const db = harness.database.db;
  return { turns: (await db.select().from(turns)).length, images: (await db.select().from(images)).length };
}

describe('session manager behaviour', () => {
  it('queues a second message behind the running turn, shows its position, and runs it on the first one’s result', async () => {
    h = await openHarness('pglite', { memory: true, customise: withSlowBrick(300) });
    const photo = await gradientPng();
    const first = recorder();
    const second = recorder();
    const third = recorder();
    const p1 = h.manager.handle(message('ann', 'do it slowly', photo), first.listener);
    await new Promise((r) => setTimeout(r, 50));
    const p2 = h.manager.handle(message('ann', 'make it black and white'), second.listener);
    const p3 = h.manager.handle(message('ann', 'make it darker'), third.listener);
    const [o1, o2, o3] = await Promise.all([p1, p2, p3]);
    expect([o1.status, o2.status, o3.status]).toEqual(['done', 'done', 'done']);
    expect(second.events[0]).toMatchObject({ type: 'queued', position: 1 });
    expect(third.events[0]).toMatchObject({ type: 'queued', position: 2 });
    const rows = await h.database.db.select().from(turns).orderBy(turns.id);
    const out1 = first.of('result')[0]!.images[0]!.sha256;
    const out2 = second.of('result')[0]!.images[0]!.sha256;
    expect(rows.map((r) => r.sourceImage)).toEqual([rows[0]!.sourceImage, out1, out2]);
  });

  it('cancels a running turn: marked cancelled, nothing replaced, queued ones dropped too', async () => {
    h = await openHarness('pglite', { memory: true, customise: withSlowBrick(5_000) });
    const photo = await gradientPng();
    await h.manager.handle(message('ann', 'make it brighter', photo), () => {});
    const before = (await h.database.db.select().from(conversations))[0]!.current;
    const running = recorder();
    const p = h.manager.handle(message('ann', 'do it slowly'), running.listener);
    const queued = h.manager.handle(message('ann', 'make it darker'), () => {});
    await new Promise((r) => setTimeout(r, 200));
    expect(running.of('step-started')).toHaveLength(1);
    expect((await h.manager.cancel(ann, 'mallory')).ok).toBe(false);
    const reply = await h.manager.cancel(ann, 'ann');
    expect(reply).toMatchObject({ ok: true, text: 'Cancelling your 2 edits.' });
    const started = Date.now();
    expect((await p).status).toBe('cancelled');
    expect((await queued).status).toBe('cancelled');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(running.events.at(-1)).toMatchObject({ type: 'cancelled' });
    const statuses = (await h.database.db.select().from(turns).orderBy(turns.id)).map((t) => t.status);
    expect(statuses).toEqual(['done', 'cancelled', 'cancelled']);
    expect((await h.database.db.select().from(conversations))[0]!.current).toEqual(before);
  });

  it('refuses turns over the per-user pending and per-minute limits with a clear message', async () => {
    h = await openHarness('pglite', { memory: true, settings: { maxPendingPerUser: 1, turnsPerMinute: 3 }, customise: withSlowBrick(400) });
    const photo = await gradientPng();
    const p = h.manager.handle(message('ann', 'do it slowly', photo), () => {});
    await new Promise((r) => setTimeout(r, 50));
    const busy = recorder();
    await h.manager.handle(message('ann', 'make it darker'), busy.listener);
    expect(busy.of('error')[0]).toMatchObject({ code: 'rate-limited' });
    expect(busy.of('error')[0]!.userMessage).toMatch(/already have 1 edits waiting or running \(the limit is 1\)/);
    // Another user is not held up by ann's limit.
    expect((await h.manager.handle(message('bob', 'make it darker', photo), () => {})).status).toBe('done');
    await p;
    await h.manager.handle(message('ann', 'make it darker'), () => {});
    await h.manager.handle(message('ann', 'make it black and white'), () => {});
    const third = recorder();
    await h.manager.handle(message('ann', 'make it brighter'), third.listener);
    expect(third.of('error')[0]?.userMessage).toMatch(/more than 3 edits in a minute\. Please try again in \d+ s/);
  });

  it('a broken file gets a specific message and loses nothing stored', async () => {
    h = await openHarness('pglite', { memory: true });
    const photo = await gradientPng();
    await h.manager.handle(message('ann', 'make it brighter', photo), () => {});
    const before = { ...(await counts(h)), conv: (await h.database.db.select().from(conversations))[0] };
    const r = recorder();
    const out = await h.manager.handle(message('ann', 'make it black and white', Buffer.from('this is not a picture')), r.listener);
    expect(out.status).toBeUndefined();
    expect(r.events).toEqual([{ type: 'error', code: 'unreadable-image', userMessage: 'That file is not an image I can read (unknown or damaged format).' }]);
    const empty = recorder();
    await h.manager.handle(message('ann', 'make it darker', new Uint8Array()), empty.listener);
    expect(empty.of('error')[0]!.userMessage).toBe('That file is not an image I can read (the file is empty).');
    const truncated = recorder();
    await h.manager.handle(message('ann', 'make it darker', photo.subarray(0, photo.length / 2)), truncated.listener);
    expect(truncated.of('error')[0]!.code).toBe('unreadable-image');
    expect({ ...(await counts(h)), conv: (await h.database.db.select().from(conversations))[0] }).toEqual(before);
  });

  it('an image over the size limits is refused with the limit named, and nothing is stored', async () => {
    const config = { ...loadConfig({}), maxImagePixels: 100 * 100 };
    h = await openHarness('pglite', { memory: true, runtime: { config } });
    const small = await gradientPng(20, 20);
    await h.manager.handle(message('ann', 'make it brighter', small), () => {});
    const before = await counts(h);
    const huge = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#808080' } }).png().toBuffer();
    const r = recorder();
    await h.manager.handle(message('ann', 'make it brighter', huge), r.listener);
    expect(r.events).toEqual([{ type: 'error', code: 'image-too-large', userMessage: 'That image is too large (400×300 pixels); the limit is 10,000 pixels.' }]);
    expect(await counts(h)).toEqual(before);
    expect((await h.database.db.select().from(conversations))[0]!.current?.turnId).toBe(1);
  });

  it('cancelling one turn (its button) stops that turn only: the one queued behind it runs', async () => {
    h = await openHarness('pglite', { memory: true, customise: withSlowBrick(5_000) });
    const photo = await gradientPng();
    await h.manager.handle(message('ann', 'make it brighter', photo), () => {});
    const running = recorder();
    const p = h.manager.handle(message('ann', 'do it slowly'), running.listener);
    const queued = recorder();
    const q = h.manager.handle(message('ann', 'make it black and white'), queued.listener);
    await vi.waitFor(() => expect(running.of('step-started')).toHaveLength(1), { timeout: 2_000 });
    const slowTurn = running.of('planning')[0]!.turnId;
    expect(await h.manager.cancel(ann, 'ann', slowTurn + 100)).toEqual({ ok: false, text: 'That edit has already finished.' });
    expect(await h.manager.cancel(ann, 'ann', slowTurn)).toEqual({ ok: true, text: 'Cancelling that edit.' });
    expect((await p).status).toBe('cancelled');
    expect((await q).status).toBe('done');
    expect((await meanAndSpread(queued.of('result')[0]!.images[0]!.bytes)).channelSpread).toBeLessThan(1);
    expect((await h.database.db.select().from(turns).orderBy(turns.id)).map((t) => t.status)).toEqual(['done', 'cancelled', 'done']);
  });

  it('a rule for all chats holds in every conversation of that user, nobody else’s; /reset keeps it and /forget removes it everywhere', async () => {
    const planned: Array<{ instruction: string; rules: string[] }> = [];
    h = await openHarness('pglite', {
      memory: true,
      customise: (rt) => {
        const plan = rt.builder.plan.bind(rt.builder);
        rt.builder.plan = (req) => {
          planned.push({ instruction: req.instruction, rules: (req.rules ?? []).map((r) => r.text) });
          return plan(req);
        };
      },
    });
    const photo = await gradientPng();
    const inChat = (chatId: string, user = 'ann'): ConversationKey => ({ platform: 'test', chatId, userId: user });
    await h.manager.handle(message('ann', 'make it brighter', photo, { chatId: 'a' }), () => {});
    await h.manager.handle(message('ann', 'make it darker', photo, { chatId: 'b' }), () => {});
    await h.manager.handle(message('bob', 'make it darker', photo, { chatId: 'a' }), () => {});

    const r = recorder();
    const out = await h.manager.handle(message('ann', 'never use FLUX-STYLE in all my chats', undefined, { chatId: 'a' }), r.listener);
    expect(out.intent).toBe('rule');
    expect(r.of('info')[0]!.text).toMatch(/^Rule stored: never use FLUX-STYLE\. It applies to every edit in all your chats from now on\./);
    await h.manager.handle(message('ann', 'never use RES', undefined, { chatId: 'a' }), () => {});
    const [stored] = await h.database.db.select().from(rulesTable).where(eq(rulesTable.text, 'never use FLUX-STYLE'));
    expect(stored).toMatchObject({ conversationId: null, platform: 'test', userId: 'ann' });

    // Chat b was already in memory, chat c is new: both have the rule for all chats, neither has chat a's own rule.
    const everywhere = { index: 1, text: 'never use FLUX-STYLE', kind: 'forbid', everywhere: true };
    expect(await h.manager.rules(inChat('a'))).toEqual([everywhere, { index: 2, text: 'never use RES', kind: 'forbid', everywhere: false }]);
    expect(await h.manager.rules(inChat('b'))).toEqual([everywhere]);
    await h.manager.handle(message('ann', 'make it black and white', photo, { chatId: 'c' }), () => {});
    expect(planned.at(-1)).toEqual({ instruction: 'make it black and white', rules: ['never use FLUX-STYLE'] });
    expect(await h.manager.rules(inChat('a', 'bob'))).toEqual([]);

    const reset = await h.manager.reset(inChat('b'));
    expect(reset.text).toContain('Your rule for all chats still holds (/rules).');
    expect(await h.manager.rules(inChat('b'))).toEqual([everywhere]);
    expect((await h.manager.forgetRule(inChat('b'), 1)).text).toBe('Forgot rule 1: "never use FLUX-STYLE", in all your chats.');
    expect(await h.manager.rules(inChat('a'))).toEqual([{ index: 1, text: 'never use RES', kind: 'forbid', everywhere: false }]);
    expect(await h.manager.rules(inChat('c'))).toEqual([]);
    expect(await h.database.db.select().from(rulesTable)).toHaveLength(1);
  });

  it('keeps a rule "for all chats" to the chat when the sender id is shared by several people (anonymous admins)', async () => {
    h = await openHarness('pglite', { memory: true });
    const r = recorder();
    await h.manager.handle({ ...message('anon', 'never use FLUX-STYLE in all my chats', undefined, { chatId: 'g1' }), sharedIdentity: true }, r.listener);
    expect(r.of('info').map((e) => e.text)[0]).toMatch(/anonymously .* to this chat only/);
    const [stored] = await h.database.db.select().from(rulesTable);
    expect(stored!.conversationId).not.toBeNull();
    expect(await h.manager.rules({ platform: 'test', chatId: 'g2', userId: 'anon' })).toEqual([]);
  });

  it('an instruction the Builder refuses fails that turn only, with its suggestions, keeping the current image', async () => {
    h = await openHarness('pglite', {
      memory: true,
      customise: (rt) => {
        const plan = rt.builder.plan.bind(rt.builder);
        rt.builder.plan = async (req) => {
          if (req.instruction.includes('tiger')) throw new PlanRefusedError('I cannot turn things into tigers.', ['"make it brighter"']);
          return plan(req);
        };
      },
    });
    await h.manager.handle(message('ann', 'make it brighter', await gradientPng()), () => {});
    const before = (await h.database.db.select().from(conversations))[0]!.current;
    const r = recorder();
    const out = await h.manager.handle(message('ann', 'turn the cat into a tiger'), r.listener);
    expect(out.status).toBe('failed');
    expect(r.of('error')[0]).toMatchObject({ code: 'plan-refused', userMessage: 'I cannot turn things into tigers. I can, for example: "make it brighter".' });
    expect((await h.database.db.select().from(conversations))[0]!.current).toEqual(before);
    const [row] = await h.database.db.select().from(turns).where(eq(turns.id, out.turnId!));
    expect(row).toMatchObject({ status: 'failed', errorCode: 'plan-refused' });
  });

  it('"again" in reply to a turn the Builder could not plan (endpoint down) plans it once the Builder is back', async () => {
    let down = true;
    h = await openHarness('pglite', {
      memory: true,
      customise: (rt) => {
        const plan = rt.builder.plan.bind(rt.builder);
        rt.builder.plan = async (req) => {
          if (down) throw new BuilderUnavailableError('Cannot reach the Builder at http://127.0.0.1:9/v1: connection refused');
          return plan(req);
        };
      },
    });
    const photo = await gradientPng();
    const first = await h.manager.handle(message('ann', 'make it black and white', photo), () => {});
    expect(first.status).toBe('failed');
    down = false;
    const retry = recorder();
    const out = await h.manager.handle(message('ann', 'again', undefined, { replyTo: { turnId: first.turnId! } }), retry.listener);
    expect(out).toMatchObject({ intent: 'revision', status: 'done' });
    const [row] = await h.database.db.select().from(turns).where(eq(turns.id, out.turnId!));
    expect(row).toMatchObject({ instruction: 'make it black and white', sourceImage: sha256Hex(photo), revisesTurnId: first.turnId });
    const { channelSpread } = await meanAndSpread(retry.of('result')[0]!.images[0]!.bytes);
    expect(channelSpread).toBeLessThan(1);
    // Undo goes back to the photo the failed turn was given.
    await h.manager.undo(ann);
    expect((await h.database.db.select().from(conversations))[0]!.current?.image).toBe(sha256Hex(photo));
  });

  it('"again" on a plan with no randomness says so and runs a stronger variant, never the same picture', async () => {
    h = await openHarness('pglite', { memory: true });
    const first = recorder();
    const done = await h.manager.handle(message('ann', 'make it brighter', await gradientPng()), first.listener);
    const again = recorder();
    const out = await h.manager.handle(message('ann', 'try again', undefined, { replyTo: { turnId: done.turnId! } }), again.listener);
    expect(out.status).toBe('done');
    // The same plan is run afresh once; its picture equals the last one, so a variant runs.
    expect(again.of('planned').map((e) => e.summary)).toEqual(['ADJUST(1.3)', 'ADJUST(1.48)']);
    const result = again.of('result')[0]!;
    const before = first.of('result')[0]!.images[0]!;
    expect(result.images[0]!.sha256).not.toBe(before.sha256);
    expect((await meanAndSpread(result.images[0]!.bytes)).mean).toBeGreaterThan((await meanAndSpread(before.bytes)).mean);
    expect(result.caption).toMatch(/This edit gives the same picture every time, so this one uses a stronger setting\./);
  });

  it('"again" on a plan with nothing to vary says so and sends no second copy of the picture', async () => {
    h = await openHarness('pglite', { memory: true });
    const done = await h.manager.handle(message('ann', 'make it black and white', await gradientPng()), () => {});
    const current = (await h.database.db.select().from(conversations))[0]!.current;
    const again = recorder();
    const out = await h.manager.handle(message('ann', 'again', undefined, { replyTo: { turnId: done.turnId! } }), again.listener);
    expect(out.status).toBe('done');
    expect(again.of('result')).toHaveLength(0);
    expect(again.of('info').at(-1)!.text).toMatch(/^This edit gives the same picture every time and there is nothing in it I can vary, so I did not send the same picture again\. Tell me what to change instead/);
    expect((await h.database.db.select().from(conversations))[0]!.current).toEqual(current);
  });

  it('a step that fails ends the turn with the step named, keeping the current image and the trace', async () => {
    h = await openHarness('pglite', { memory: true });
    await h.manager.handle(message('ann', 'make it brighter', await gradientPng()), () => {});
    const before = (await h.database.db.select().from(conversations))[0]!.current;
    const r = recorder();
    const out = await h.manager.handle(message('ann', 'remove the giraffe'), r.listener);
    expect(out.status).toBe('failed');
    expect(r.of('error')[0]!.userMessage.length).toBeGreaterThan(10);
    expect((await h.database.db.select().from(conversations))[0]!.current).toEqual(before);
  });

  it('a redelivered message is not run twice', async () => {
    h = await openHarness('pglite', { memory: true });
    const m = message('ann', 'make it brighter', await gradientPng());
    await h.manager.handle(m, () => {});
    const again = recorder();
    await h.manager.handle(m, again.listener);
    expect(again.of('info')[0]!.text).toMatch(/already have this message/);
    expect((await counts(h)).turns).toBe(1);
  });
});

describe('isolation between users', () => {
  it('a user cannot reach another user’s conversation, turns, plans or images, even in the same chat', async () => {
    h = await openHarness('pglite', { memory: true });
    const annPhoto = await gradientPng(48, 32, 1);
    const annTurn = await h.manager.handle(message('ann', 'make it brighter', annPhoto, { chatId: 'group' }), () => {});
    const annKey: ConversationKey = { platform: 'test', chatId: 'group', userId: 'ann' };
    const bobKey: ConversationKey = { platform: 'test', chatId: 'group', userId: 'bob' };

    const follow = recorder();
    await h.manager.handle(message('bob', 'make it darker', undefined, { chatId: 'group' }), follow.listener);
    expect(follow.of('clarify')[0]!.question).toMatch(/photo first/);

    await h.manager.handle(message('bob', 'make it black and white', await gradientPng(48, 32, 2), { chatId: 'group' }), () => {});
    const reply = recorder();
    await h.manager.handle(message('bob', 'make it darker', undefined, { chatId: 'group', replyTo: { turnId: annTurn.turnId! } }), reply.listener);
    expect(reply.of('error')[0]).toMatchObject({ code: 'unknown-reply' });

    await h.manager.linkMessage(annKey, annTurn.turnId!, 'platform-msg-1');
    await h.manager.linkMessage(bobKey, annTurn.turnId!, 'platform-msg-2');
    const viaLink = recorder();
    await h.manager.handle(message('bob', 'too much', undefined, { chatId: 'group', replyTo: { messageId: 'platform-msg-1' } }), viaLink.listener);
    expect(viaLink.events.filter((e) => e.type === 'result')).toEqual([]);

    expect(await h.manager.showPlan(bobKey, annTurn.turnId!)).toBeUndefined();
    expect((await h.manager.history(bobKey)).map((e) => e.instruction)).toEqual(['make it black and white']);
    expect((await h.manager.cancel(annKey, 'bob')).ok).toBe(false);
    expect(await h.manager.showPlan(annKey, annTurn.turnId!)).toMatchObject({ summary: 'ADJUST(1.3)' });
    const annConv = (await h.database.db.select().from(conversations).where(eq(conversations.userId, 'ann')))[0]!;
    expect(annConv.current?.turnId).toBe(annTurn.turnId);

    // Ann's reply through her own link does reach her turn.
    const own = recorder();
    const out = await h.manager.handle(message('ann', 'make it black and white', undefined, { chatId: 'group', replyTo: { messageId: 'platform-msg-1' } }), own.listener);
    expect(out.status).toBe('done');
  });
});
