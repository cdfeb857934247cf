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
import type { ConversationKey, IncomingImage, IncomingMessage } from '../../src/sessions/types.ts';
import { AccessPolicy, NOT_ALLOWED_TEXT } from '../shared/access.ts';
import { commandsFor } from '../shared/commands.ts';
import { type ChatController, type PlatformAdapterOptions, adapterController } from '../shared/controller.ts';
import { describe } from '../shared/describe.ts';
import { checkDeclaredSize, downloadCapped, mb, readLocalCapped } from '../shared/download.ts';
import type { Button, OutgoingFile, Surface } from '../shared/surface.ts';
import { RESTARTING_TEXT } from '../shared/texts.ts';

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

export interface TelegramAdapterOptions extends PlatformAdapterOptions {
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
  /** How long to wait for the rest of an album after its first photo. */
  readonly albumWaitMs?: number;
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

function keyboard(buttons: readonly Button[]): InlineKeyboardMarkup {
  return Markup.inlineKeyboard(buttons.length ? [buttons.map((b) => Markup.button.callback(`${b.emoji} ${b.label}`, b.data))] : []).reply_markup;
}

/** Telegram's caption limit; longer captions are cut with an ellipsis. */
const MAX_CAPTION = 1024;
const MAX_TEXT = 4096;

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Photos are recompressed by Telegram and limited in size and shape; anything else goes as a document. */
function asPhoto(file: OutgoingFile): boolean {
  if (!/\.(png|jpe?g)$/i.test(file.name) || file.bytes.length > MAX_PHOTO_UPLOAD) return false;
  const image = file.image;
  return !image || (image.width + image.height <= 10_000 && Math.max(image.width, image.height) / Math.min(image.width, image.height) <= 20);
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
  readonly #controller: ChatController;
  readonly #albums = new Map<string, PendingAlbum>();
  #launched: Promise<void> | undefined;
  #accepting = false;
  /** Albums already told that the bot is restarting, so a shutdown notice goes out once per album, not per photo. */
  readonly #noticedAlbums = new Set<string>();

  constructor(options: TelegramAdapterOptions) {
    this.#options = options;
    this.#access = new AccessPolicy(options.access ?? {});
    this.#log = options.logger.child({ adapter: 'telegram' });
    this.#controller = adapterController(this.platform, options, this.#log);
    this.bot = new Telegraf(options.token, { telegram: { ...(options.apiRoot ? { apiRoot: options.apiRoot } : {}) }, handlerTimeout: 30_000 });
    this.bot.catch((err) => this.#log.error({ err: describe(err) }, 'telegram update failed'));
    this.#register();
  }

  get apiRoot(): string {
    return this.#options.apiRoot ?? 'https://api.telegram.org';
  }

  /** Turns being handled right now. */
  get inFlight(): number {
    return this.#controller.inFlight;
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
    await this.bot.telegram.setMyCommands(commandsFor(this.platform).map((c) => ({ command: c.name, description: c.description })));
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
    return this.#controller.drain(timeoutMs);
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
    for (const command of commandsFor(this.platform)) {
      bot.command(command.name, async (ctx) => {
        const key = this.#key(ctx);
        await this.#controller.command(command.name, ctx.payload, key, this.#surface(ctx.telegram, key, ctx.message.message_id));
      });
    }
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
    this.#controller.track(this.#runTurn(ctx, key, parts, receivedAt));
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
    const surface = this.#surface(ctx.telegram, key, first.message_id);
    const text = this.#stripMention(parts.map((m) => m.text ?? m.caption ?? '').find(Boolean) ?? '');
    let images: IncomingImage[];
    try {
      images = await this.#imagesOf(ctx, parts);
    } catch (err) {
      return this.#controller.refuse(surface, err);
    }
    const repliedTo = first.reply_to_message;
    const replyToBot = repliedTo && repliedTo.from?.id === this.bot.botInfo?.id;
    const incoming: IncomingMessage = {
      ...key,
      userName: first.from?.username ?? first.from?.first_name,
      messageId: String(first.message_id),
      // Anonymous admins and channel posts all arrive under one shared bot id (GroupAnonymousBot, Channel_Bot).
      ...('sender_chat' in first && first.sender_chat ? { sharedIdentity: true } : {}),
      ...(text ? { text } : {}),
      images,
      ...(replyToBot ? { replyTo: { messageId: String(repliedTo.message_id) } } : {}),
    };
    await this.#controller.handle(incoming, surface, receivedAt);
  }

  /**
   * Where answers go in a chat: replies to `replyTo` (the user's message, or the message whose button
   * was pressed), one status message edited in place, results as photos or documents.
   */
  #surface(telegram: Context['telegram'], key: ConversationKey, replyTo: number | undefined): Surface {
    const chatId = Number(key.chatId);
    const reply: ReplyParameters | undefined = replyTo !== undefined ? { message_id: replyTo, allow_sending_without_reply: true } : undefined;
    const where = { ...(key.threadId ? { message_thread_id: Number(key.threadId) } : {}), ...(reply ? { reply_parameters: reply } : {}) };
    const upload = { ...(key.threadId ? { message_thread_id: Number(key.threadId) } : {}), ...(reply ? { reply_parameters: multipartReply(reply) } : {}) };
    let status: Promise<number | undefined> | undefined;
    const sendText = async (content: string, buttons: readonly Button[]): Promise<number> =>
      (await telegram.sendMessage(chatId, cut(content, MAX_TEXT), { ...where, ...(buttons.length ? { reply_markup: keyboard(buttons) } : {}) })).message_id;
    return {
      outcomeInStatus: false,
      text: async (content) => {
        await sendText(content, []);
      },
      status: async (content, buttons) => {
        if (!status) {
          status = sendText(content, buttons).catch((err: unknown) => {
            this.#log.warn({ err: describe(err) }, 'could not send the status message');
            return undefined;
          });
          await status;
          return;
        }
        const id = await status;
        if (id !== undefined) await telegram.editMessageText(chatId, id, undefined, cut(content, MAX_TEXT), { reply_markup: keyboard(buttons) });
      },
      send: async (content, files, buttons) => {
        if (!files.length) return [String(await sendText(content, buttons))];
        const caption = cut(content, MAX_CAPTION);
        if (files.length > 1 && files.every(asPhoto)) {
          const album = await telegram.sendMediaGroup(
            chatId,
            files.map((f, i) => ({ type: 'photo' as const, media: Input.fromBuffer(f.bytes, f.name), ...(i === 0 ? { caption } : {}) })),
            upload,
          );
          const ids = album.map((m) => String(m.message_id));
          // Inline keyboards cannot ride on an album, so they follow in a short message.
          if (buttons.length) ids.push(String((await telegram.sendMessage(chatId, `${files.length} results ↑`, { reply_markup: keyboard(buttons), ...(key.threadId ? { message_thread_id: Number(key.threadId) } : {}) })).message_id));
          return ids;
        }
        const ids: string[] = [];
        for (const [i, file] of files.entries()) {
          const extra = { ...upload, ...(i === 0 ? { caption } : {}), ...(i === files.length - 1 && buttons.length ? { reply_markup: keyboard(buttons) } : {}) };
          const media = Input.fromBuffer(file.bytes, file.name);
          ids.push(String((asPhoto(file) ? await telegram.sendPhoto(chatId, media, extra) : await telegram.sendDocument(chatId, media, extra)).message_id));
        }
        return ids;
      },
    };
  }

  async #onButton(ctx: Context): Promise<void> {
    const receivedAt = performance.now();
    const query = ctx.callbackQuery!;
    const messageId = query.message?.message_id;
    await this.#controller.press(
      {
        data: 'data' in query ? query.data : '',
        userId: String(ctx.from!.id),
        pressId: `cb-${query.id}`,
        ...(messageId !== undefined ? { messageId: String(messageId) } : {}),
        conversation: (ownerId, threadId) => this.#key(ctx, ownerId, threadId),
        notice: async (text, alert) => {
          await ctx.answerCbQuery(text, alert ? { show_alert: true } : {});
        },
        accept: async (text, key) => {
          await ctx.answerCbQuery(text);
          return this.#surface(ctx.telegram, key, messageId);
        },
      },
      receivedAt,
    );
  }
}
