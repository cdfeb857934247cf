/**
 * The Telegram adapter: telegraf updates in, session-manager calls out, session
 * events back as one status message edited in place and a result photo with
 * buttons. It holds no conversation state of its own beyond a small map from
 * result messages to turns (a cache; the session manager persists the link).
 */
import { randomBytes } from 'node:crypto';
import { isAbsolute } from 'node:path';
import type { Logger } from 'pino';
import { Input, Markup, Telegraf, TelegramError, type Context } from 'telegraf';
import type { File, InlineKeyboardMarkup, Message, ReplyParameters } from 'telegraf/types';
import { ImageTooLargeError, LegoEditError, UnreadableImageError } from '../../src/engine/errors.ts';
import type { BrickRegistry } from '../../src/engine/registry.ts';
import type { ConversationKey, IncomingImage, IncomingMessage, ResultImage, SessionEvent, SessionManager } from '../../src/sessions/types.ts';
import { AccessPolicy, NOT_ALLOWED_TEXT, type AccessConfig } from '../shared/access.ts';
import { renderWorkflowPng } from '../shared/dag.ts';
import { checkDeclaredSize, downloadCapped, mb, readLocalCapped } from '../shared/download.ts';
import { CoalescingEditor, TurnProgress, seconds } from '../shared/progress.ts';
import { COMMAND_LIST, HELP_TEXT, RESTARTING_TEXT, START_TEXT, errorText, friendlyError, historyText, rulesText, toolsText } from '../shared/texts.ts';
import { type AdapterTimings, TurnTracker } from '../shared/turns.ts';

export interface TelegramWebhookOptions {
  /** Public https URL Telegram posts updates to; its path is where the bot listens. */
  readonly url: string;
  readonly port: number;
  readonly host?: string;
  /**
   * Secret Telegram sends in X-Telegram-Bot-Api-Secret-Token with every update; requests without it
   * are refused. A random one is generated per start when not given (setWebhook registers it anyway).
   */
  readonly secretToken?: string;
}

export interface TelegramAdapterOptions {
  readonly token: string;
  /** Bot API root: a self-hosted server or a test fake. */
  readonly apiRoot?: string;
  /**
   * The directory a self-hosted Bot API server in --local mode keeps files in (its --dir), on this machine.
   * Such a server answers getFile with absolute paths there, and has no 20 MB download limit.
   */
  readonly localFilesDir?: string;
  /** Webhook mode when set; long polling otherwise. */
  readonly webhook?: TelegramWebhookOptions;
  readonly sessions: SessionManager;
  readonly registry: BrickRegistry;
  readonly access?: AccessConfig;
  readonly maxImageBytes: number;
  readonly logger: Logger;
  /** Least time between two edits of a status message (Telegram limits edits per chat). */
  readonly progressIntervalMs?: number;
  /** How long to wait for the rest of an album after its first photo. */
  readonly albumWaitMs?: number;
  /** Adapter-latency marks, for the benchmark. */
  readonly timings?: AdapterTimings;
}

/** Telegram's limit on photos sent with sendPhoto; larger results go as documents. */
const MAX_PHOTO_UPLOAD = 10 * 1024 * 1024;
/** The most a bot may download through the Bot API (cloud, or self-hosted without --local); getFile fails above it. */
const BOT_API_DOWNLOAD_LIMIT = 20 * 1024 * 1024;

/**
 * A self-hosted Bot API server in --local mode answers getFile with a path on its
 * own disk instead of a download URL; the bot reads it only from a configured
 * directory (TELEGRAM_LOCAL_FILES_DIR), and refuses with this when none is set.
 */
export class TelegramLocalModeError extends LegoEditError {
  constructor(readonly apiRoot: string) {
    super(
      'telegram-local-mode',
      'I can’t fetch files from this bot’s Telegram server: it runs in --local mode and I was not told where it keeps its files. Please tell the bot’s admin (set TELEGRAM_LOCAL_FILES_DIR to the server’s --dir, or run telegram-bot-api without --local).',
    );
  }
}

/** Telegram's "file is too big" (getFile over the download limit) as the too-large message every other size refusal uses. */
function tooBigForBotApi(err: unknown, maxBytes: number): ImageTooLargeError | undefined {
  if (!(err instanceof TelegramError) || !/file is too big/i.test(err.description)) return undefined;
  return new ImageTooLargeError(`over ${mb(BOT_API_DOWNLOAD_LIMIT)}, the most Telegram lets bots download`, mb(Math.min(maxBytes, BOT_API_DOWNLOAD_LIMIT)));
}

type Action = 'undo' | 'retry' | 'plan' | 'cancel';
const ACTIONS: ReadonlySet<string> = new Set(['undo', 'retry', 'plan', 'cancel']);

/** Callback data carries the owner so a press can be checked without any lookup. */
function buttonData(action: Action, turnId: number | undefined, key: ConversationKey): string {
  return `${action}:${turnId ?? 0}:${key.userId}:${key.threadId ?? ''}`;
}

function resultKeyboard(turnId: number, key: ConversationKey): InlineKeyboardMarkup {
  return Markup.inlineKeyboard([
    [Markup.button.callback('↩️ Undo', buttonData('undo', turnId, key)), Markup.button.callback('🔁 Retry', buttonData('retry', turnId, key)), Markup.button.callback('🧩 Show plan', buttonData('plan', turnId, key))],
  ]).reply_markup;
}

function cancelKeyboard(turnId: number | undefined, key: ConversationKey): InlineKeyboardMarkup {
  return Markup.inlineKeyboard([[Markup.button.callback('✖️ Cancel', buttonData('cancel', turnId, key))]]).reply_markup;
}

/**
 * telegraf 4.16.3 drops object-valued fields from multipart requests (uploads),
 * so a photo would silently stop being a reply (telegraf/telegraf#1970, #2094).
 * The Bot API accepts the field as JSON text, which telegraf passes through.
 */
function multipartReply(reply: ReplyParameters): ReplyParameters {
  return JSON.stringify(reply) as unknown as ReplyParameters;
}

type AnyMessage = Message & Partial<Message.PhotoMessage & Message.DocumentMessage & Message.TextMessage & Message.CaptionableMessage>;

interface PendingAlbum {
  /** The first part's context (its chat, sender and API client serve the whole album). */
  readonly ctx: Context;
  readonly receivedAt: number;
  readonly messages: AnyMessage[];
  timer: NodeJS.Timeout;
}

export class TelegramAdapter {
  readonly platform = 'telegram';
  readonly bot: Telegraf;
  readonly #options: TelegramAdapterOptions;
  readonly #access: AccessPolicy;
  readonly #log: Logger;
  readonly #turns = new TurnTracker();
  readonly #albums = new Map<string, PendingAlbum>();
  /** Result message → turn, so a reply resolves without a database round trip. */
  readonly #resultTurns = new Map<string, number>();
  #launched: Promise<void> | undefined;
  #accepting = false;
  /** Albums already told that the bot is restarting, so a shutdown notice goes out once per album, not per photo. */
  readonly #noticedAlbums = new Set<string>();

  constructor(options: TelegramAdapterOptions) {
    this.#options = options;
    this.#access = new AccessPolicy(options.access ?? {});
    this.#log = options.logger.child({ adapter: 'telegram' });
    this.bot = new Telegraf(options.token, { telegram: { ...(options.apiRoot ? { apiRoot: options.apiRoot } : {}) }, handlerTimeout: 30_000 });
    this.bot.catch((err) => this.#log.error({ err: describe(err) }, 'telegram update failed'));
    this.#register();
  }

  get apiRoot(): string {
    return this.#options.apiRoot ?? 'https://api.telegram.org';
  }

  /** Turns being handled right now. */
  get inFlight(): number {
    return this.#turns.size;
  }

  /** Connects (getMe), registers commands and starts long polling or the webhook; resolves once updates flow. */
  async start(): Promise<void> {
    this.#accepting = true;
    let ready!: () => void;
    const started = new Promise<void>((resolve) => (ready = resolve));
    const webhook = this.#options.webhook;
    // Without a secret anyone who finds the URL could post forged updates (as any user), so there always is one:
    // Telegram's allowed alphabet is A-Z a-z 0-9 _ -, which base64url is.
    const secretToken = webhook?.secretToken || randomBytes(32).toString('base64url');
    const launch = webhook
      ? this.bot.launch({
          webhook: { domain: new URL(webhook.url).host, path: new URL(webhook.url).pathname || '/', port: webhook.port, ...(webhook.host ? { host: webhook.host } : {}), secretToken },
        })
      : this.bot.launch({ dropPendingUpdates: false }, () => ready());
    this.#launched = launch.catch((err: unknown) => {
      this.#log.error({ err: describe(err) }, 'telegram polling stopped with an error');
    });
    if (webhook) await launch;
    else await Promise.race([started, launch]);
    await this.bot.telegram.setMyCommands(COMMAND_LIST.map((c) => ({ command: c.command, description: c.description })));
    this.#log.info({ username: this.bot.botInfo?.username, mode: webhook ? 'webhook' : 'polling' }, 'telegram adapter started');
  }

  /**
   * Stops taking updates (polling or webhook ends); replies of turns in flight still go out.
   * Updates not fetched yet stay with Telegram and reach the next start. Every update that
   * was fetched is handled as usual, because telegraf confirms the whole batch when polling
   * stops: a batch dropped here would be lost. Albums waiting for their last part start now.
   */
  async stopAccepting(): Promise<void> {
    try {
      this.bot.stop('shutdown');
    } catch {
      // Not running (start failed or never called).
    }
    await this.#launched;
    this.#flushAlbums();
    this.#accepting = false;
  }

  /** Waits up to `timeoutMs` for turns in flight to deliver their replies; returns how many were still running. */
  drain(timeoutMs: number): Promise<number> {
    return this.#turns.drain(timeoutMs);
  }

  /** Nothing stays connected once polling has stopped. */
  async disconnect(): Promise<void> {}

  async stop(graceMs = 10_000): Promise<void> {
    await this.stopAccepting();
    await this.drain(graceMs);
    await this.disconnect();
  }

  /** Tells a conversation something unprompted (e.g. that its turn was interrupted by a restart). */
  async notify(key: ConversationKey, text: string): Promise<void> {
    await this.bot.telegram.sendMessage(key.chatId, text, key.threadId ? { message_thread_id: Number(key.threadId) } : {});
  }

  // ---- wiring -------------------------------------------------------------

  #register(): void {
    const bot = this.bot;
    bot.use(async (ctx, next) => {
      if (!this.#accepting) return this.#refuseWhileStopping(ctx);
      const chatId = ctx.chat?.id;
      const userId = ctx.from?.id;
      if (chatId === undefined || userId === undefined) return;
      if (!this.#access.allows({ userId: String(userId), places: [String(chatId)] })) {
        if (ctx.callbackQuery) await ctx.answerCbQuery(NOT_ALLOWED_TEXT, { show_alert: true });
        else if (ctx.chat?.type === 'private' || this.#addressed(ctx.message as AnyMessage | undefined)) await ctx.reply(NOT_ALLOWED_TEXT);
        return;
      }
      await next();
    });
    bot.start((ctx) => ctx.reply(START_TEXT));
    bot.help((ctx) => ctx.reply(HELP_TEXT));
    bot.command('tools', async (ctx) => ctx.reply(await toolsText(this.#options.registry)));
    bot.command('rules', async (ctx) => ctx.reply(rulesText(await this.#options.sessions.rules(this.#key(ctx)))));
    bot.command('history', async (ctx) => ctx.reply(historyText(await this.#options.sessions.history(this.#key(ctx), 10))));
    bot.command('forget', async (ctx) => {
      const n = Number(ctx.payload.trim());
      if (!Number.isInteger(n) || n < 1) return void (await ctx.reply('Which rule? For example /forget 2 (see /rules for the numbers).'));
      await this.#commandReply(ctx, await this.#options.sessions.forgetRule(this.#key(ctx), n));
    });
    bot.command('undo', async (ctx) => this.#commandReply(ctx, await this.#options.sessions.undo(this.#key(ctx))));
    bot.command('redo', async (ctx) => this.#commandReply(ctx, await this.#options.sessions.redo(this.#key(ctx))));
    bot.command('reset', async (ctx) => this.#commandReply(ctx, await this.#options.sessions.reset(this.#key(ctx))));
    bot.command('cancel', async (ctx) => this.#commandReply(ctx, await this.#options.sessions.cancel(this.#key(ctx), String(ctx.from.id))));
    bot.on('callback_query', (ctx) => this.#onButton(ctx as Context));
    bot.on('message', (ctx) => this.#onMessage(ctx as Context));
  }

  /**
   * An update that still reaches the bot after it stopped accepting (a webhook request already
   * on its way) is answered with the restart notice instead of being dropped without a word.
   */
  async #refuseWhileStopping(ctx: Context): Promise<void> {
    if (ctx.callbackQuery) return void (await ctx.answerCbQuery(RESTARTING_TEXT, { show_alert: true }).catch(() => undefined));
    const message = ctx.message as AnyMessage | undefined;
    if (!message || message.from?.is_bot) return;
    if (!this.#addressed(message)) return;
    const album = message.media_group_id;
    if (album && this.#noticedAlbums.has(album)) return;
    if (album) this.#noticedAlbums.add(album);
    await ctx.telegram.sendMessage(message.chat.id, RESTARTING_TEXT, { reply_parameters: { message_id: message.message_id, allow_sending_without_reply: true } }).catch((err: unknown) => this.#log.warn({ err: describe(err) }, 'could not send the restart notice'));
  }

  #key(ctx: Context, userId?: string, threadId?: string): ConversationKey {
    const message = (ctx.message ?? ctx.callbackQuery?.message) as (Message & { message_thread_id?: number; is_topic_message?: boolean }) | undefined;
    const thread = threadId ?? (message?.is_topic_message && message.message_thread_id !== undefined ? String(message.message_thread_id) : undefined);
    return { platform: this.platform, chatId: String(ctx.chat!.id), userId: userId ?? String(ctx.from!.id), ...(thread ? { threadId: thread } : {}) };
  }

  /** In groups the bot only answers when mentioned or replied to, so it never hijacks a conversation. */
  #addressed(message: AnyMessage | undefined): boolean {
    if (!message) return false;
    if (message.chat.type === 'private') return true;
    const me = this.bot.botInfo;
    if (!me) return false;
    if (message.reply_to_message?.from?.id === me.id) return true;
    const text = message.text ?? message.caption ?? '';
    const entities = message.entities ?? message.caption_entities ?? [];
    return entities.some(
      (e) =>
        (e.type === 'mention' && text.slice(e.offset, e.offset + e.length).toLowerCase() === `@${me.username.toLowerCase()}`) ||
        (e.type === 'text_mention' && e.user.id === me.id) ||
        (e.type === 'bot_command' && text.slice(e.offset, e.offset + e.length).toLowerCase().endsWith(`@${me.username.toLowerCase()}`)),
    );
  }

  #stripMention(text: string): string {
    const username = this.bot.botInfo?.username;
    return (username ? text.replace(new RegExp(`@${username}\\b`, 'gi'), '') : text).replace(/\s+/g, ' ').trim();
  }

  async #onMessage(ctx: Context): Promise<void> {
    const receivedAt = performance.now();
    const message = ctx.message as AnyMessage;
    if (message.from?.is_bot) return;
    if (message.media_group_id) return this.#collectAlbum(ctx, message, receivedAt);
    if (!this.#addressed(message)) return;
    if (!message.text && !message.photo && !message.document && !message.caption) return;
    this.#startTurn(ctx, [message], receivedAt);
  }

  /** Album parts arrive as separate updates; wait briefly and handle them as one message. */
  #collectAlbum(ctx: Context, message: AnyMessage, receivedAt: number): void {
    const id = message.media_group_id!;
    const pending = this.#albums.get(id);
    const wait = this.#options.albumWaitMs ?? 600;
    if (pending) {
      pending.messages.push(message);
      clearTimeout(pending.timer);
      pending.timer = setTimeout(() => this.#fireAlbum(id), wait);
    } else {
      this.#albums.set(id, { ctx, receivedAt, messages: [message], timer: setTimeout(() => this.#fireAlbum(id), wait) });
    }
  }

  #fireAlbum(id: string): void {
    const album = this.#albums.get(id);
    this.#albums.delete(id);
    if (!album) return;
    clearTimeout(album.timer);
    const parts = album.messages.sort((a, b) => a.message_id - b.message_id);
    if (!parts.some((m) => this.#addressed(m))) return;
    this.#startTurn(album.ctx, parts, album.receivedAt);
  }

  /** Starts every album still waiting for more parts: no more parts can arrive once updates stop. */
  #flushAlbums(): void {
    for (const id of [...this.#albums.keys()]) this.#fireAlbum(id);
  }

  #startTurn(ctx: Context, parts: AnyMessage[], receivedAt: number): void {
    const first = parts[0]!;
    const key = this.#key(ctx);
    this.#turns.track(this.#runTurn(ctx, key, parts, receivedAt).catch((err: unknown) => this.#log.error({ err: describe(err) }, 'telegram turn failed')));
    void ctx.telegram.sendChatAction(first.chat.id, first.photo || first.document ? 'upload_photo' : 'typing').catch(() => undefined);
  }

  /**
   * Fetches one attachment: the size the message declares is checked first (the cloud Bot API's
   * getFile fails for files over 20 MB), then the size getFile reports, then the bytes as they arrive.
   */
  async #download(telegram: Context['telegram'], fileId: string, declaredSize: number | undefined, name?: string, mime?: string): Promise<IncomingImage> {
    const maxBytes = this.#options.maxImageBytes;
    checkDeclaredSize(declaredSize, maxBytes);
    let file: File;
    try {
      file = await telegram.getFile(fileId);
    } catch (err) {
      throw tooBigForBotApi(err, maxBytes) ?? err;
    }
    const size = file.file_size ?? declaredSize;
    if (file.file_path !== undefined && isAbsolute(file.file_path)) {
      // --local mode: the path is on the server's disk, which must be this machine's too.
      const root = this.#options.localFilesDir;
      if (!root) {
        this.#log.error({ apiRoot: this.apiRoot }, 'the Bot API server answered getFile with a local path (--local mode); set TELEGRAM_LOCAL_FILES_DIR to its --dir, or run it without --local');
        throw new TelegramLocalModeError(this.apiRoot);
      }
      const bytes = await readLocalCapped(file.file_path, { root, maxBytes, ...(size !== undefined ? { declaredSize: size } : {}) });
      return { bytes, ...(name ? { name } : {}), ...(mime ? { mime } : {}) };
    }
    const link = await telegram.getFileLink(file);
    const bytes = await downloadCapped(link, { maxBytes, allowedOrigins: [new URL(this.apiRoot).origin], ...(size !== undefined ? { declaredSize: size } : {}) });
    return { bytes, ...(name ? { name } : {}), ...(mime ? { mime } : {}) };
  }

  async #imagesOf(ctx: Context, parts: AnyMessage[]): Promise<IncomingImage[]> {
    const images: IncomingImage[] = [];
    for (const m of parts) {
      if (m.photo?.length) {
        const largest = [...m.photo].sort((a, b) => b.width * b.height - a.width * a.height)[0]!;
        images.push(await this.#download(ctx.telegram, largest.file_id, largest.file_size, 'photo.jpg', 'image/jpeg'));
      } else if (m.document) {
        const mime = m.document.mime_type ?? '';
        if (mime && !mime.startsWith('image/')) throw new UnreadableImageError(`${m.document.file_name ?? 'the file'} is ${mime}, not an image`);
        images.push(await this.#download(ctx.telegram, m.document.file_id, m.document.file_size, m.document.file_name, mime || undefined));
      }
    }
    return images;
  }

  async #runTurn(ctx: Context, key: ConversationKey, parts: AnyMessage[], receivedAt: number): Promise<void> {
    const first = parts[0]!;
    const chatId = first.chat.id;
    const reply: ReplyParameters = { message_id: first.message_id, allow_sending_without_reply: true };
    const text = this.#stripMention(parts.map((m) => m.text ?? m.caption ?? '').find(Boolean) ?? '');
    let images: IncomingImage[];
    try {
      images = await this.#imagesOf(ctx, parts);
    } catch (err) {
      // Our own refusals (too large, not an image) are expected; anything else is worth a look.
      if (!(err instanceof LegoEditError)) this.#log.warn({ err: describe(err) }, 'could not fetch an attachment');
      await ctx.telegram.sendMessage(chatId, friendlyError(err), { reply_parameters: reply });
      return;
    }
    const repliedTo = first.reply_to_message;
    const replyToBot = repliedTo && repliedTo.from?.id === this.bot.botInfo?.id;
    const knownTurn = replyToBot ? this.#resultTurns.get(`${chatId}:${repliedTo.message_id}`) : undefined;
    const incoming: IncomingMessage = {
      ...key,
      userName: first.from?.username ?? first.from?.first_name,
      messageId: String(first.message_id),
      // Anonymous admins and channel posts all arrive under one shared bot id (GroupAnonymousBot, Channel_Bot).
      ...('sender_chat' in first && first.sender_chat ? { sharedIdentity: true } : {}),
      ...(text ? { text } : {}),
      images,
      ...(replyToBot ? { replyTo: { messageId: String(repliedTo.message_id), ...(knownTurn !== undefined ? { turnId: knownTurn } : {}) } } : {}),
    };
    await this.#handle(ctx.telegram, key, chatId, reply, incoming, receivedAt);
  }

  /** Runs one message through the session manager and renders its events. */
  async #handle(telegram: Context['telegram'], key: ConversationKey, chatId: number, reply: ReplyParameters, incoming: IncomingMessage, receivedAt: number): Promise<void> {
    const progress = new TurnProgress();
    let status: Promise<number | undefined> | undefined;
    let editor: CoalescingEditor | undefined;
    const ensureStatus = (): Promise<number | undefined> => {
      status ??= telegram
        .sendMessage(chatId, progress.render(), { reply_parameters: reply, reply_markup: cancelKeyboard(progress.turnId, key) })
        .then((m) => {
          editor = new CoalescingEditor(
            async (t) => {
              await telegram.editMessageText(chatId, m.message_id, undefined, t, progress.running ? { reply_markup: cancelKeyboard(progress.turnId, key) } : {});
            },
            this.#options.progressIntervalMs ?? 1000,
            progress.render(),
          );
          return m.message_id;
        })
        .catch((err: unknown) => {
          this.#log.warn({ err: describe(err) }, 'could not send the status message');
          return undefined;
        });
      return status;
    };
    const finishStatus = async (): Promise<void> => {
      if (!status) return;
      const id = await status;
      await editor?.close();
      if (id === undefined) return;
      await telegram.editMessageText(chatId, id, undefined, progress.render(), { reply_markup: { inline_keyboard: [] } }).catch(() => undefined);
    };
    const listener = async (event: SessionEvent): Promise<void> => {
      const changed = progress.apply(event);
      switch (event.type) {
        case 'queued':
        case 'planning':
        case 'planned':
        case 'step-started':
        case 'step-progress':
        case 'step-finished':
        case 'step-failed':
          if (!changed) return;
          if (!status) void ensureStatus();
          else editor?.set(progress.render());
          return;
        case 'result': {
          this.#options.timings?.mark(event.turnId, 'result', performance.now());
          // The result matters more than the last status edit: upload it at once, finalise the status alongside.
          const finalising = finishStatus();
          await this.#sendResult(telegram, key, chatId, reply, event, progress);
          await finalising;
          return;
        }
        case 'cancelled':
          await finishStatus();
          if (!status) await telegram.sendMessage(chatId, 'Cancelled.', { reply_parameters: reply });
          return;
        case 'error':
          await finishStatus();
          await telegram.sendMessage(chatId, errorText(event.code, event.userMessage), { reply_parameters: reply });
          return;
        case 'info':
          await telegram.sendMessage(chatId, event.text, { reply_parameters: reply });
          return;
        case 'clarify':
          await telegram.sendMessage(chatId, event.options?.length ? `${event.question}\n${event.options.map((o) => `• ${o}`).join('\n')}` : event.question, { reply_parameters: reply });
          return;
        default:
          return;
      }
    };
    this.#options.timings?.mark(incoming.messageId, 'handle', performance.now(), receivedAt, incoming.images.length > 0);
    try {
      await this.#options.sessions.handle(incoming, listener);
    } catch (err) {
      this.#log.error({ err: describe(err) }, 'session manager failed');
      await finishStatus();
      await telegram.sendMessage(chatId, friendlyError(err), { reply_parameters: reply }).catch(() => undefined);
    }
  }

  async #sendResult(telegram: Context['telegram'], key: ConversationKey, chatId: number, reply: ReplyParameters, event: Extract<SessionEvent, { type: 'result' }>, progress: TurnProgress): Promise<void> {
    const caption = resultCaption(event.caption || progress.summary || 'Done', progress.elapsedMs(), event.texts);
    const keyboard = resultKeyboard(event.turnId, key);
    const sentIds: number[] = [];
    if (event.images.length === 0) {
      sentIds.push((await telegram.sendMessage(chatId, caption, { reply_parameters: reply, reply_markup: keyboard })).message_id);
    } else if (event.images.length === 1) {
      sentIds.push(await this.#sendImage(telegram, chatId, event.images[0]!, caption, reply, keyboard, event.turnId));
    } else {
      // Inline keyboards cannot ride on an album, so they follow in a short message.
      const album = await telegram.sendMediaGroup(
        chatId,
        event.images.map((img, i) => ({ type: 'photo' as const, media: Input.fromBuffer(img.bytes, `result-${event.turnId}-${i + 1}.${img.format === 'jpeg' ? 'jpg' : 'png'}`), ...(i === 0 ? { caption } : {}) })),
        { reply_parameters: multipartReply(reply) },
      );
      sentIds.push(...album.map((m) => m.message_id));
      this.#options.timings?.mark(event.turnId, 'sent', performance.now());
      sentIds.push((await telegram.sendMessage(chatId, `${event.images.length} results ↑`, { reply_markup: keyboard, ...(key.threadId ? { message_thread_id: Number(key.threadId) } : {}) })).message_id);
    }
    for (const id of sentIds) {
      this.#remember(`${chatId}:${id}`, event.turnId);
      await this.#options.sessions.linkMessage(key, event.turnId, String(id)).catch((err: unknown) => this.#log.warn({ err: describe(err) }, 'linkMessage failed'));
    }
  }

  async #sendImage(telegram: Context['telegram'], chatId: number, image: ResultImage, caption: string, reply: ReplyParameters, keyboard: InlineKeyboardMarkup | undefined, turnId?: number): Promise<number> {
    const name = `result${turnId !== undefined ? `-${turnId}` : ''}.${image.format === 'jpeg' ? 'jpg' : 'png'}`;
    const extra = { caption, reply_parameters: multipartReply(reply), ...(keyboard ? { reply_markup: keyboard } : {}) };
    const tooBigForPhoto = image.bytes.length > MAX_PHOTO_UPLOAD || image.width + image.height > 10_000 || Math.max(image.width, image.height) / Math.min(image.width, image.height) > 20;
    if (turnId !== undefined) this.#options.timings?.mark(turnId, 'sent', performance.now());
    const sent = tooBigForPhoto ? await telegram.sendDocument(chatId, Input.fromBuffer(image.bytes, name), extra) : await telegram.sendPhoto(chatId, Input.fromBuffer(image.bytes, name), extra);
    return sent.message_id;
  }

  #remember(messageKey: string, turnId: number): void {
    this.#resultTurns.set(messageKey, turnId);
    if (this.#resultTurns.size > 5000) this.#resultTurns.delete(this.#resultTurns.keys().next().value!);
  }

  async #commandReply(ctx: Context, reply: { ok: boolean; text: string; image?: ResultImage }): Promise<void> {
    const chatId = ctx.chat!.id;
    const replyTo = ctx.message ? { reply_parameters: { message_id: ctx.message.message_id, allow_sending_without_reply: true } } : {};
    if (reply.image) await this.#sendImage(ctx.telegram, chatId, reply.image, reply.text, replyTo.reply_parameters ?? { message_id: 0, allow_sending_without_reply: true }, undefined);
    else await ctx.telegram.sendMessage(chatId, reply.ok ? reply.text : `⚠️ ${reply.text}`, replyTo);
  }

  // ---- buttons ------------------------------------------------------------

  async #onButton(ctx: Context): Promise<void> {
    const receivedAt = performance.now();
    const query = ctx.callbackQuery!;
    const data = 'data' in query ? query.data : undefined;
    const [action, turnText, ownerId, thread] = (data ?? '').split(':');
    if (!action || !ACTIONS.has(action) || ownerId === undefined) return void (await ctx.answerCbQuery());
    if (String(ctx.from!.id) !== ownerId) {
      await ctx.answerCbQuery('These buttons belong to the person who asked for this edit.', { show_alert: true });
      return;
    }
    const key = this.#key(ctx, ownerId, thread || undefined);
    const turnId = Number(turnText) || undefined;
    const chatId = ctx.chat!.id;
    const messageId = query.message?.message_id;
    const reply: ReplyParameters = { message_id: messageId ?? 0, allow_sending_without_reply: true };
    try {
      switch (action as Action) {
        case 'cancel': {
          const r = await this.#options.sessions.cancel(key, String(ctx.from!.id), turnId);
          await ctx.answerCbQuery(r.text.slice(0, 190));
          return;
        }
        case 'undo': {
          await ctx.answerCbQuery('Undoing…');
          await this.#commandReply(ctx, await this.#options.sessions.undo(key));
          return;
        }
        case 'plan': {
          await ctx.answerCbQuery('Drawing the plan…');
          const plan = await this.#options.sessions.showPlan(key, turnId);
          if (!plan) return void (await ctx.telegram.sendMessage(chatId, 'There is no plan to show yet.', { reply_parameters: reply }));
          const png = await renderWorkflowPng(plan.workflow);
          await ctx.telegram.sendPhoto(chatId, Input.fromBuffer(png, `plan-${plan.turnId}.png`), { caption: `Plan of #${plan.turnId} (${plan.builder} Builder): ${plan.summary}`.slice(0, 1024), reply_parameters: multipartReply(reply) });
          await ctx.telegram.sendDocument(chatId, Input.fromBuffer(Buffer.from(JSON.stringify(plan.workflow, null, 2)), `plan-${plan.turnId}.json`), { reply_parameters: multipartReply(reply) });
          return;
        }
        case 'retry': {
          await ctx.answerCbQuery('Trying again…');
          const incoming: IncomingMessage = { ...key, messageId: `cb-${query.id}`, text: 'again', images: [], ...(turnId !== undefined ? { replyTo: { turnId, ...(messageId !== undefined ? { messageId: String(messageId) } : {}) } } : {}) };
          this.#turns.track(this.#handle(ctx.telegram, key, chatId, reply, incoming, receivedAt).catch((err: unknown) => this.#log.error({ err: describe(err) }, 'retry failed')));
          return;
        }
      }
    } catch (err) {
      this.#log.error({ err: describe(err) }, 'button action failed');
      await ctx.telegram.sendMessage(chatId, friendlyError(err), { reply_parameters: reply }).catch(() => undefined);
    }
  }
}

/** Caption of a result: the plan in one line, the total time, and any text results; within Telegram's 1024 characters. */
export function resultCaption(summary: string, elapsedMs: number, texts: readonly string[] = []): string {
  const caption = [`${summary} · ${seconds(elapsedMs)}`, ...texts].join('\n');
  return caption.length > 1024 ? `${caption.slice(0, 1023)}…` : caption;
}

/** Error details for logs without tokens: telegraf errors carry the request URL, which contains the bot token. */
export function describe(err: unknown): Record<string, unknown> {
  if (err instanceof LegoEditError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { name: err.name, message: err.message.replace(/bot\d+:[\w-]+/g, 'bot[redacted]'), stack: err.stack?.replace(/bot\d+:[\w-]+/g, 'bot[redacted]') };
  return { message: String(err) };
}
