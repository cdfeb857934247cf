/**
 * The Telegram adapter end to end: real telegraf against the fake Bot API server
 * on loopback, the real session manager (PGlite, offline Builder, CPU bricks).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OfflineBuilder } from '../../../src/builder/offline-builder.ts';
import type { Workflow } from '../../../src/engine/workflow/types.ts';
import { silentLogger } from '../../../src/logger.ts';
import { TelegramAdapter } from '../../../adapters/telegram/telegram-adapter.ts';
import { FakeTelegramBotApi, type StoredMessage } from '../../fakes/telegram-bot-api.ts';
import { colourPhoto, deadEndpoint, isGrayscale, meanBrightness, openBotSessions, unreachableBuilder, type BotSessions } from './session-harness.ts';

const buttons = (m: StoredMessage): string[] => (m.reply_markup?.inline_keyboard ?? []).flat().map((b) => b.callback_data ?? '');
const isResult = (m: StoredMessage): boolean => Boolean(m.photo && m.upload && buttons(m).some((d) => d.startsWith('undo:')));

describe('TelegramAdapter against the fake Bot API', () => {
  let fake: FakeTelegramBotApi;
  let bot: BotSessions;
  let adapter: TelegramAdapter;
  let photo: Buffer;
  const ann = { id: 1001, is_bot: false, first_name: 'Ann', username: 'ann' };
  const bob = { id: 1002, is_bot: false, first_name: 'Bob', username: 'bob' };
  const annChat = { id: 1001, type: 'private' as const, first_name: 'Ann' };
  let firstResult: StoredMessage;

  beforeAll(async () => {
    fake = await FakeTelegramBotApi.start();
    bot = await openBotSessions();
    photo = await colourPhoto();
    adapter = new TelegramAdapter({
      token: fake.token,
      apiRoot: fake.apiRoot,
      sessions: bot.sessions.manager,
      registry: bot.rt.registry,
      maxImageBytes: 200_000,
      logger: silentLogger,
      progressIntervalMs: 0,
      albumWaitMs: 150,
    });
    await adapter.start();
  });
  afterAll(async () => {
    await adapter?.stop(2000);
    await bot?.close();
    await fake?.stop();
  });

  it('registers its commands with setMyCommands', async () => {
    const call = await fake.waitForCall('setMyCommands');
    const commands = (call.params.commands as Array<{ command: string }>).map((c) => c.command);
    expect(commands).toEqual(['start', 'help', 'tools', 'rules', 'forget', 'undo', 'redo', 'history', 'reset', 'cancel']);
  });

  it('a photo with a caption is edited: one status message edited in place, then the result photo with buttons', async () => {
    const sent = fake.sendPhoto(ann, annChat, photo, 'make it black and white');
    firstResult = await fake.waitForBotMessage(annChat.id, isResult, { afterId: sent.message_id });
    expect(await isGrayscale(firstResult.upload!.bytes)).toBe(true);
    expect(firstResult.caption).toMatch(/^GRAYSCALE · \d+\.\d s$/);
    expect(firstResult.reply_to_message?.message_id).toBe(sent.message_id);
    expect(buttons(firstResult).map((d) => d.split(':')[0])).toEqual(['undo', 'retry', 'plan']);

    const status = fake.botMessages(annChat.id).filter((m) => m.message_id > sent.message_id && m.text !== undefined);
    expect(status).toHaveLength(1);
    const shown = status[0]!.history.join('\n');
    expect(shown).toMatch(/1\/1 GRAYSCALE ✓ \d+\.\d s/);
    expect(status[0]!.text).toMatch(/Done in/);
    // The Cancel button is offered while running and gone once done.
    expect(fake.callsOf('sendMessage').find((c) => c.result && (c.result as { message_id: number }).message_id === status[0]!.message_id)?.params.reply_markup).toMatchObject({
      inline_keyboard: [[{ text: expect.stringMatching(/Cancel/) }]],
    });
    expect(status[0]!.reply_markup?.inline_keyboard ?? []).toEqual([]);
    // The photo was fetched through getFile with a relative path.
    expect(fake.callsOf('getFile').length).toBeGreaterThan(0);
  });

  it('a reply to a result is feedback on that turn: a revised result from the same source', async () => {
    const original = await meanBrightness(photo);
    const sent = fake.sendText(ann, annChat, 'no, make it darker instead', { replyTo: firstResult.message_id });
    const revised = await fake.waitForBotMessage(annChat.id, isResult, { afterId: sent.message_id });
    expect(await isGrayscale(revised.upload!.bytes)).toBe(false);
    expect(await meanBrightness(revised.upload!.bytes)).toBeLessThan(original * 0.85);
    expect(revised.caption).toMatch(/ADJUST/);
  });

  it('a plain text message is a follow-up edit on the current image', async () => {
    const before = fake.botMessages(annChat.id).filter(isResult).at(-1)!;
    const sent = fake.sendText(ann, annChat, 'make it black and white');
    const next = await fake.waitForBotMessage(annChat.id, isResult, { afterId: sent.message_id });
    expect(await isGrayscale(next.upload!.bytes)).toBe(true);
    expect(next.message_id).toBeGreaterThan(before.message_id);
  });

  it('a rule is stored and the last edit re-planned under it, saying so', async () => {
    const sent = fake.sendText(ann, annChat, "don't use RESIZE");
    const info = await fake.waitForBotMessage(annChat.id, (m) => /Rule stored/.test(m.text ?? ''), { afterId: sent.message_id });
    expect(info.text).toMatch(/Re-planning/);
    await fake.waitForBotMessage(annChat.id, isResult, { afterId: sent.message_id });
    fake.sendText(ann, annChat, '/rules');
    await fake.waitForBotMessage(annChat.id, (m) => /1\. don't use RESIZE/.test(m.text ?? ''), { afterId: sent.message_id });
    const forget = fake.sendText(ann, annChat, '/forget 1');
    await fake.waitForBotMessage(annChat.id, (m) => m.text !== undefined && !m.text.startsWith('⚠️'), { afterId: forget.message_id });
    const rules = fake.sendText(ann, annChat, '/rules');
    await fake.waitForBotMessage(annChat.id, (m) => /No rules yet/.test(m.text ?? ''), { afterId: rules.message_id });
  });

  it('another user pressing the Undo button is refused; the owner’s press undoes', async () => {
    const result = fake.botMessages(annChat.id).filter(isResult).at(-1)!;
    const undo = buttons(result).find((d) => d.startsWith('undo:'))!;
    const calls = fake.calls.length;
    const bobsPress = fake.pressButton(bob, result, undo);
    const refusal = await fake.waitForCall('answerCallbackQuery', (c) => c.params.callback_query_id === bobsPress, { after: calls });
    expect(refusal.params).toMatchObject({ show_alert: true, text: expect.stringMatching(/belong to the person who asked/) });
    expect(fake.callsOf('sendPhoto').length).toBe(fake.botMessages(annChat.id).filter((m) => m.photo).length);

    const photosBefore = fake.callsOf('sendPhoto').length;
    fake.pressButton(ann, result, undo);
    const undone = await fake.waitForCall('sendPhoto', (c) => /Undone/.test(String(c.params.caption)), { after: calls });
    expect(fake.callsOf('sendPhoto').length).toBe(photosBefore + 1);
    expect(undone.files[0]!.bytes.length).toBeGreaterThan(0);
  });

  it('Show plan sends the workflow as a rendered picture and as a JSON document', async () => {
    const result = fake.botMessages(annChat.id).filter(isResult).at(-1)!;
    const calls = fake.calls.length;
    fake.pressButton(ann, result, buttons(result).find((d) => d.startsWith('plan:'))!);
    const picture = await fake.waitForCall('sendPhoto', (c) => /^Plan of #/.test(String(c.params.caption)), { after: calls });
    const { default: sharp } = await import('sharp');
    const meta = await sharp(picture.files[0]!.bytes).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBeGreaterThan(300);
    const doc = await fake.waitForCall('sendDocument', () => true, { after: calls });
    const json = JSON.parse(doc.files[0]!.bytes.toString('utf8')) as { pipeline: Array<{ model?: string }> };
    expect(json.pipeline.some((p) => p.model)).toBe(true);
  });

  it('Retry runs that turn again and answers in reply to the result with a new result photo', async () => {
    const result = fake.botMessages(annChat.id).filter(isResult).at(-1)!;
    const before = fake.botMessages(annChat.id).at(-1)!.message_id;
    fake.pressButton(ann, result, buttons(result).find((d) => d.startsWith('retry:'))!);
    const answer = await fake.waitForBotMessage(annChat.id, (m) => m.reply_to_message?.message_id === result.message_id && (isResult(m) || /⚠️/.test(m.text ?? '')), { afterId: before });
    expect(isResult(answer)).toBe(true);
    // The offline Builder and these bricks are deterministic, so the bot says the result did not change.
    expect(answer.caption).toMatch(/Same result as before/);
  });

  it('a photo sent as a document works too', async () => {
    const sent = fake.sendDocument(ann, annChat, photo, 'original.png', 'image/png', 'make it black and white');
    const result = await fake.waitForBotMessage(annChat.id, isResult, { afterId: sent.message_id });
    expect(await isGrayscale(result.upload!.bytes)).toBe(true);
  });

  it('an oversized image is refused with a message, before it is downloaded', async () => {
    const downloads = fake.callsOf('getFile').length;
    const sent = fake.sendPhoto(ann, annChat, photo, 'make it black and white', { declaredSize: 5_000_000 });
    const refusal = await fake.waitForBotMessage(annChat.id, (m) => /too large/.test(m.text ?? ''), { afterId: sent.message_id });
    expect(refusal.text).toMatch(/limit is 0\.2 MB/);
    expect(refusal.text).not.toMatch(/at .*\.ts:\d+/);
    // getFile answers the metadata; the bytes are never fetched because the declared size is over the cap.
    expect(fake.callsOf('getFile').length).toBe(downloads + 1);
  });

  it('a file that is not an image gets a specific message', async () => {
    const sent = fake.sendDocument(ann, annChat, Buffer.from('%PDF-1.4 not an image'), 'notes.pdf', 'application/pdf', 'make it black and white');
    const refusal = await fake.waitForBotMessage(annChat.id, (m) => /not an image/.test(m.text ?? ''), { afterId: sent.message_id });
    expect(refusal.text).toMatch(/notes\.pdf/);
  });

  it('in a group the bot answers only when mentioned or replied to', async () => {
    const group = fake.groupChat(-500, 'friends');
    const ignored = fake.sendPhoto(ann, group, photo, 'make it black and white');
    const addressed = fake.sendPhoto(bob, group, photo, `@${fake.bot.username} make it black and white`);
    const result = await fake.waitForBotMessage(group.id, isResult, { afterId: addressed.message_id });
    expect(result.reply_to_message?.message_id).toBe(addressed.message_id);
    expect(fake.botMessages(group.id).some((m) => m.reply_to_message?.message_id === ignored.message_id)).toBe(false);
  });

  it('an album’s second photo travels as a second image (mask)', async () => {
    const mask = await colourPhoto();
    const parts = fake.sendAlbum(ann, annChat, [photo, mask], 'make it black and white');
    const result = await fake.waitForBotMessage(annChat.id, isResult, { afterId: parts.at(-1)!.message_id });
    expect(await isGrayscale(result.upload!.bytes)).toBe(true);
    // One turn for the whole album, not one per part.
    expect(fake.botMessages(annChat.id).filter((m) => m.message_id > parts[0]!.message_id && isResult(m))).toHaveLength(1);
  });

  it('/help, /tools and /history answer', async () => {
    const sent = fake.sendText(ann, annChat, '/tools');
    await fake.waitForBotMessage(annChat.id, (m) => /GRAYSCALE/.test(m.text ?? '') && /Bricks available/.test(m.text ?? ''), { afterId: sent.message_id });
    const h = fake.sendText(ann, annChat, '/history');
    await fake.waitForBotMessage(annChat.id, (m) => /#\d+/.test(m.text ?? ''), { afterId: h.message_id });
    const help = fake.sendText(ann, annChat, '/help');
    await fake.waitForBotMessage(annChat.id, (m) => /Examples/.test(m.text ?? ''), { afterId: help.message_id });
  });
});

describe('TelegramAdapter when the Builder endpoint is down, or the chat is not allowed', () => {
  let fake: FakeTelegramBotApi;
  let bot: BotSessions;
  let adapter: TelegramAdapter;
  const ann = { id: 3001, is_bot: false, first_name: 'Ann', username: 'ann' };
  const annChat = { id: 3001, type: 'private' as const, first_name: 'Ann' };

  beforeAll(async () => {
    fake = await FakeTelegramBotApi.start();
    bot = await openBotSessions({ builder: await unreachableBuilder() });
    adapter = new TelegramAdapter({
      token: fake.token,
      apiRoot: fake.apiRoot,
      sessions: bot.sessions.manager,
      registry: bot.rt.registry,
      access: { allowedChats: ['3001'], adminUsers: ['9999'] },
      maxImageBytes: 200_000,
      logger: silentLogger,
      progressIntervalMs: 0,
    });
    await adapter.start();
  });
  afterAll(async () => {
    await adapter?.stop(2000);
    await bot?.close();
    await fake?.stop();
  });

  it('says the planner is unreachable in plain words, with no stack trace', async () => {
    const sent = fake.sendPhoto(ann, annChat, await colourPhoto(), 'make it black and white');
    const reply = await fake.waitForBotMessage(annChat.id, (m) => /⚠️/.test(m.text ?? ''), { afterId: sent.message_id, timeoutMs: 15_000 });
    expect(reply.text).toMatch(/planner|Builder|reach/i);
    expect(reply.text).not.toMatch(/\n\s+at |\.ts:\d+|ECONNREFUSED/);
  });

  it('a chat not in ALLOWED_CHATS is told so; an admin is let in anywhere', async () => {
    const stranger = { id: 3002, is_bot: false, first_name: 'Eve', username: 'eve' };
    const strangerChat = { id: 3002, type: 'private' as const, first_name: 'Eve' };
    const sent = fake.sendText(stranger, strangerChat, '/history');
    await fake.waitForBotMessage(strangerChat.id, (m) => /not enabled in this chat/.test(m.text ?? ''), { afterId: sent.message_id });
    const admin = { id: 9999, is_bot: false, first_name: 'Ada', username: 'ada' };
    const adminChat = { id: 9999, type: 'private' as const, first_name: 'Ada' };
    const adminSent = fake.sendText(admin, adminChat, '/history');
    await fake.waitForBotMessage(adminChat.id, (m) => /No edits yet/.test(m.text ?? ''), { afterId: adminSent.message_id });
  });
});

describe('TelegramAdapter in webhook mode', () => {
  let fake: FakeTelegramBotApi;
  let bot: BotSessions;
  let adapter: TelegramAdapter;

  beforeAll(async () => {
    fake = await FakeTelegramBotApi.start();
    bot = await openBotSessions();
    const port = Number(new URL(await deadEndpoint()).port);
    adapter = new TelegramAdapter({
      token: fake.token,
      apiRoot: fake.apiRoot,
      webhook: { url: 'https://bot.example.test/telegram/hook', port, host: '127.0.0.1', secretToken: 'webhook-secret-1' },
      sessions: bot.sessions.manager,
      registry: bot.rt.registry,
      maxImageBytes: 200_000,
      logger: silentLogger,
      progressIntervalMs: 0,
    });
    await adapter.start();
    // The fake stands in for Telegram's servers, which would reach the public URL through the operator's HTTPS proxy.
    fake.webhookTarget = `http://127.0.0.1:${port}/telegram/hook`;
  });
  afterAll(async () => {
    await adapter?.stop(2000);
    await bot?.close();
    await fake?.stop();
  });

  it('registers the public URL with its secret and edits photos delivered by webhook', async () => {
    expect(fake.webhookUrl).toBe('https://bot.example.test/telegram/hook');
    expect(fake.webhookSecret).toBe('webhook-secret-1');
    expect(fake.polls).toBe(0);
    const ann = fake.user(4001);
    const chat = fake.privateChat(ann);
    const sent = fake.sendPhoto(ann, chat, await colourPhoto(), 'make it black and white');
    const result = await fake.waitForBotMessage(chat.id, isResult, { afterId: sent.message_id });
    expect(await isGrayscale(result.upload!.bytes)).toBe(true);
  });
});

describe('TelegramAdapter: Cancel while running', () => {
  let fake: FakeTelegramBotApi;
  let bot: BotSessions;
  let adapter: TelegramAdapter;

  beforeAll(async () => {
    fake = await FakeTelegramBotApi.start();
    // A planner that takes its time (and honours cancellation), so there is something to cancel.
    bot = await openBotSessions({
      builder: (registry) => {
        const offline = new OfflineBuilder(registry);
        return {
          name: 'slow-offline',
          async plan(request) {
            await delay(3000, undefined, request.signal ? { signal: request.signal } : {});
            return offline.plan(request);
          },
        };
      },
    });
    adapter = new TelegramAdapter({ token: fake.token, apiRoot: fake.apiRoot, sessions: bot.sessions.manager, registry: bot.rt.registry, maxImageBytes: 200_000, logger: silentLogger, progressIntervalMs: 0 });
    await adapter.start();
  });
  afterAll(async () => {
    await adapter?.stop(2000);
    await bot?.close();
    await fake?.stop();
  });

  it('the status message offers Cancel to its owner only, and cancelling stops the turn', async () => {
    const ann = fake.user(5001);
    const bob = fake.user(5002);
    const chat = fake.privateChat(ann);
    const sent = fake.sendPhoto(ann, chat, await colourPhoto(), 'make it black and white');
    const status = await fake.waitForBotMessage(chat.id, (m) => buttons(m).some((d) => d.startsWith('cancel:')), { afterId: sent.message_id });
    const cancel = buttons(status).find((d) => d.startsWith('cancel:'))!;
    const calls = fake.calls.length;
    const bobs = fake.pressButton(bob, status, cancel);
    await fake.waitForCall('answerCallbackQuery', (c) => c.params.callback_query_id === bobs && c.params.show_alert === true, { after: calls });
    fake.pressButton(ann, status, cancel);
    await fake.waitForBotMessage(chat.id, (m) => m.message_id === status.message_id && /Cancelled/.test(m.text ?? ''), { timeoutMs: 5000 });
    await delay(3500);
    expect(fake.botMessages(chat.id).some((m) => isResult(m))).toBe(false);
  });
});

describe('TelegramAdapter: a workflow with two results', () => {
  let fake: FakeTelegramBotApi;
  let bot: BotSessions;
  let adapter: TelegramAdapter;

  beforeAll(async () => {
    fake = await FakeTelegramBotApi.start();
    const image = { kind: 'ref', source: { kind: 'init', name: 'image' } } as const;
    const workflow: Workflow = {
      process: 'two versions',
      nodes: [
        { step: 1, brick: 'GRAYSCALE', inputs: { image }, outputs: ['image'] },
        { step: 2, brick: 'ADJUST', inputs: { image, brightness: { kind: 'literal', value: 1.3 } }, outputs: ['image'] },
      ],
      results: [
        { kind: 'step', step: 1, output: 'image' },
        { kind: 'step', step: 2, output: 'image' },
      ],
    };
    bot = await openBotSessions({ builder: () => ({ name: 'two-results', plan: async () => ({ workflow, builder: 'two-results' }) }) });
    adapter = new TelegramAdapter({ token: fake.token, apiRoot: fake.apiRoot, sessions: bot.sessions.manager, registry: bot.rt.registry, maxImageBytes: 200_000, logger: silentLogger, progressIntervalMs: 0 });
    await adapter.start();
  });
  afterAll(async () => {
    await adapter?.stop(2000);
    await bot?.close();
    await fake?.stop();
  });

  it('replies with an album, then the buttons in a message of their own', async () => {
    const ann = fake.user(6001);
    const chat = fake.privateChat(ann);
    const sent = fake.sendPhoto(ann, chat, await colourPhoto(), 'give me two versions');
    const buttonsMessage = await fake.waitForBotMessage(chat.id, (m) => /2 results/.test(m.text ?? '') && buttons(m).some((d) => d.startsWith('undo:')), { afterId: sent.message_id });
    const album = fake.botMessages(chat.id).filter((m) => m.media_group_id && m.message_id < buttonsMessage.message_id);
    expect(album).toHaveLength(2);
    expect(album[0]!.reply_to_message?.message_id).toBe(sent.message_id);
    expect(await isGrayscale(album[0]!.upload!.bytes)).toBe(true);
    expect(await isGrayscale(album[1]!.upload!.bytes)).toBe(false);
    expect(album[0]!.caption).toMatch(/GRAYSCALE → ADJUST\(1\.3\)/);
  });
});
