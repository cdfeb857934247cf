/**
 * A fake Telegram Bot API server on 127.0.0.1 for tests and benchmarks.
 *
 * The bot under test talks to it through telegraf with
 * `new Telegraf(token, { telegram: { apiRoot: fake.apiRoot } })`, exactly as it
 * would to a self-hosted Bot API server. The fake records every call the bot
 * makes and every file download, and lets a test act as a user: send text,
 * photos, documents and albums, reply to messages and press inline buttons.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { parseBody, serveFile, waitUntil, type FileDownload, type UploadedFile } from './chat-platform-http.ts';

export interface TelegramUser {
  readonly id: number;
  readonly is_bot: boolean;
  readonly first_name: string;
  readonly username?: string;
}

export interface TelegramChat {
  readonly id: number;
  readonly type: 'private' | 'group' | 'supergroup';
  readonly title?: string;
  readonly first_name?: string;
}

/** A message as the fake stores it (a superset of what the Bot API returns). */
export interface StoredMessage {
  message_id: number;
  date: number;
  chat: TelegramChat;
  from: TelegramUser;
  text?: string;
  caption?: string;
  entities?: unknown[];
  caption_entities?: unknown[];
  photo?: Array<{ file_id: string; file_unique_id: string; width: number; height: number; file_size?: number }>;
  document?: { file_id: string; file_unique_id: string; file_name?: string; mime_type?: string; file_size?: number };
  media_group_id?: string;
  reply_to_message?: StoredMessage;
  reply_markup?: { inline_keyboard?: Array<Array<{ text: string; callback_data?: string }>> };
  /** Bytes of a photo or document the bot sent, for assertions. */
  upload?: UploadedFile;
  /** Every text or caption this message has had, in order (edits included). */
  history: string[];
}

/** One Bot API call the bot made. */
export interface RecordedCall {
  readonly method: string;
  readonly params: Record<string, unknown>;
  readonly files: UploadedFile[];
  readonly at: number;
  readonly result?: unknown;
}

interface StoredFile {
  readonly bytes: Buffer;
  readonly path: string;
  readonly uniqueId: string;
  /** The size messages and getFile report; omitted when null. */
  readonly declaredSize: number | null;
  /** Served without a Content-Length, in pieces. */
  readonly chunked: boolean;
}

/** How a user's file is presented: to test the size checks made before and during a download. */
export interface FileOptions {
  /** Size to report instead of the real one; null leaves file_size out (Telegram marks it optional). */
  readonly declaredSize?: number | null;
  /** Stream the body without a Content-Length, so only the bytes received can tell its size. */
  readonly chunked?: boolean;
}

export interface FakeTelegramOptions {
  readonly token?: string;
  readonly botUsername?: string;
  /** Largest file getFile will serve (the real cloud API's 20 MB limit by default). */
  readonly maxDownloadBytes?: number;
}

const PHOTO_META = { width: 64, height: 64 };

export class FakeTelegramBotApi {
  readonly token: string;
  readonly bot: TelegramUser;
  /** Every Bot API call except getUpdates, which would drown the record. */
  readonly calls: RecordedCall[] = [];
  /** How many getUpdates (long-polling) requests arrived. */
  polls = 0;
  /** Where webhook-mode updates are delivered; long polling when undefined. */
  webhookTarget: string | undefined;
  webhookSecret: string | undefined;
  /** setWebhook's URL as the bot registered it. */
  webhookUrl: string | undefined;
  /** Every GET of a file body, in order. */
  readonly downloads: FileDownload[] = [];
  /** Largest file getFile serves; above it getFile fails with "file is too big", as the cloud Bot API does. */
  maxDownloadBytes: number;
  /**
   * Answer getFile as a self-hosted server in --local mode does: an absolute path on the
   * server's disk instead of a path under /file/bot<token>/.
   */
  localMode = false;
  /** In --local mode, where the server keeps files (its --dir): getFile writes the file there and answers that path. */
  localDir: string | undefined;
  /** Methods whose answers are held back (ms), e.g. to keep a result upload in flight across a shutdown. */
  readonly delays = new Map<string, number>();
  readonly #server: Server;
  readonly #files = new Map<string, StoredFile>();
  readonly #messages = new Map<string, StoredMessage>();
  readonly #nextMessageId = new Map<number, number>();
  readonly #pending: Array<Record<string, unknown>> = [];
  readonly #pollers = new Set<() => void>();
  #nextUpdateId = 1;
  #port = 0;

  private constructor(options: FakeTelegramOptions) {
    this.token = options.token ?? `123456:${randomBytes(12).toString('hex')}`;
    this.bot = { id: Number(this.token.split(':')[0]) || 123456, is_bot: true, first_name: 'Lego-Edit', username: options.botUsername ?? 'lego_edit_bot' };
    this.maxDownloadBytes = options.maxDownloadBytes ?? 20 * 1024 * 1024;
    this.#server = createServer((req, res) => {
      this.#route(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.#json(res, 500, { ok: false, error_code: 500, description: String(err) });
      });
    });
  }

  static async start(options: FakeTelegramOptions = {}): Promise<FakeTelegramBotApi> {
    const fake = new FakeTelegramBotApi(options);
    await new Promise<void>((resolve) => fake.#server.listen(0, '127.0.0.1', resolve));
    fake.#port = (fake.#server.address() as AddressInfo).port;
    return fake;
  }

  /** What to pass as telegraf's `apiRoot` (and TELEGRAM_API_ROOT). */
  get apiRoot(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async stop(): Promise<void> {
    for (const wake of this.#pollers) wake();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // ---- acting as a user -------------------------------------------------

  user(id: number, name = `user${id}`): TelegramUser {
    return { id, is_bot: false, first_name: name, username: name };
  }

  privateChat(user: TelegramUser): TelegramChat {
    return { id: user.id, type: 'private', first_name: user.first_name };
  }

  groupChat(id: number, title = 'group'): TelegramChat {
    return { id, type: 'supergroup', title };
  }

  /** Registers bytes as a downloadable file and returns its file_id. */
  addFile(bytes: Buffer, ext = 'jpg', options: FileOptions = {}): string {
    const fileId = `file-${randomBytes(8).toString('hex')}`;
    const declaredSize = options.declaredSize === undefined ? bytes.length : options.declaredSize;
    this.#files.set(fileId, { bytes, path: `photos/${fileId}.${ext}`, uniqueId: `u${fileId}`, declaredSize, chunked: Boolean(options.chunked) });
    return fileId;
  }

  /** The file_size field for a file: its declared size, or nothing. */
  #sizeField(fileId: string): { file_size?: number } {
    const size = this.#files.get(fileId)?.declaredSize;
    return size === null || size === undefined ? {} : { file_size: size };
  }

  /** Downloads of one file's body (by file_id). */
  downloadsOf(fileId: string): FileDownload[] {
    const path = this.#files.get(fileId)?.path;
    return this.downloads.filter((d) => d.path === path);
  }

  /** Updates queued for long polling that the bot has not confirmed (they would reach its next start). */
  pendingUpdates(): Array<Record<string, unknown>> {
    return [...this.#pending];
  }

  sendText(from: TelegramUser, chat: TelegramChat, text: string, options: { replyTo?: number } = {}): StoredMessage {
    const command = /^\/\w+(@\w+)?/.exec(text);
    const entities: unknown[] = command ? [{ type: 'bot_command', offset: 0, length: command[0].length }] : mentionEntities(text);
    return this.#userMessage(from, chat, { text, ...(entities.length ? { entities } : {}) }, options.replyTo);
  }

  /** A compressed photo (Telegram offers several sizes; the largest is the original). */
  sendPhoto(from: TelegramUser, chat: TelegramChat, bytes: Buffer, caption?: string, options: { replyTo?: number; mediaGroupId?: string } & FileOptions = {}): StoredMessage {
    const fileId = this.addFile(bytes, 'jpg', options);
    const small = this.addFile(bytes.subarray(0, Math.min(bytes.length, 100)));
    const photo = [
      { file_id: small, file_unique_id: `u${small}`, width: 16, height: 16, file_size: Math.min(bytes.length, 100) },
      { file_id: fileId, file_unique_id: `u${fileId}`, ...PHOTO_META, ...this.#sizeField(fileId) },
    ];
    return this.#userMessage(from, chat, { photo, ...(caption !== undefined ? { caption, caption_entities: mentionEntities(caption) } : {}), ...(options.mediaGroupId ? { media_group_id: options.mediaGroupId } : {}) }, options.replyTo);
  }

  /** A file sent "as document" (uncompressed). */
  sendDocument(from: TelegramUser, chat: TelegramChat, bytes: Buffer, fileName: string, mime: string, caption?: string, options: FileOptions = {}): StoredMessage {
    const fileId = this.addFile(bytes, fileName.split('.').pop() ?? 'bin', options);
    const document = { file_id: fileId, file_unique_id: `u${fileId}`, file_name: fileName, mime_type: mime, ...this.#sizeField(fileId) };
    return this.#userMessage(from, chat, { document, ...(caption !== undefined ? { caption, caption_entities: mentionEntities(caption) } : {}) });
  }

  /** An album: several photo messages sharing a media_group_id, the caption on the first. */
  sendAlbum(from: TelegramUser, chat: TelegramChat, photos: Buffer[], caption?: string): StoredMessage[] {
    const group = `album-${randomBytes(6).toString('hex')}`;
    return photos.map((bytes, i) => this.sendPhoto(from, chat, bytes, i === 0 ? caption : undefined, { mediaGroupId: group }));
  }

  /** Presses an inline button on one of the bot's messages; returns the callback query id. */
  pressButton(from: TelegramUser, message: StoredMessage, data: string): string {
    const id = randomBytes(8).toString('hex');
    this.#inject({ callback_query: { id, from, chat_instance: String(message.chat.id), message: this.#wire(message), data } });
    return id;
  }

  // ---- inspecting what the bot did --------------------------------------

  callsOf(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Messages the bot has sent in a chat, oldest first. */
  botMessages(chatId: number): StoredMessage[] {
    return [...this.#messages.values()].filter((m) => m.chat.id === chatId && m.from.id === this.bot.id).sort((a, b) => a.message_id - b.message_id);
  }

  message(chatId: number, messageId: number): StoredMessage | undefined {
    return this.#messages.get(`${chatId}:${messageId}`);
  }

  /** Waits for a bot message in `chatId` (sent after `afterId`) satisfying `predicate`. */
  waitForBotMessage(chatId: number, predicate: (m: StoredMessage) => boolean, options: { afterId?: number; timeoutMs?: number } = {}): Promise<StoredMessage> {
    return waitUntil(
      () => this.botMessages(chatId).find((m) => m.message_id > (options.afterId ?? 0) && predicate(m)),
      `a bot message in chat ${chatId} matching ${predicate.toString().slice(0, 120)}`,
      options.timeoutMs,
    );
  }

  waitForCall(method: string, predicate: (c: RecordedCall) => boolean = () => true, options: { after?: number; timeoutMs?: number } = {}): Promise<RecordedCall> {
    return waitUntil(() => this.calls.slice(options.after ?? 0).find((c) => c.method === method && predicate(c)), `a ${method} call`, options.timeoutMs);
  }

  // ---- the server ------------------------------------------------------

  #userMessage(from: TelegramUser, chat: TelegramChat, content: Partial<StoredMessage>, replyTo?: number): StoredMessage {
    const message: StoredMessage = { message_id: this.#messageId(chat.id), date: Math.floor(Date.now() / 1000), chat, from, history: [], ...content };
    if (replyTo !== undefined) {
      const target = this.#messages.get(`${chat.id}:${replyTo}`);
      if (!target) throw new Error(`no message ${replyTo} in chat ${chat.id} to reply to`);
      message.reply_to_message = target;
    }
    message.history.push(message.text ?? message.caption ?? '');
    this.#messages.set(`${chat.id}:${message.message_id}`, message);
    this.#inject({ message: this.#wire(message) });
    return message;
  }

  #messageId(chatId: number): number {
    const id = (this.#nextMessageId.get(chatId) ?? 0) + 1;
    this.#nextMessageId.set(chatId, id);
    return id;
  }

  /** The Bot API JSON form of a stored message (without the fake's bookkeeping). */
  #wire(m: StoredMessage): Record<string, unknown> {
    const { upload: _upload, history: _history, reply_to_message, ...rest } = m;
    return { ...rest, ...(reply_to_message ? { reply_to_message: this.#wire({ ...reply_to_message, reply_to_message: undefined }) } : {}) };
  }

  #inject(update: Record<string, unknown>): void {
    const full = { update_id: this.#nextUpdateId++, ...update };
    if (this.webhookTarget) {
      void fetch(this.webhookTarget, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(this.webhookSecret ? { 'x-telegram-bot-api-secret-token': this.webhookSecret } : {}) },
        body: JSON.stringify(full),
      }).catch(() => undefined);
      return;
    }
    this.#pending.push(full);
    for (const wake of this.#pollers) wake();
  }

  #json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.apiRoot);
    const filePrefix = `/file/bot${this.token}/`;
    if (req.method === 'GET' && url.pathname.startsWith(filePrefix)) {
      const path = decodeURIComponent(url.pathname.slice(filePrefix.length));
      const file = [...this.#files.values()].find((f) => f.path === path);
      if (!file) return this.#json(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
      this.downloads.push(serveFile(res, path, file.bytes, { contentType: 'application/octet-stream', chunked: file.chunked }));
      return;
    }
    const m = /^\/bot([^/]+)\/(\w+)$/.exec(url.pathname);
    if (!m) return this.#json(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    if (m[1] !== this.token) return this.#json(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
    const method = m[2]!;
    const { fields, files } = await parseBody(req);
    for (const [k, v] of url.searchParams) fields[k] ??= v;
    const params = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, decodeField(v)]));
    const call: { -readonly [K in keyof RecordedCall]: RecordedCall[K] } = { method, params, files, at: performance.now() };
    if (method === 'getUpdates') this.polls++;
    else this.calls.push(call);
    const held = this.delays.get(method);
    if (held) await delay(held);
    const outcome = await this.#handle(method, params, files);
    if ('error' in outcome) return this.#json(res, outcome.status, { ok: false, error_code: outcome.status, description: outcome.error });
    call.result = outcome.result;
    this.#json(res, 200, { ok: true, result: outcome.result });
  }

  async #handle(method: string, p: Record<string, unknown>, files: UploadedFile[]): Promise<{ result: unknown } | { error: string; status: number }> {
    const chatId = Number(p.chat_id);
    const fileFor = (field: string): UploadedFile | undefined => {
      const v = p[field];
      if (typeof v === 'string' && v.startsWith('attach://')) return files.find((f) => f.field === v.slice('attach://'.length));
      return files.find((f) => f.field === field);
    };
    switch (method) {
      case 'getMe':
        return { result: this.bot };
      case 'getUpdates': {
        const offset = Number(p.offset ?? 0);
        const drop = (): void => {
          while (this.#pending.length && Number(this.#pending[0]!.update_id) < offset) this.#pending.shift();
        };
        drop();
        if (!this.#pending.length && Number(p.timeout ?? 0) > 0) {
          await new Promise<void>((resolve) => {
            const wake = (): void => {
              clearTimeout(timer);
              this.#pollers.delete(wake);
              resolve();
            };
            const timer = setTimeout(wake, Math.min(Number(p.timeout) * 1000, 5_000));
            this.#pollers.add(wake);
          });
          drop();
        }
        const limit = Number(p.limit ?? 100);
        return { result: this.#pending.slice(0, limit) };
      }
      case 'deleteWebhook':
        this.webhookUrl = undefined;
        return { result: true };
      case 'setWebhook':
        this.webhookUrl = String(p.url);
        this.webhookSecret = p.secret_token === undefined ? undefined : String(p.secret_token);
        return { result: true };
      case 'setMyCommands':
      case 'answerCallbackQuery':
      case 'sendChatAction':
      case 'deleteMessage':
        return { result: true };
      case 'getFile': {
        const file = this.#files.get(String(p.file_id));
        if (!file) return { error: 'Bad Request: invalid file_id', status: 400 };
        // A --local server has no download limit: that is what it is run for.
        if (file.bytes.length > this.maxDownloadBytes && !this.localMode) return { error: 'Bad Request: file is too big', status: 400 };
        // Relative, as the cloud Bot API returns it (telegraf resolves it against apiRoot); absolute in --local mode.
        let filePath = file.path;
        if (this.localMode) {
          filePath = join(this.localDir ?? '/var/lib/telegram-bot-api', this.token, file.path);
          if (this.localDir) {
            await mkdir(dirname(filePath), { recursive: true });
            await writeFile(filePath, file.bytes);
          }
        }
        return { result: { file_id: p.file_id, file_unique_id: file.uniqueId, ...this.#sizeField(String(p.file_id)), file_path: filePath } };
      }
      case 'sendMessage':
        return { result: this.#botSend(chatId, { text: String(p.text ?? '') }, p) };
      case 'sendPhoto':
      case 'sendDocument': {
        const field = method === 'sendPhoto' ? 'photo' : 'document';
        const upload = fileFor(field);
        if (!upload) return { error: `Bad Request: there is no ${field} in the request`, status: 400 };
        const content: Partial<StoredMessage> = { upload, ...(p.caption !== undefined ? { caption: String(p.caption) } : {}) };
        const id = this.addFile(upload.bytes);
        if (field === 'photo') content.photo = [{ file_id: id, file_unique_id: `u${id}`, ...PHOTO_META, file_size: upload.bytes.length }];
        else content.document = { file_id: id, file_unique_id: `u${id}`, file_name: upload.name, mime_type: upload.type, file_size: upload.bytes.length };
        return { result: this.#botSend(chatId, content, p) };
      }
      case 'sendMediaGroup': {
        const media = (Array.isArray(p.media) ? p.media : []) as Array<{ type: string; media: string; caption?: string }>;
        const group = `bot-album-${randomBytes(4).toString('hex')}`;
        const sent = media.map((item) => {
          const upload = item.media.startsWith('attach://') ? files.find((f) => f.field === item.media.slice('attach://'.length)) : undefined;
          const id = this.addFile(upload?.bytes ?? Buffer.alloc(0));
          return this.#botSend(chatId, { media_group_id: group, ...(upload ? { upload } : {}), ...(item.caption !== undefined ? { caption: item.caption } : {}), photo: [{ file_id: id, file_unique_id: `u${id}`, ...PHOTO_META, file_size: upload?.bytes.length ?? 0 }] }, { reply_parameters: p.reply_parameters, reply_to_message_id: p.reply_to_message_id });
        });
        return { result: sent };
      }
      case 'editMessageText':
      case 'editMessageCaption':
      case 'editMessageReplyMarkup': {
        const message = this.#messages.get(`${chatId}:${Number(p.message_id)}`);
        if (!message) return { error: 'Bad Request: message to edit not found', status: 400 };
        const next = method === 'editMessageText' ? String(p.text) : method === 'editMessageCaption' ? String(p.caption ?? '') : undefined;
        const current = method === 'editMessageText' ? message.text : message.caption;
        const sameMarkup = JSON.stringify(p.reply_markup ?? null) === JSON.stringify(message.reply_markup ?? null);
        if ((next === undefined || next === current) && sameMarkup) return { error: 'Bad Request: message is not modified', status: 400 };
        if (method === 'editMessageText') message.text = next;
        if (method === 'editMessageCaption') message.caption = next;
        if (next !== undefined) message.history.push(next);
        if (p.reply_markup !== undefined || method !== 'editMessageReplyMarkup') message.reply_markup = p.reply_markup as StoredMessage['reply_markup'];
        return { result: this.#wire(message) };
      }
      default:
        return { error: `Not Found: method ${method} not implemented by the fake`, status: 404 };
    }
  }

  #botSend(chatId: number, content: Partial<StoredMessage>, p: Record<string, unknown>): Record<string, unknown> {
    const chat = [...this.#messages.values()].find((m) => m.chat.id === chatId)?.chat ?? { id: chatId, type: 'private' as const };
    const message: StoredMessage = { message_id: this.#messageId(chatId), date: Math.floor(Date.now() / 1000), chat, from: this.bot, history: [], ...content };
    if (p.reply_markup !== undefined) message.reply_markup = p.reply_markup as StoredMessage['reply_markup'];
    const replyTo = (p.reply_parameters as { message_id?: number } | undefined)?.message_id ?? (p.reply_to_message_id as number | undefined);
    if (replyTo !== undefined) {
      const target = this.#messages.get(`${chatId}:${Number(replyTo)}`);
      if (target) message.reply_to_message = target;
    }
    message.history.push(message.text ?? message.caption ?? '');
    this.#messages.set(`${chatId}:${message.message_id}`, message);
    return this.#wire(message);
  }
}

function mentionEntities(text: string): unknown[] {
  return [...text.matchAll(/@\w+/g)].map((m) => ({ type: 'mention', offset: m.index, length: m[0].length }));
}

/** Multipart and query fields arrive as strings; objects (reply_markup, media) as JSON text. */
function decodeField(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const t = v.trim();
  if ((t.startsWith('{') && t.endsWith('}')) || (t.startsWith('[') && t.endsWith(']'))) {
    try {
      return JSON.parse(t) as unknown;
    } catch {
      return v;
    }
  }
  return v;
}
