/**
 * The Telegram adapter end to end: real telegraf against the fake Bot API server
 * on loopback, the real session manager (PGlite, offline Builder, CPU bricks).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Workflow } from '../../../src/engine/workflow/types.ts';
import { silentLogger } from '../../../src/logger.ts';
import { TelegramAdapter } from '../../../adapters/telegram/telegram-adapter.ts';
import { waitUntil } from '../../fakes/chat-platform-http.ts';
import { FakeTelegramBotApi, type StoredMessage } from '../../fakes/telegram-bot-api.ts';
import {
  changeByHalf,
  checkerPhoto,
  colourPhoto,
  deadEndpoint,
  gpuStyleBuilder,
  isGrayscale,
  meanBrightness,
  openBotSessions,
  productShare,
  productShot,
  rightHalfMask,
  slowBuilder,
  unreachableBuilder,
  type BotSessions,
} from './session-harness.ts';

const buttons = (m: StoredMessage): string[] => (m.reply_markup?.inline_keyboard ?? []).flat().map((b) => b.callback_data ?? '');
const isResult = (m: StoredMessage): boolean => Boolean(m.photo && m.upload && buttons(m).some((d) => d.startsWith('undo:')));
const largestFileId = (m: StoredMessage): string => m.photo?.at(-1)?.file_id ?? m.document!.file_id;

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
    expect(firstResult.caption).toBe('Made it black and white.');
    expect(firstResult.reply_to_message?.message_id).toBe(sent.message_id);
    expect(buttons(firstResult).map((d) => d.split(':')[0])).toEqual(['undo', 'retry', 'plan']);

    const status = fake.botMessages(annChat.id).filter((m) => m.message_id > sent.message_id && m.text !== undefined);
    expect(status).toHaveLength(1);
    const shown = status[0]!.history.join('\n');
    // In words, never a brick name: the plan and its timings are behind Show plan.
    expect(shown).toMatch(/Making it black and white…/);
    expect(shown).not.toMatch(/GRAYSCALE/);
    expect(status[0]!.text).toBe('✅ Done.');
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
    expect(revised.caption).toBe('Made it darker.');
  });

  it('a plain text message is a follow-up edit on the current image', async () => {
    const before = fake.botMessages(annChat.id).filter(isResult).at(-1)!;
    const sent = fake.sendText(ann, annChat, 'make it black and white');
    const next = await fake.waitForBotMessage(annChat.id, isResult, { afterId: sent.message_id });
    expect(await isGrayscale(next.upload!.bytes)).toBe(true);
    expect(next.message_id).toBeGreaterThan(before.message_id);
  });

  it('a rule is stored; the last edit is re-planned under it only when it breaks the rule, saying which', async () => {
    const followed = fake.sendText(ann, annChat, "don't use RESIZE");
    const kept = await fake.waitForBotMessage(annChat.id, (m) => /Rule stored/.test(m.text ?? ''), { afterId: followed.message_id });
    expect(kept.text).toMatch(/already follows it/);
    const broken = fake.sendText(ann, annChat, 'never use GRAYSCALE');
    const info = await fake.waitForBotMessage(annChat.id, (m) => /Rule stored/.test(m.text ?? ''), { afterId: broken.message_id });
    expect(info.text).toMatch(/Re-planning your last edit \("make it black and white"\)/);
    const replanned = await fake.waitForBotMessage(annChat.id, isResult, { afterId: broken.message_id });
    expect(replanned.caption).not.toMatch(/GRAYSCALE/);
    fake.sendText(ann, annChat, '/rules');
    await fake.waitForBotMessage(annChat.id, (m) => /1\. don't use RESIZE\n2\. never use GRAYSCALE/.test(m.text ?? ''), { afterId: broken.message_id });
    for (const n of [2, 1]) {
      const forget = fake.sendText(ann, annChat, `/forget ${n}`);
      await fake.waitForBotMessage(annChat.id, (m) => m.text !== undefined && !m.text.startsWith('⚠️'), { afterId: forget.message_id });
    }
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
    const undone = await fake.waitForCall('sendPhoto', (c) => /^Back to /.test(String(c.params.caption)), { after: calls });
    expect(fake.callsOf('sendPhoto').length).toBe(photosBefore + 1);
    expect(undone.files[0]!.bytes.length).toBeGreaterThan(0);
  });

  it('Show plan sends the workflow as a rendered picture and as a JSON document', async () => {
    const result = fake.botMessages(annChat.id).filter(isResult).at(-1)!;
    const calls = fake.calls.length;
    fake.pressButton(ann, result, buttons(result).find((d) => d.startsWith('plan:'))!);
    const picture = await fake.waitForCall('sendPhoto', (c) => /^Plan of turn #\d+ \(offline Builder\): .*\n1 /.test(String(c.params.caption)), { after: calls });
    const { default: sharp } = await import('sharp');
    const meta = await sharp(picture.files[0]!.bytes).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBeGreaterThan(300);
    const doc = await fake.waitForCall('sendDocument', () => true, { after: calls });
    const json = JSON.parse(doc.files[0]!.bytes.toString('utf8')) as { pipeline: Array<{ model?: string }> };
    expect(json.pipeline.some((p) => p.model)).toBe(true);
  });

  it('Retry of a plan with nothing to vary answers in reply to the result, in words, without a second copy of the photo', async () => {
    const result = fake.botMessages(annChat.id).filter(isResult).at(-1)!;
    const before = fake.botMessages(annChat.id).at(-1)!.message_id;
    const photos = fake.callsOf('sendPhoto').length;
    fake.pressButton(ann, result, buttons(result).find((d) => d.startsWith('retry:'))!);
    const answer = await fake.waitForBotMessage(annChat.id, (m) => m.reply_to_message?.message_id === result.message_id && (isResult(m) || /⚠️|same picture/.test(m.text ?? '')), { afterId: before });
    // The offline Builder and these bricks are deterministic, and a grey picture cannot get greyer.
    expect(answer.text).toMatch(/^This edit gives the same picture every time and there is nothing in it I can vary/);
    expect(fake.callsOf('sendPhoto').length).toBe(photos);
  });

  it('a photo sent as a document works too', async () => {
    const sent = fake.sendDocument(ann, annChat, photo, 'original.png', 'image/png', 'make it black and white');
    const result = await fake.waitForBotMessage(annChat.id, isResult, { afterId: sent.message_id });
    expect(await isGrayscale(result.upload!.bytes)).toBe(true);
  });

  it('an oversized image is refused with a message, before getFile is even asked', async () => {
    const getFiles = fake.callsOf('getFile').length;
    const sent = fake.sendPhoto(ann, annChat, photo, 'make it black and white', { declaredSize: 5_000_000 });
    const refusal = await fake.waitForBotMessage(annChat.id, (m) => /too large/.test(m.text ?? ''), { afterId: sent.message_id });
    expect(refusal.text).toMatch(/too large \(4\.8 MB\); the limit is 0\.2 MB/);
    expect(refusal.text).not.toMatch(/at .*\.ts:\d+/);
    // The cloud Bot API's getFile fails outright above 20 MB, so the declared size is checked first.
    expect(fake.callsOf('getFile').length).toBe(getFiles);
    expect(fake.downloadsOf(largestFileId(sent))).toHaveLength(0);
  });

  it('Telegram’s "file is too big" (over the Bot API download limit) reads as too large, not as a failure on our side', async () => {
    const limit = fake.maxDownloadBytes;
    fake.maxDownloadBytes = 100;
    try {
      // No declared size, so only getFile can tell; the fake then refuses as the cloud API does above 20 MB.
      const sent = fake.sendDocument(ann, annChat, photo, 'big.png', 'image/png', 'make it black and white', { declaredSize: null });
      const refusal = await fake.waitForBotMessage(annChat.id, (m) => /⚠️/.test(m.text ?? ''), { afterId: sent.message_id });
      expect(refusal.text).toMatch(/too large \(over 20\.0 MB, the most Telegram lets bots download\)/);
      expect(refusal.text).not.toMatch(/went wrong on my side/);
      expect(fake.downloadsOf(largestFileId(sent))).toHaveLength(0);
    } finally {
      fake.maxDownloadBytes = limit;
    }
  });

  it('a file larger than it claims is cut off while downloading, by its Content-Length or by the bytes received', async () => {
    const limit = fake.maxDownloadBytes;
    fake.maxDownloadBytes = 128 * 1024 * 1024;
    try {
      // Far more than socket buffers hold, so a transfer the bot stops cannot have gone out whole.
      const body = Buffer.alloc(64 * 1024 * 1024);
      // Size left out and the body streamed without a Content-Length: only the bytes received can tell.
      const streamed = fake.sendDocument(ann, annChat, body, 'streamed.png', 'image/png', 'make it black and white', { declaredSize: null, chunked: true });
      const refusal = await fake.waitForBotMessage(annChat.id, (m) => /too large/.test(m.text ?? ''), { afterId: streamed.message_id });
      expect(refusal.text).toMatch(/too large \(more than 0\.2 MB\); the limit is 0\.2 MB/);
      const [transfer] = fake.downloadsOf(largestFileId(streamed));
      await transfer!.done;
      expect(transfer!.complete).toBe(false);
      expect(transfer!.bytesSent).toBeLessThan(body.length / 2);

      // Under-declared, served with its true Content-Length: refused on the header, the body left unread.
      const lying = fake.sendPhoto(ann, annChat, body, 'make it black and white', { declaredSize: 1000 });
      const second = await fake.waitForBotMessage(annChat.id, (m) => /too large/.test(m.text ?? ''), { afterId: lying.message_id });
      expect(second.text).toMatch(/too large \(64\.0 MB\); the limit is 0\.2 MB/);
      const [cut] = fake.downloadsOf(largestFileId(lying));
      await cut!.done;
      expect(cut!.complete).toBe(false);
      expect(cut!.bytesSent).toBeLessThan(body.length / 2);
    } finally {
      fake.maxDownloadBytes = limit;
    }
  });

  it('a Bot API server in --local mode (absolute file paths) with no files directory configured is refused with a message that says what to set', async () => {
    fake.localMode = true;
    try {
      const sent = fake.sendPhoto(ann, annChat, photo, 'make it black and white');
      const refusal = await fake.waitForBotMessage(annChat.id, (m) => /⚠️/.test(m.text ?? ''), { afterId: sent.message_id });
      expect(refusal.text).toMatch(/--local mode and I was not told where it keeps its files.*TELEGRAM_LOCAL_FILES_DIR/);
      expect(fake.downloadsOf(largestFileId(sent))).toHaveLength(0);
    } finally {
      fake.localMode = false;
    }
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

  it('an album’s second photo is the mask: the edit stays inside its white part', async () => {
    const checker = await checkerPhoto();
    const parts = fake.sendAlbum(ann, annChat, [checker, await rightHalfMask()], 'blur this');
    const result = await fake.waitForBotMessage(annChat.id, isResult, { afterId: parts.at(-1)!.message_id });
    const change = await changeByHalf(checker, result.upload!.bytes);
    expect(change.left).toBe(0);
    expect(change.right).toBeGreaterThan(0.5);
    expect(result.caption).toBe('Blurred it.');
    // One turn for the whole album, not one per part.
    expect(fake.botMessages(annChat.id).filter((m) => m.message_id > parts[0]!.message_id && isResult(m))).toHaveLength(1);
  });

  it('an album’s second photo that is a photo, not a mask, is what "add this" pastes in', async () => {
    const base = await colourPhoto();
    const parts = fake.sendAlbum(ann, annChat, [base, await productShot()], 'add this on the left');
    const result = await fake.waitForBotMessage(annChat.id, isResult, { afterId: parts.at(-1)!.message_id });
    expect(result.caption).toBe('Added it to the picture.');
    expect((await productShare(base)).red).toBe(0);
    expect((await productShare(result.upload!.bytes)).red).toBeGreaterThan(0.005);
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
    await fake.waitForBotMessage(adminChat.id, (m) => /No history yet/.test(m.text ?? ''), { afterId: adminSent.message_id });
  });
});

describe('TelegramAdapter in webhook mode', () => {
  let bot: BotSessions;
  /** One bot with a configured secret, one without (a random secret is generated). */
  const hooks: Array<{ fake: FakeTelegramBotApi; adapter: TelegramAdapter; target: string }> = [];

  beforeAll(async () => {
    bot = await openBotSessions();
    for (const secretToken of ['webhook-secret-1', undefined]) {
      const fake = await FakeTelegramBotApi.start();
      const port = Number(new URL(await deadEndpoint()).port);
      const adapter = new TelegramAdapter({
        token: fake.token,
        apiRoot: fake.apiRoot,
        webhook: { url: 'https://bot.example.test/telegram/hook', port, host: '127.0.0.1', ...(secretToken ? { secretToken } : {}) },
        sessions: bot.sessions.manager,
        registry: bot.rt.registry,
        maxImageBytes: 200_000,
        logger: silentLogger,
        progressIntervalMs: 0,
      });
      await adapter.start();
      // The fake stands in for Telegram's servers, which would reach the public URL through the operator's HTTPS proxy.
      fake.webhookTarget = `http://127.0.0.1:${port}/telegram/hook`;
      hooks.push({ fake, adapter, target: fake.webhookTarget });
    }
  });
  afterAll(async () => {
    for (const { adapter, fake } of hooks) {
      await adapter.stop(2000);
      await fake.stop();
    }
    await bot?.close();
  });

  it('registers the public URL with its secret and edits photos delivered by webhook', async () => {
    const { fake } = hooks[0]!;
    expect(fake.webhookUrl).toBe('https://bot.example.test/telegram/hook');
    expect(fake.webhookSecret).toBe('webhook-secret-1');
    expect(fake.polls).toBe(0);
    const ann = fake.user(4001);
    const chat = fake.privateChat(ann);
    const sent = fake.sendPhoto(ann, chat, await colourPhoto(), 'make it black and white');
    const result = await fake.waitForBotMessage(chat.id, isResult, { afterId: sent.message_id });
    expect(await isGrayscale(result.upload!.bytes)).toBe(true);
  });

  it('without a configured secret it registers a random one, and refuses updates that lack it', async () => {
    const { fake, target } = hooks[1]!;
    expect(fake.webhookSecret).toMatch(/^[A-Za-z0-9_-]{32,256}$/);
    expect(fake.webhookSecret).not.toBe(hooks[0]!.fake.webhookSecret);
    const ann = fake.user(4101);
    const chat = fake.privateChat(ann);
    // Genuine deliveries carry the registered secret and work.
    const sent = fake.sendPhoto(ann, chat, await colourPhoto(), 'make it black and white');
    await fake.waitForBotMessage(chat.id, isResult, { afterId: sent.message_id });

    // Forged updates (anyone who learns the URL): no header, or a wrong one.
    const forged = (id: number): string => JSON.stringify({ update_id: 900_000 + id, message: { message_id: 900 + id, date: Math.floor(Date.now() / 1000), chat, from: ann, text: '/history' } });
    const before = fake.botMessages(chat.id).length;
    const bare = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: forged(1) });
    const wrong = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': 'guessed' }, body: forged(2) });
    expect([bare.status, wrong.status]).toEqual([403, 403]);
    await delay(300);
    expect(fake.botMessages(chat.id)).toHaveLength(before);
  });
});

describe('TelegramAdapter: per-user limits and bricks that need a GPU host', () => {
  let fake: FakeTelegramBotApi;
  let bot: BotSessions;
  let adapter: TelegramAdapter;

  beforeAll(async () => {
    fake = await FakeTelegramBotApi.start();
    bot = await openBotSessions({ builder: gpuStyleBuilder, settings: { turnsPerMinute: 1 } });
    adapter = new TelegramAdapter({ token: fake.token, apiRoot: fake.apiRoot, sessions: bot.sessions.manager, registry: bot.rt.registry, maxImageBytes: 200_000, logger: silentLogger, progressIntervalMs: 0 });
    await adapter.start();
  });
  afterAll(async () => {
    await adapter?.stop(2000);
    await bot?.close();
    await fake?.stop();
  });

  it('a brick that needs a GPU host says so in plain words', async () => {
    const ann = fake.user(7001);
    const chat = fake.privateChat(ann);
    const sent = fake.sendPhoto(ann, chat, await colourPhoto(), 'paint it like Van Gogh');
    const reply = await fake.waitForBotMessage(chat.id, (m) => /⚠️/.test(m.text ?? ''), { afterId: sent.message_id });
    expect(reply.text).toMatch(/I can't make that edit here: it needs a tool this bot has not been set up with\. You can ask for something else/);
    expect(reply.text).not.toMatch(/FLUX-STYLE|LEGO_EDIT_|GPU host/);
    expect(reply.text).not.toMatch(/\n\s+at |\.ts:\d+|went wrong on my side/);
    // The status message shows the failed step and is finalised without its Cancel button.
    const status = fake.botMessages(chat.id).find((m) => m.message_id > sent.message_id && m !== reply && m.history.length > 0);
    expect(status?.text).toBe('✖️ Stopped.');
    expect(status?.reply_markup?.inline_keyboard ?? []).toEqual([]);
  });

  it('a second edit within the minute is refused with the limit and when to try again', async () => {
    const ann = fake.user(7001);
    const chat = fake.privateChat(ann);
    const sent = fake.sendPhoto(ann, chat, await colourPhoto(), 'make it black and white');
    const reply = await fake.waitForBotMessage(chat.id, (m) => /⏳|⚠️/.test(m.text ?? ''), { afterId: sent.message_id });
    expect(reply.text).toMatch(/^⏳ That is more than 1 edits in a minute\. Please try again in \d+ s\.$/);
    expect(reply.reply_to_message?.message_id).toBe(sent.message_id);
    await delay(300);
    // Refused before any work: no status message, no result.
    expect(fake.botMessages(chat.id).filter((m) => m.message_id > sent.message_id)).toHaveLength(1);
  });
});

describe('TelegramAdapter: graceful shutdown with a turn in flight', () => {
  /** Each test stops its own bot: a fake server, a session manager whose planner takes 1.5 s, and an adapter. */
  let rig: { fake: FakeTelegramBotApi; bot: BotSessions; adapters: TelegramAdapter[] } | undefined;
  const startAdapter = async (): Promise<TelegramAdapter> => {
    const adapter = new TelegramAdapter({
      token: rig!.fake.token,
      apiRoot: rig!.fake.apiRoot,
      sessions: rig!.bot.sessions.manager,
      registry: rig!.bot.rt.registry,
      maxImageBytes: 200_000,
      logger: silentLogger,
      progressIntervalMs: 0,
      // Long, so an album is still waiting for parts when the stop comes.
      albumWaitMs: 5000,
    });
    rig!.adapters.push(adapter);
    await adapter.start();
    return adapter;
  };

  beforeEach(async () => {
    rig = { fake: await FakeTelegramBotApi.start(), bot: await openBotSessions({ builder: slowBuilder(1500) }), adapters: [] };
  });
  afterEach(async () => {
    for (const adapter of rig?.adapters ?? []) await adapter.stop(2000);
    await rig?.bot.close();
    await rig?.fake.stop();
    rig = undefined;
  });

  it('the running turn delivers its result within the grace period; messages sent meanwhile wait at Telegram', async () => {
    const { fake } = rig!;
    const adapter = await startAdapter();
    const ann = fake.user(8001);
    const bob = fake.user(8002);
    const annChat = fake.privateChat(ann);
    const sent = fake.sendPhoto(ann, annChat, await colourPhoto(), 'make it black and white');
    await fake.waitForBotMessage(annChat.id, (m) => /Planning/.test(m.text ?? ''), { afterId: sent.message_id });
    // An album fetched (and so confirmed to Telegram) but still waiting for more parts when the stop comes.
    const eve = fake.user(8005);
    const album = fake.sendAlbum(eve, fake.privateChat(eve), [await colourPhoto(), await rightHalfMask(64, 48)], 'blur this');
    const ids = new Set(album.map((m) => m.message_id));
    await waitUntil(() => !fake.pendingUpdates().some((u) => ids.has((u.message as { message_id: number }).message_id)), 'the album to be fetched');

    await adapter.stopAccepting();
    expect(adapter.inFlight).toBe(2);
    const bobsPhoto = fake.sendPhoto(bob, fake.privateChat(bob), await colourPhoto(), 'make it black and white');
    expect(await adapter.drain(10_000)).toBe(0);
    const result = await fake.waitForBotMessage(annChat.id, isResult, { afterId: sent.message_id, timeoutMs: 100 });
    expect(await isGrayscale(result.upload!.bytes)).toBe(true);
    await fake.waitForBotMessage(eve.id, isResult, { timeoutMs: 100 });

    // Bob's message was not taken (and so not lost): it stays queued for the next start.
    expect(fake.botMessages(bob.id)).toHaveLength(0);
    expect(fake.pendingUpdates().some((u) => (u.message as { message_id?: number } | undefined)?.message_id === bobsPhoto.message_id)).toBe(true);
  });

  it('an update that still reaches the stopped bot (a webhook request in flight) gets the restart notice', async () => {
    const { fake } = rig!;
    const adapter = await startAdapter();
    await adapter.stopAccepting();
    const carl = fake.user(8003);
    const chat = fake.privateChat(carl);
    // Handed to telegraf directly, as its webhook server does with a request that was already on its way.
    await adapter.bot.handleUpdate({ update_id: 990_001, message: { message_id: 4242, date: Math.floor(Date.now() / 1000), chat, from: carl, text: 'make it brighter' } } as Parameters<typeof adapter.bot.handleUpdate>[0]);
    const notice = await fake.waitForBotMessage(chat.id, () => true);
    expect(notice.text).toBe('⏳ The bot is restarting; try again in a minute.');
    const callsBefore = fake.calls.length;
    await adapter.bot.handleUpdate({ update_id: 990_002, callback_query: { id: 'cbq-1', from: carl, chat_instance: String(chat.id), message: { message_id: 4242, date: 0, chat, from: carl, text: 'x' }, data: 'undo:1:8003:' } } as Parameters<typeof adapter.bot.handleUpdate>[0]);
    const alert = await fake.waitForCall('answerCallbackQuery', (c) => c.params.callback_query_id === 'cbq-1', { after: callsBefore });
    expect(alert.params).toMatchObject({ show_alert: true, text: expect.stringMatching(/restarting/) });
  });

  it('the next start answers a message that waited at Telegram while the bot was stopped', async () => {
    const { fake } = rig!;
    const stopped = await startAdapter();
    await stopped.stopAccepting();
    const bob = fake.user(8002);
    const waiting = fake.sendPhoto(bob, fake.privateChat(bob), await colourPhoto(), 'make it black and white');
    await delay(300);
    expect(fake.pendingUpdates().some((u) => (u.message as { message_id?: number } | undefined)?.message_id === waiting.message_id)).toBe(true);

    await startAdapter();
    const result = await fake.waitForBotMessage(waiting.chat.id, isResult, { afterId: waiting.message_id });
    expect(result.reply_to_message?.message_id).toBe(waiting.message_id);
  });

  it('a turn that outlives the grace period is cancelled by the session manager, and its user is told', async () => {
    const { fake, bot } = rig!;
    const adapter = await startAdapter();
    const dee = fake.user(8004);
    const chat = fake.privateChat(dee);
    const sent = fake.sendPhoto(dee, chat, await colourPhoto(), 'make it black and white');
    const status = await fake.waitForBotMessage(chat.id, (m) => /Planning/.test(m.text ?? ''), { afterId: sent.message_id });
    await adapter.stopAccepting();
    expect(await adapter.drain(100)).toBe(1);
    // What serve does next: closing the session manager cancels what still runs.
    await bot.sessions.manager.close();
    expect(await adapter.drain(5000)).toBe(0);
    expect(fake.message(chat.id, status.message_id)?.text).toMatch(/Cancelled/);
    expect(fake.botMessages(chat.id).some(isResult)).toBe(false);
  });
});

describe('TelegramAdapter: Cancel while running', () => {
  let fake: FakeTelegramBotApi;
  let bot: BotSessions;
  let adapter: TelegramAdapter;

  beforeAll(async () => {
    fake = await FakeTelegramBotApi.start();
    // A planner that takes its time (and honours cancellation), so there is something to cancel.
    bot = await openBotSessions({ builder: slowBuilder(3000) });
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
    const anns = fake.pressButton(ann, status, cancel);
    // The button names its turn, so only that edit is cancelled.
    await fake.waitForCall('answerCallbackQuery', (c) => c.params.callback_query_id === anns && c.params.text === 'Cancelling that edit.', { after: calls });
    await fake.waitForBotMessage(chat.id, (m) => m.message_id === status.message_id && /Cancelled/.test(m.text ?? ''), { timeoutMs: 5000 });
    await delay(3500);
    expect(fake.botMessages(chat.id).some((m) => isResult(m))).toBe(false);
  });
});

describe('TelegramAdapter with a self-hosted Bot API server in --local mode', () => {
  let fake: FakeTelegramBotApi;
  let bot: BotSessions;
  let adapter: TelegramAdapter;
  let filesDir: string;

  beforeAll(async () => {
    fake = await FakeTelegramBotApi.start();
    filesDir = await mkdtemp(join(tmpdir(), 'lego-tg-local-'));
    fake.localMode = true;
    fake.localDir = filesDir;
    bot = await openBotSessions();
    adapter = new TelegramAdapter({ token: fake.token, apiRoot: fake.apiRoot, localFilesDir: filesDir, sessions: bot.sessions.manager, registry: bot.rt.registry, maxImageBytes: 200_000, logger: silentLogger, progressIntervalMs: 0 });
    await adapter.start();
  });
  afterAll(async () => {
    await adapter?.stop(2000);
    await bot?.close();
    await fake?.stop();
    await rm(filesDir, { recursive: true, force: true });
  });

  it('reads the photo from the server’s directory, past the cloud API’s download limit, and edits it', async () => {
    const ann = fake.user(6001);
    const chat = fake.privateChat(ann);
    const photo = await colourPhoto();
    fake.maxDownloadBytes = 100; // the cloud API would refuse this photo; a --local server does not
    const sent = fake.sendPhoto(ann, chat, photo, 'make it black and white');
    const result = await fake.waitForBotMessage(chat.id, isResult, { afterId: sent.message_id });
    expect(await isGrayscale(result.upload!.bytes)).toBe(true);
    expect(fake.downloadsOf(largestFileId(sent))).toHaveLength(0);
  });

  it('refuses a path outside the configured directory without reading it', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'lego-tg-elsewhere-'));
    fake.localDir = elsewhere;
    try {
      const ann = fake.user(6002);
      const chat = fake.privateChat(ann);
      const sent = fake.sendPhoto(ann, chat, await colourPhoto(), 'make it black and white');
      const refusal = await fake.waitForBotMessage(chat.id, (m) => /⚠️/.test(m.text ?? ''), { afterId: sent.message_id });
      expect(refusal.text).toMatch(/lies outside the chat service’s file directory/);
      expect(fake.botMessages(chat.id).some(isResult)).toBe(false);
    } finally {
      fake.localDir = filesDir;
      await rm(elsewhere, { recursive: true, force: true });
    }
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
    expect(album[0]!.caption).toBe('Made it black and white and made it brighter.');
  });
});
