/**
 * The Discord adapter end to end: real discord.js against the fake REST + gateway
 * server on loopback, the real session manager (PGlite, offline Builder, CPU bricks).
 */
import pino, { type Logger } from 'pino';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiscordAdapter } from '../../../adapters/discord/discord-adapter.ts';
import { silentLogger } from '../../../src/logger.ts';
import { waitUntil } from '../../fakes/chat-platform-http.ts';
import { FakeDiscordServer, type DiscordMessage } from '../../fakes/discord-server.ts';
import {
  changeByHalf,
  checkerPhoto,
  colourPhoto,
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
} from '../telegram/session-harness.ts';

const customIds = (m: DiscordMessage): string[] => m.components.flatMap((row) => row.components.map((c) => c.custom_id ?? ''));
const hasResult = (m: DiscordMessage): boolean => m.attachments.some((a) => /^result-/.test(a.filename)) && customIds(m).some((id) => id.startsWith('le:undo:'));
const resultBytes = (m: DiscordMessage): Buffer => [...m.files.values()][0]!.bytes;

describe('DiscordAdapter against the fake Discord server', () => {
  let fake: FakeDiscordServer;
  let bot: BotSessions;
  let adapter: DiscordAdapter;
  let photo: Buffer;
  const ann = { id: '200000000000000001', username: 'ann', discriminator: '0', global_name: 'Ann', avatar: null };
  const bob = { id: '200000000000000002', username: 'bob', discriminator: '0', global_name: 'Bob', avatar: null };
  let firstResult: DiscordMessage;

  beforeAll(async () => {
    fake = await FakeDiscordServer.start();
    bot = await openBotSessions();
    photo = await colourPhoto();
    adapter = new DiscordAdapter({
      token: fake.token,
      appId: fake.appId,
      apiUrl: fake.apiUrl,
      guildId: fake.guildId,
      sessions: bot.sessions.manager,
      registry: bot.rt.registry,
      maxImageBytes: 200_000,
      maxUploadBytes: 6_000,
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

  it('connects through GET /gateway/bot to the fake gateway and registers guild-scoped slash commands', () => {
    expect(fake.ready).toBe(true);
    expect(fake.requestsTo('GET', /^\/gateway\/bot$/)).toHaveLength(1);
    const names = (fake.commands.get(fake.guildId) as Array<{ name: string }>).map((c) => c.name);
    expect(names).toEqual(['edit', 'help', 'tools', 'rules', 'forget', 'undo', 'redo', 'history', 'reset', 'cancel']);
    const edit = (fake.commands.get(fake.guildId) as Array<{ name: string; options: Array<{ name: string; type: number; required?: boolean }> }>)[0]!;
    expect(edit.options.map((o) => [o.name, o.type, Boolean(o.required)])).toEqual([
      ['image', 11, true],
      ['instruction', 3, true],
      ['mask', 11, false],
      ['reference', 11, false],
    ]);
  });

  it('/edit defers at once, edits the reply for progress, then shows the result with buttons', async () => {
    const token = fake.slashCommand(ann, 'edit', { image: { bytes: photo, name: 'photo.png', contentType: 'image/png' }, instruction: 'make it black and white' });
    firstResult = await fake.waitForOriginal(token, hasResult);
    const callbacks = fake.requestsTo('POST', /^\/interactions\/\d+\/[^/]+\/callback$/).filter((r) => r.path.includes(token));
    expect(callbacks.map((c) => c.body.type)).toEqual([5]);
    // Progress and caption in words; brick names and timings are behind Show plan.
    expect(firstResult.history.join('\n')).toMatch(/Planning your edit…/);
    expect(firstResult.history.join('\n')).not.toMatch(/GRAYSCALE/);
    expect(firstResult.content).toBe('Made it black and white.');
    expect(await isGrayscale(resultBytes(firstResult))).toBe(true);
    expect(customIds(firstResult).map((id) => id.split(':')[1])).toEqual(['undo', 'retry', 'plan']);
    // While running, the deferred reply carried a Cancel button.
    const edits = fake.requestsTo('PATCH', /@original$/).filter((r) => r.path.includes(token));
    expect(edits.some((e) => JSON.stringify(e.body.components ?? []).includes('le:cancel:'))).toBe(true);
  });

  it('a reply to a bot result is feedback on that turn', async () => {
    const original = await meanBrightness(photo);
    const sent = fake.sendMessage(ann, 'no, make it darker instead', { replyTo: firstResult });
    const revised = await fake.waitForBotMessage(hasResult, { after: sent.id });
    expect(await isGrayscale(resultBytes(revised))).toBe(false);
    expect(await meanBrightness(resultBytes(revised))).toBeLessThan(original * 0.85);
    expect(revised.message_reference?.message_id).toBe(sent.id);
  });

  it('a mention with an attachment and text starts an edit; plain channel chatter is ignored', async () => {
    const chatter = fake.sendMessage(bob, 'make it black and white', { files: [{ bytes: photo, name: 'p.png', contentType: 'image/png' }] });
    const sent = fake.sendMessage(bob, 'make it black and white', { mention: true, files: [{ bytes: photo, name: 'p.png', contentType: 'image/png' }] });
    const result = await fake.waitForBotMessage(hasResult, { after: sent.id });
    expect(await isGrayscale(resultBytes(result))).toBe(true);
    expect(fake.botMessages().some((m) => m.message_reference?.message_id === chatter.id)).toBe(false);
  });

  it('a reply to a result sent before the bot has heard its upload succeed revises that result', async () => {
    const sent = fake.sendMessage(bob, 'make it black and white', { mention: true, files: [{ bytes: photo, name: 'p.png', contentType: 'image/png' }] });
    await fake.waitForBotMessage((m) => m.message_reference?.message_id === sent.id);
    // Discord's gateway can deliver the reply before its REST answer to the upload reaches the bot.
    const release = fake.holdMessageResponses();
    let reply: DiscordMessage;
    try {
      const result = await fake.waitForBotMessage(hasResult, { after: sent.id });
      const replying = performance.now();
      reply = fake.sendMessage(bob, 'no, make it darker instead', { replyTo: result });
      // The adapter shows it is typing once it has taken the reply: the upload's answer is still held.
      await waitUntil(() => fake.requestsTo('POST', /^\/channels\/\d+\/typing$/).find((r) => r.at > replying), 'the bot to take the reply');
    } finally {
      release();
    }
    const revised = await fake.waitForBotMessage((m) => hasResult(m) && m.message_reference?.message_id === reply.id);
    expect(await isGrayscale(resultBytes(revised))).toBe(false);
    expect(fake.botMessages().filter((m) => /cannot find the message/.test(m.content))).toEqual([]);
  });

  it('a rule is stored, and the reply says the last edit already follows it', async () => {
    const sent = fake.sendMessage(ann, "don't use RESIZE", { mention: true });
    const info = await fake.waitForBotMessage((m) => /Rule stored/.test(m.content), { after: sent.id });
    expect(info.content).toMatch(/already follows it/);
    expect(info.message_reference?.message_id).toBe(sent.id);
    const token = fake.slashCommand(ann, 'rules');
    await fake.waitForOriginal(token, (m) => /1\. don't use RESIZE/.test(m.content));
  });

  it('another user pressing a result button gets an ephemeral notice; the owner’s Undo works', async () => {
    const undo = customIds(firstResult).find((id) => id.startsWith('le:undo:'))!;
    const bobsToken = fake.slashCommand(bob, 'tools');
    await fake.waitForOriginal(bobsToken, (m) => /Bricks available/.test(m.content));
    const refused = fake.pressButton(bob, firstResult, undo);
    const notice = await fake.waitForOriginal(refused, (m) => /belong to the person who asked/.test(m.content));
    expect(notice.flags & 64).toBe(64);

    const pressed = fake.pressButton(ann, firstResult, undo);
    const undone = await fake.waitForOriginal(pressed, (m) => /^Back to the result of #1 \("make it black and white"\)\./.test(m.content) && m.attachments.length === 1);
    expect(undone.flags & 64).toBe(0);
  });

  it('Show plan posts the rendered DAG and the JSON', async () => {
    const pressed = fake.pressButton(ann, firstResult, customIds(firstResult).find((id) => id.startsWith('le:plan:'))!);
    const plan = await fake.waitForOriginal(pressed, (m) => m.attachments.length === 2);
    expect(plan.attachments.map((a) => a.filename)).toEqual([expect.stringMatching(/^plan-\d+\.png$/), expect.stringMatching(/^plan-\d+\.json$/)]);
    const [png, json] = [...plan.files.values()];
    expect((await sharp(png!.bytes).metadata()).format).toBe('png');
    expect(JSON.parse(json!.bytes.toString('utf8'))).toHaveProperty('pipeline');
  });

  it('results over the upload limit are re-encoded to fit', async () => {
    const big = await sharp({ create: { width: 256, height: 256, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png().toBuffer();
    const token = fake.slashCommand(ann, 'edit', { image: { bytes: big, name: 'noise.png', contentType: 'image/png' }, instruction: 'make it black and white' });
    const result = await fake.waitForOriginal(token, hasResult);
    expect(resultBytes(result).length).toBeLessThanOrEqual(6_000);
    expect(result.content).toMatch(/re-encoded to fit/);
    expect((await sharp(resultBytes(result)).metadata()).format).toBe('jpeg');
  });

  it('an oversized image is refused with a message before it is downloaded', async () => {
    const token = fake.slashCommand(ann, 'edit', { image: { bytes: photo, name: 'huge.png', contentType: 'image/png', declaredSize: 9_000_000 }, instruction: 'make it black and white' });
    const reply = await fake.waitForOriginal(token, (m) => /too large/.test(m.content));
    expect(reply.content).toMatch(/too large \(8\.6 MB\); the limit is 0\.2 MB/);
    expect(reply.content).not.toMatch(/\.ts:\d+/);
    expect(fake.downloadsOf('huge.png')).toHaveLength(0);
  });

  it('an attachment larger than it claims is cut off while downloading', async () => {
    // Far more than socket buffers hold, under-declared and streamed without a Content-Length.
    const body = Buffer.alloc(64 * 1024 * 1024);
    const token = fake.slashCommand(ann, 'edit', { image: { bytes: body, name: 'liar.png', contentType: 'image/png', declaredSize: 1000, chunked: true }, instruction: 'make it black and white' });
    const reply = await fake.waitForOriginal(token, (m) => /too large/.test(m.content));
    expect(reply.content).toMatch(/too large \(more than 0\.2 MB\); the limit is 0\.2 MB/);
    const [transfer] = fake.downloadsOf('liar.png');
    await transfer!.done;
    expect(transfer!.complete).toBe(false);
    expect(transfer!.bytesSent).toBeLessThan(body.length / 2);
  });

  it('/edit with a mask keeps the edit inside the mask’s white part', async () => {
    const checker = await checkerPhoto();
    const token = fake.slashCommand(ann, 'edit', {
      image: { bytes: checker, name: 'checker.png', contentType: 'image/png' },
      instruction: 'blur this',
      mask: { bytes: await rightHalfMask(), name: 'mask.png', contentType: 'image/png' },
    });
    const result = await fake.waitForOriginal(token, hasResult);
    const change = await changeByHalf(checker, resultBytes(result));
    expect(change.left).toBe(0);
    expect(change.right).toBeGreaterThan(0.5);
    expect(result.content).toBe('Blurred it.');
  });

  it('/edit with a reference photo pastes its object in', async () => {
    const token = fake.slashCommand(ann, 'edit', {
      image: { bytes: photo, name: 'photo.png', contentType: 'image/png' },
      instruction: 'add this on the left',
      reference: { bytes: await productShot(), name: 'thing.png', contentType: 'image/png' },
    });
    const result = await fake.waitForOriginal(token, hasResult);
    expect(result.content).toBe('Added it to the picture.');
    expect((await productShare(resultBytes(result))).red).toBeGreaterThan(0.005);
  });

  it('a turn that outlives the interaction token continues as a channel message', async () => {
    const token = fake.slashCommand(ann, 'edit', { image: { bytes: photo, name: 'photo.png', contentType: 'image/png' }, instruction: 'make it brighter' });
    // Expire the token as soon as the reply is deferred, before any progress edit lands.
    await fake.waitForOriginal(token, () => true);
    fake.expireInteraction(token);
    const posted = await fake.waitForBotMessage((m) => hasResult(m) && !m.webhook_id && m.content.includes(`<@${ann.id}>`));
    expect(await meanBrightness(resultBytes(posted))).toBeGreaterThan(await meanBrightness(photo));
  });
});

describe('DiscordAdapter when the Builder endpoint is down, and outside the allowed guilds', () => {
  const admin = { id: '300000000000000001', username: 'ada', discriminator: '0', global_name: 'Ada', avatar: null };
  let fake: FakeDiscordServer;
  let bot: BotSessions;
  let adapter: DiscordAdapter;

  beforeAll(async () => {
    fake = await FakeDiscordServer.start();
    bot = await openBotSessions({ builder: await unreachableBuilder() });
    adapter = new DiscordAdapter({
      token: fake.token,
      appId: fake.appId,
      apiUrl: fake.apiUrl,
      sessions: bot.sessions.manager,
      registry: bot.rt.registry,
      // Only some other guild is allowed; the admin is let in anyway.
      access: { allowedChats: ['123456789012345678'], adminUsers: [admin.id] },
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

  it('registers commands globally without a guild id, and reports the unreachable planner in plain words', async () => {
    expect((fake.commands.get('global') as unknown[]).length).toBe(10);
    const token = fake.slashCommand(admin, 'edit', { image: { bytes: await colourPhoto(), name: 'photo.png', contentType: 'image/png' }, instruction: 'make it black and white' });
    const reply = await fake.waitForOriginal(token, (m) => /⚠️/.test(m.content), 15_000);
    expect(reply.content).toMatch(/planner|Builder|reach/i);
    expect(reply.content).not.toMatch(/\n\s+at |\.ts:\d+|ECONNREFUSED/);
  });

  it('refuses users outside ALLOWED_CHATS with an ephemeral notice', async () => {
    const token = fake.slashCommand(fake.user('300000000000000009'), 'history');
    const notice = await fake.waitForOriginal(token, (m) => /not enabled/.test(m.content));
    expect(notice.flags & 64).toBe(64);
  });
});

describe('DiscordAdapter: per-user limits and bricks that need a GPU host', () => {
  const ann = { id: '400000000000000001', username: 'ann', discriminator: '0', global_name: 'Ann', avatar: null };
  let fake: FakeDiscordServer;
  let bot: BotSessions;
  let adapter: DiscordAdapter;

  beforeAll(async () => {
    fake = await FakeDiscordServer.start();
    bot = await openBotSessions({ builder: gpuStyleBuilder, settings: { turnsPerMinute: 1 } });
    adapter = new DiscordAdapter({ token: fake.token, appId: fake.appId, apiUrl: fake.apiUrl, guildId: fake.guildId, sessions: bot.sessions.manager, registry: bot.rt.registry, maxImageBytes: 200_000, logger: silentLogger, progressIntervalMs: 0 });
    await adapter.start();
  });
  afterAll(async () => {
    await adapter?.stop(2000);
    await bot?.close();
    await fake?.stop();
  });

  it('a brick that needs a GPU host says so in the reply, in plain words', async () => {
    const token = fake.slashCommand(ann, 'edit', { image: { bytes: await colourPhoto(), name: 'photo.png', contentType: 'image/png' }, instruction: 'paint it like Van Gogh' });
    const reply = await fake.waitForOriginal(token, (m) => /⚠️/.test(m.content));
    expect(reply.content).toMatch(/^⚠️ I can't make that edit here: it needs a tool this bot has not been set up with\. You can ask for something else/);
    expect(reply.content).not.toMatch(/FLUX-STYLE|LEGO_EDIT_|GPU host/);
    expect(reply.content).not.toMatch(/\n\s+at |\.ts:\d+|went wrong on my side/);
    expect(reply.components).toEqual([]);
  });

  it('the rate-limit notice is shown to the requester alone, and the public placeholder goes away', async () => {
    const token = fake.slashCommand(ann, 'edit', { image: { bytes: await colourPhoto(), name: 'photo.png', contentType: 'image/png' }, instruction: 'make it black and white' });
    const [notice] = await waitUntil(() => (fake.followUps(token).length ? fake.followUps(token) : undefined), 'the follow-up');
    expect(notice!.content).toMatch(/^⏳ That is more than 1 edits in a minute\. Please try again in \d+ s\.$/);
    expect(notice!.flags & 64).toBe(64);
    // The deferred "thinking…" reply was public; it is deleted rather than left behind or turned into the notice.
    expect(fake.original(token)).toBeUndefined();
    expect(fake.requestsTo('DELETE', /@original$/).filter((r) => r.path.includes(token))).toHaveLength(1);
  });
});

describe('DiscordAdapter: graceful shutdown with a turn in flight', () => {
  const ann = { id: '500000000000000001', username: 'ann', discriminator: '0', global_name: 'Ann', avatar: null };
  const bob = { id: '500000000000000002', username: 'bob', discriminator: '0', global_name: 'Bob', avatar: null };
  let fake: FakeDiscordServer;
  let bot: BotSessions;
  let adapter: DiscordAdapter;

  beforeAll(async () => {
    fake = await FakeDiscordServer.start();
    bot = await openBotSessions({ builder: slowBuilder(1500) });
    adapter = new DiscordAdapter({ token: fake.token, appId: fake.appId, apiUrl: fake.apiUrl, guildId: fake.guildId, sessions: bot.sessions.manager, registry: bot.rt.registry, maxImageBytes: 200_000, logger: silentLogger, progressIntervalMs: 0 });
    await adapter.start();
  });
  afterAll(async () => {
    await adapter?.stop(2000);
    await bot?.close();
    await fake?.stop();
  });

  it('the running turn delivers its result within the grace period; whoever writes meanwhile is told the bot is restarting', async () => {
    const photo = await colourPhoto();
    const token = fake.slashCommand(ann, 'edit', { image: { bytes: photo, name: 'photo.png', contentType: 'image/png' }, instruction: 'make it black and white' });
    await fake.waitForOriginal(token, (m) => /Planning/.test(m.content));
    await adapter.stopAccepting();
    expect(adapter.inFlight).toBe(1);

    // A slash command and a mention during the grace period get an answer, not "This interaction failed".
    const bobs = fake.slashCommand(bob, 'edit', { image: { bytes: photo, name: 'photo.png', contentType: 'image/png' }, instruction: 'make it brighter' });
    const notice = await fake.waitForOriginal(bobs, (m) => /restarting/.test(m.content));
    expect(notice.content).toBe('⏳ The bot is restarting; try again in a minute.');
    expect(notice.flags & 64).toBe(64);
    const mention = fake.sendMessage(bob, 'make it brighter', { mention: true, files: [{ bytes: photo, name: 'p.png', contentType: 'image/png' }] });
    const reply = await fake.waitForBotMessage((m) => m.message_reference?.message_id === mention.id);
    expect(reply.content).toMatch(/restarting/);
    expect(fake.downloadsOf('p.png')).toHaveLength(0);

    expect(await adapter.drain(10_000)).toBe(0);
    const result = fake.original(token)!;
    expect(hasResult(result)).toBe(true);
    expect(await isGrayscale(resultBytes(result))).toBe(true);
  });
});

describe('DiscordAdapter: privileged intents, lost connections, start-up errors and unfetchable attachments', () => {
  const ann = { id: '400000000000000001', username: 'ann', discriminator: '0', global_name: 'Ann', avatar: null };
  let bot: BotSessions;
  beforeAll(async () => {
    bot = await openBotSessions();
  });
  afterAll(async () => bot?.close());

  /** A logger whose lines the test reads. */
  function capturingLogger(): { logger: Logger; lines: () => Array<{ level: number; msg: string } & Record<string, unknown>> } {
    const chunks: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (s: string) => void chunks.push(s) });
    return { logger, lines: () => chunks.map((c) => JSON.parse(c) as { level: number; msg: string }) };
  }

  const adapterFor = (fake: FakeDiscordServer, logger: Logger, apiUrl = fake.apiUrl): DiscordAdapter =>
    new DiscordAdapter({ token: fake.token, appId: fake.appId, apiUrl, guildId: fake.guildId, sessions: bot.sessions.manager, registry: bot.rt.registry, maxImageBytes: 200_000, logger, progressIntervalMs: 0 });

  it('starts without the Message Content intent, says once what is off and where to turn it on, and slash commands work', async () => {
    const fake = await FakeDiscordServer.start({ messageContentIntent: false });
    const log = capturingLogger();
    const adapter = adapterFor(fake, log.logger);
    try {
      await adapter.start();
      expect(adapter.messageContent).toBe(false);
      const warnings = log.lines().filter((l) => /Message Content intent is off/.test(l.msg));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.msg).toMatch(/a reply to a result is read as feedback only when it mentions the bot; slash commands, buttons and mentions work\. Turn on "Message Content Intent" at https:\/\/discord\.com\/developers\/applications → your app → Bot → Privileged Gateway Intents\./);
      const token = fake.slashCommand(ann, 'edit', { image: { bytes: await colourPhoto(), name: 'photo.png', contentType: 'image/png' }, instruction: 'make it black and white' });
      const result = await fake.waitForOriginal(token, hasResult);
      expect(await isGrayscale(resultBytes(result))).toBe(true);
      const plan = fake.pressButton(ann, result, customIds(result).find((id) => id.startsWith('le:plan:'))!);
      await fake.waitForOriginal(plan, (m) => /^Plan of turn #1/.test(m.content));
    } finally {
      await adapter.stop(1000);
      await fake.stop();
    }
  });

  it('without the Message Content intent, a mention with a photo is edited and a reply that pings the bot revises it', async () => {
    const fake = await FakeDiscordServer.start({ messageContentIntent: false });
    const adapter = adapterFor(fake, silentLogger);
    try {
      await adapter.start();
      expect(adapter.messageContent).toBe(false);
      const photo = await colourPhoto();
      const sent = fake.sendMessage(ann, 'make it black and white', { mention: true, files: [{ bytes: photo, name: 'p.png', contentType: 'image/png' }] });
      const result = await fake.waitForBotMessage(hasResult, { after: sent.id });
      expect(result.message_reference?.message_id).toBe(sent.id);
      expect(result.content).toBe('Made it black and white.');
      expect(await isGrayscale(resultBytes(result))).toBe(true);
      // The result answers a mention, so it is an ordinary message: a reply's ping to it is a mention, and readable.
      const reply = fake.sendMessage(ann, 'no, make it darker instead', { replyTo: result });
      const revised = await fake.waitForBotMessage(hasResult, { after: reply.id });
      expect(revised.message_reference?.message_id).toBe(reply.id);
      expect(await isGrayscale(resultBytes(revised))).toBe(false);
      expect(await meanBrightness(resultBytes(revised))).toBeLessThan((await meanBrightness(photo)) * 0.85);
    } finally {
      await adapter.stop(1000);
      await fake.stop();
    }
  });

  it('logs a lost gateway connection and stops promptly while discord.js tries to reconnect', async () => {
    const fake = await FakeDiscordServer.start();
    const log = capturingLogger();
    const adapter = adapterFor(fake, log.logger);
    await adapter.start();
    try {
      fake.dropGateway();
      await waitUntil(() => log.lines().some((l) => /discord gateway connection lost; reconnecting/.test(l.msg)) || undefined, 'the lost connection to be logged', 60_000);
      const outcome = await Promise.race([adapter.stop(1000).then(() => 'stopped'), new Promise((r) => setTimeout(() => r('still running'), 15_000))]);
      expect(outcome).toBe('stopped');
    } finally {
      await fake.stop();
    }
  });

  it('an attachment whose link cannot be fetched is refused in one line and logged with its cause', async () => {
    const fake = await FakeDiscordServer.start();
    const log = capturingLogger();
    const adapter = adapterFor(fake, log.logger);
    try {
      await adapter.start();
      const image = { bytes: await colourPhoto(), name: 'photo.png', contentType: 'image/png' };
      const bad = fake.slashCommand(ann, 'edit', { image: { ...image, url: 'not a link' }, instruction: 'make it black and white' });
      const reply = await fake.waitForOriginal(bad, (m) => /couldn't fetch/.test(m.content));
      expect(reply.content).toMatch(/I couldn't fetch that file from the chat service \(the link is not a valid address\)\. Please send it again\./);
      const elsewhere = fake.slashCommand(ann, 'edit', { image: { ...image, url: 'http://127.0.0.1:9/photo.png' }, instruction: 'make it black and white' });
      await fake.waitForOriginal(elsewhere, (m) => /does not point at the platform’s file service/.test(m.content));
      const logged = log.lines().filter((l) => l.msg === 'refused an attachment').map((l) => l.err as { code: string; message: string; stack: string });
      expect(logged.map((e) => e.code)).toEqual(['download-failed', 'download-failed']);
      // pino folds the cause into the line: the library's own words after ours, and its stack.
      expect(logged[0]!.message).toMatch(/the link is not a valid address.*: Invalid URL$/);
      expect(logged[0]!.stack).toMatch(/caused by: TypeError: Invalid URL/);
      expect(fake.downloads).toHaveLength(0);
    } finally {
      await adapter.stop(1000);
      await fake.stop();
    }
  });

  it('a wrong DISCORD_API_URL names the setting and the URL that failed', async () => {
    const fake = await FakeDiscordServer.start();
    const adapter = adapterFor(fake, silentLogger, `${fake.origin}/not-the-api`);
    try {
      await expect(adapter.start()).rejects.toThrow(new RegExp(`Discord's API at ${fake.origin}/not-the-api \\(DISCORD_API_URL\\) answered .*404.* for ${fake.origin}/not-the-api/v10/gateway/bot\\. Check DISCORD_API_URL`));
    } finally {
      await adapter.disconnect();
      await fake.stop();
    }
  });
});
