/**
 * A fake Discord (REST + gateway) on 127.0.0.1 for tests and benchmarks.
 *
 * discord.js is pointed at it with `rest: { api: fake.apiUrl }` (DISCORD_API_URL);
 * `GET /gateway/bot` answers with this server's own ws:// gateway, so the client
 * connects, identifies and receives READY and GUILD_CREATE as from Discord. A test
 * acts as users: slash commands, button presses and channel messages arrive as
 * INTERACTION_CREATE and MESSAGE_CREATE dispatches; every REST request the bot
 * makes and every attachment download is recorded, and the messages it creates or
 * edits are kept for assertions.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { parseBody, serveFile, waitUntil, type FileDownload, type UploadedFile } from './chat-platform-http.ts';

export interface DiscordUser {
  readonly id: string;
  readonly username: string;
  readonly discriminator: string;
  readonly global_name: string | null;
  readonly avatar: null;
  readonly bot?: boolean;
}

export interface DiscordAttachment {
  readonly id: string;
  readonly filename: string;
  readonly size: number;
  readonly url: string;
  readonly proxy_url: string;
  readonly content_type?: string;
  readonly width?: number;
  readonly height?: number;
}

/** A message as the fake stores it: the API shape plus the uploaded bytes and edit history. */
export interface DiscordMessage {
  id: string;
  channel_id: string;
  guild_id?: string;
  author: DiscordUser;
  content: string;
  timestamp: string;
  edited_timestamp: string | null;
  tts: boolean;
  mention_everyone: boolean;
  mentions: DiscordUser[];
  mention_roles: string[];
  attachments: DiscordAttachment[];
  embeds: unknown[];
  components: Array<{ type: 1; components: Array<{ type: number; custom_id?: string; label?: string; style?: number; disabled?: boolean }> }>;
  pinned: boolean;
  type: number;
  flags: number;
  webhook_id?: string;
  application_id?: string;
  message_reference?: { message_id: string; channel_id: string; guild_id?: string };
  /** Every content this message has had (edits included). */
  history: string[];
  /** Bytes of each attachment, by attachment id. */
  files: Map<string, UploadedFile>;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly body: Record<string, unknown>;
  readonly files: UploadedFile[];
  readonly at: number;
}

export interface FakeDiscordOptions {
  readonly token?: string;
  readonly appId?: string;
  readonly guildId?: string;
  readonly channelId?: string;
  /**
   * Whether the app has the privileged Message Content intent enabled in the portal (default true). Without it,
   * identifying with it closes 4014, and as Discord documents, a client identified without it gets guild messages
   * with empty content, attachments, embeds and components unless they mention the bot.
   */
  readonly messageContentIntent?: boolean;
}

/** The gateway intent bit of Message Content (1 << 15). */
const MESSAGE_CONTENT_INTENT = 1 << 15;

export interface UserFile {
  readonly bytes: Buffer;
  readonly name: string;
  readonly contentType?: string;
  /** Size to declare instead of the real one (to test checks made before downloading). */
  readonly declaredSize?: number;
  /** Serve the body without a Content-Length, in pieces (to test the cap applied while downloading). */
  readonly chunked?: boolean;
  /** The URL the attachment claims instead of the fake's own (to test links the bot must not or cannot fetch). */
  readonly url?: string;
}

interface InteractionRecord {
  readonly id: string;
  readonly token: string;
  readonly channelId: string;
  acknowledged: boolean;
  originalId?: string;
  expired: boolean;
  /** Messages created by follow-ups (POST /webhooks/:app/:token). */
  readonly followUpIds: string[];
}

let sequence = 0;
function snowflake(): string {
  return String(((BigInt(Date.now()) - 1420070400000n) << 22n) | BigInt(sequence++ & 0x3fffff));
}

const EPHEMERAL = 64;

export class FakeDiscordServer {
  readonly token: string;
  readonly appId: string;
  readonly guildId: string;
  readonly channelId: string;
  readonly bot: DiscordUser;
  readonly requests: RecordedRequest[] = [];
  /** Commands registered through PUT, keyed "global" or the guild id. */
  readonly commands = new Map<string, unknown[]>();
  readonly messages = new Map<string, DiscordMessage>();
  /** Every GET of an attachment body, in order. */
  readonly downloads: FileDownload[] = [];
  readonly #server: Server;
  readonly #gateway: WebSocketServer;
  readonly #sockets = new Set<WebSocket>();
  readonly #interactions = new Map<string, InteractionRecord>();
  readonly #uploads = new Map<string, UploadedFile>();
  /** Attachment ids served without a Content-Length. */
  readonly #chunked = new Set<string>();
  #seq = 0;
  #identified = false;
  /** The intents the client identified with. */
  #intents = 0;
  readonly #messageContentIntent: boolean;
  /** While set, answers to the bot's POSTs of channel messages wait for it (the message already exists). */
  #held: Promise<void> | undefined;
  /** While true, the gateway is gone: sockets are dropped and new ones refused (a lost connection). */
  #gatewayDown = false;
  #port = 0;

  private constructor(options: FakeDiscordOptions) {
    this.token = options.token ?? `fake.${randomBytes(16).toString('hex')}`;
    this.appId = options.appId ?? snowflake();
    this.guildId = options.guildId ?? snowflake();
    this.channelId = options.channelId ?? snowflake();
    this.#messageContentIntent = options.messageContentIntent ?? true;
    this.bot = { id: this.appId, username: 'lego-edit', discriminator: '0', global_name: 'Lego-Edit', avatar: null, bot: true };
    this.#server = createServer((req, res) => {
      this.#route(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.#json(res, 500, { message: String(err), code: 0 });
      });
    });
    this.#gateway = new WebSocketServer({ server: this.#server, path: '/gateway' });
    this.#gateway.on('connection', (socket) => this.#onConnection(socket));
  }

  static async start(options: FakeDiscordOptions = {}): Promise<FakeDiscordServer> {
    const fake = new FakeDiscordServer(options);
    await new Promise<void>((resolve) => fake.#server.listen(0, '127.0.0.1', resolve));
    fake.#port = (fake.#server.address() as AddressInfo).port;
    return fake;
  }

  /** What to pass as discord.js's `rest.api` (and DISCORD_API_URL). */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.#port}/api`;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Whether a client has identified on the gateway (READY sent). */
  get ready(): boolean {
    return this.#identified;
  }

  async stop(): Promise<void> {
    for (const s of this.#sockets) s.terminate();
    await new Promise<void>((resolve) => this.#gateway.close(() => resolve()));
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // ---- acting as users -------------------------------------------------

  user(id: string, username = `user${id.slice(-4)}`): DiscordUser {
    return { id, username, discriminator: '0', global_name: username, avatar: null };
  }

  /** Invokes a slash command; attachments (UserFile values) become type-11 options. Returns the interaction token. */
  slashCommand(user: DiscordUser, name: string, options: Record<string, string | number | UserFile> = {}): string {
    const resolved: Record<string, DiscordAttachment> = {};
    const opts = Object.entries(options).map(([optName, value]) => {
      if (typeof value === 'object') {
        const attachment = this.#upload(value);
        resolved[attachment.id] = attachment;
        return { name: optName, type: 11, value: attachment.id };
      }
      return { name: optName, type: typeof value === 'number' ? 10 : 3, value };
    });
    const data = { id: snowflake(), name, type: 1, options: opts, ...(Object.keys(resolved).length ? { resolved: { attachments: resolved } } : {}) };
    return this.#interaction(user, 2, data);
  }

  /** Presses a button on a bot message. Returns the interaction token. */
  pressButton(user: DiscordUser, message: DiscordMessage, customId: string): string {
    return this.#interaction(user, 3, { custom_id: customId, component_type: 2 }, this.#wire(message));
  }

  /**
   * A user's channel message; `mention` prefixes a mention of the bot. A reply pings the author of the message
   * it answers unless `ping` is false; as on Discord, that ping is no mention when the message answered is an
   * interaction's response.
   */
  sendMessage(user: DiscordUser, content: string, options: { files?: UserFile[]; replyTo?: DiscordMessage; mention?: boolean; ping?: boolean } = {}): DiscordMessage {
    const text = options.mention ? `<@${this.bot.id}> ${content}` : content;
    const attachments = (options.files ?? []).map((f) => this.#upload(f));
    const pingsBot = options.replyTo?.author.id === this.bot.id && options.ping !== false && options.replyTo.webhook_id === undefined;
    const message = this.#store({
      channel_id: this.channelId,
      guild_id: this.guildId,
      author: user,
      content: text,
      mentions: options.mention || pingsBot ? [this.bot] : [],
      attachments,
      type: options.replyTo ? 19 : 0,
      ...(options.replyTo ? { message_reference: { message_id: options.replyTo.id, channel_id: options.replyTo.channel_id, guild_id: this.guildId } } : {}),
    });
    const readable = (this.#intents & MESSAGE_CONTENT_INTENT) !== 0 || message.mentions.some((u) => u.id === this.bot.id);
    const wire = { ...this.#wire(message), ...(readable ? {} : { content: '', attachments: [], embeds: [], components: [] }) };
    this.#dispatch('MESSAGE_CREATE', {
      ...wire,
      member: this.#member(user, false),
      ...(options.replyTo ? { referenced_message: this.#wire(options.replyTo) } : {}),
    });
    return message;
  }

  /**
   * From now on the bot's new channel messages are stored at once but answered only when the returned function is
   * called: a user can reply to a message before the bot has heard it was sent.
   */
  holdMessageResponses(): () => void {
    let release!: () => void;
    this.#held = new Promise<void>((resolve) => (release = resolve));
    return () => {
      this.#held = undefined;
      release();
    };
  }

  /** Makes an interaction's token invalid, as Discord does after 15 minutes. */
  expireInteraction(token: string): void {
    const record = this.#interactions.get(token);
    if (record) record.expired = true;
  }

  // ---- inspecting what the bot did --------------------------------------

  /** The response message of an interaction (deferred reply or component message), if any. */
  original(token: string): DiscordMessage | undefined {
    const id = this.#interactions.get(token)?.originalId;
    return id ? this.messages.get(id) : undefined;
  }

  /** Follow-up messages of an interaction that still exist, oldest first (the first one may have become the original). */
  followUps(token: string): DiscordMessage[] {
    return (this.#interactions.get(token)?.followUpIds ?? []).flatMap((id) => this.messages.get(id) ?? []);
  }

  /** Downloads of a user's attachment, by file name. */
  downloadsOf(name: string): FileDownload[] {
    return this.downloads.filter((d) => d.path.endsWith(`/${encodeURIComponent(name)}`));
  }

  waitForOriginal(token: string, predicate: (m: DiscordMessage) => boolean, timeoutMs?: number): Promise<DiscordMessage> {
    return waitUntil(
      () => {
        const m = this.original(token);
        return m && predicate(m) ? m : undefined;
      },
      `the original response of interaction ${token.slice(0, 8)} to match ${predicate.toString().slice(0, 120)}`,
      timeoutMs,
    );
  }

  /** Bot messages in the channel (ephemeral ones included), oldest first. */
  botMessages(channelId = this.channelId): DiscordMessage[] {
    return [...this.messages.values()].filter((m) => m.channel_id === channelId && m.author.id === this.bot.id).sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  }

  waitForBotMessage(predicate: (m: DiscordMessage) => boolean, options: { after?: string; timeoutMs?: number } = {}): Promise<DiscordMessage> {
    return waitUntil(
      () => this.botMessages().find((m) => (options.after === undefined || BigInt(m.id) > BigInt(options.after)) && predicate(m)),
      `a bot message matching ${predicate.toString().slice(0, 120)}`,
      options.timeoutMs,
    );
  }

  requestsTo(method: string, pathPattern: RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && pathPattern.test(r.path));
  }

  // ---- gateway ----------------------------------------------------------

  /** The gateway connection is lost and stays lost: open sockets are cut without a close frame, new ones refused. */
  dropGateway(): void {
    this.#gatewayDown = true;
    for (const s of this.#sockets) s.terminate();
  }

  #onConnection(socket: WebSocket): void {
    if (this.#gatewayDown) {
      socket.terminate();
      return;
    }
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.send(JSON.stringify({ op: 10, d: { heartbeat_interval: 41_250 }, s: null, t: null }));
    socket.on('message', (raw) => {
      const payload = JSON.parse(String(raw)) as { op: number; d: unknown };
      if (payload.op === 1) socket.send(JSON.stringify({ op: 11, d: null, s: null, t: null }));
      else if (payload.op === 2) this.#identify(socket, payload.d as { token?: string; intents?: number });
    });
  }

  #identify(socket: WebSocket, d: { token?: string; intents?: number }): void {
    if (d.token !== this.token && d.token !== `Bot ${this.token}`) {
      socket.close(4004, 'Authentication failed.');
      return;
    }
    if (!this.#messageContentIntent && ((d.intents ?? 0) & MESSAGE_CONTENT_INTENT) !== 0) {
      socket.close(4014, 'Disallowed intent(s).');
      return;
    }
    this.#identified = true;
    this.#intents = d.intents ?? 0;
    const send = (t: string, data: unknown): void => socket.send(JSON.stringify({ op: 0, t, s: ++this.#seq, d: data }));
    send('READY', {
      v: 10,
      user: { ...this.bot, verified: true, flags: 0, mfa_enabled: false },
      guilds: [{ id: this.guildId, unavailable: true }],
      session_id: randomBytes(8).toString('hex'),
      resume_gateway_url: `ws://127.0.0.1:${this.#port}/gateway`,
      application: { id: this.appId, flags: 0 },
      shard: [0, 1],
    });
    send('GUILD_CREATE', {
      id: this.guildId,
      name: 'Fake guild',
      icon: null,
      owner_id: snowflake(),
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      features: [],
      mfa_level: 0,
      system_channel_flags: 0,
      premium_tier: 0,
      preferred_locale: 'en-US',
      nsfw_level: 0,
      joined_at: new Date().toISOString(),
      large: false,
      unavailable: false,
      member_count: 3,
      roles: [{ id: this.guildId, name: '@everyone', permissions: '2248473465835073', position: 0, color: 0, hoist: false, managed: false, mentionable: false, flags: 0 }],
      emojis: [],
      stickers: [],
      members: [this.#member(this.bot, false)],
      channels: [{ id: this.channelId, type: 0, name: 'edits', position: 0, permission_overwrites: [], guild_id: this.guildId, nsfw: false, parent_id: null, last_message_id: null }],
      threads: [],
      presences: [],
      voice_states: [],
      stage_instances: [],
      guild_scheduled_events: [],
    });
  }

  #dispatch(t: string, d: unknown): void {
    const text = JSON.stringify({ op: 0, t, s: ++this.#seq, d });
    for (const s of this.#sockets) s.send(text);
  }

  #member(user: DiscordUser, withPermissions: boolean): Record<string, unknown> {
    return { user, roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0, nick: null, avatar: null, premium_since: null, pending: false, ...(withPermissions ? { permissions: '2248473465835073' } : {}) };
  }

  #interaction(user: DiscordUser, type: 2 | 3, data: unknown, message?: Record<string, unknown>): string {
    const id = snowflake();
    const token = `itoken-${randomBytes(16).toString('hex')}`;
    const record: InteractionRecord = { id, token, channelId: this.channelId, acknowledged: false, expired: false, followUpIds: [] };
    if (message) record.originalId = String(message.id);
    this.#interactions.set(token, record);
    this.#dispatch('INTERACTION_CREATE', {
      id,
      application_id: this.appId,
      type,
      data,
      guild_id: this.guildId,
      guild: { id: this.guildId, locale: 'en-US', features: [] },
      channel_id: this.channelId,
      channel: { id: this.channelId, type: 0, guild_id: this.guildId, name: 'edits' },
      member: this.#member(user, true),
      token,
      version: 1,
      app_permissions: '2248473465835073',
      locale: 'en-US',
      guild_locale: 'en-US',
      entitlements: [],
      authorizing_integration_owners: { '0': this.guildId },
      context: 0,
      ...(message ? { message } : {}),
    });
    return token;
  }

  #upload(file: UserFile): DiscordAttachment {
    const id = snowflake();
    const uploaded: UploadedFile = { field: id, name: file.name, type: file.contentType ?? 'application/octet-stream', bytes: file.bytes };
    this.#uploads.set(id, uploaded);
    if (file.chunked) this.#chunked.add(id);
    const url = file.url ?? `${this.origin}/attachments/${this.channelId}/${id}/${encodeURIComponent(file.name)}`;
    return { id, filename: file.name, size: file.declaredSize ?? file.bytes.length, url, proxy_url: url, ...(file.contentType ? { content_type: file.contentType } : {}), width: 64, height: 64 };
  }

  #store(partial: Partial<DiscordMessage> & Pick<DiscordMessage, 'channel_id' | 'author' | 'content'>): DiscordMessage {
    const message: DiscordMessage = {
      id: snowflake(),
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: [],
      embeds: [],
      components: [],
      pinned: false,
      type: 0,
      flags: 0,
      history: [],
      files: new Map(),
      ...partial,
    };
    message.history.push(message.content);
    this.messages.set(message.id, message);
    return message;
  }

  #wire(m: DiscordMessage): Record<string, unknown> {
    const { history: _h, files: _f, ...rest } = m;
    return rest;
  }

  // ---- REST -------------------------------------------------------------

  #json(res: ServerResponse, status: number, body: unknown): void {
    if (status === 204) {
      res.writeHead(204);
      res.end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    const method = req.method ?? 'GET';
    const attachment = /^\/attachments\/\d+\/(\d+)\//.exec(url.pathname);
    if (method === 'GET' && attachment) {
      const file = this.#uploads.get(attachment[1]!);
      if (!file) return this.#json(res, 404, { message: 'Not Found', code: 0 });
      this.downloads.push(serveFile(res, url.pathname, file.bytes, { contentType: file.type, chunked: this.#chunked.has(attachment[1]!) }));
      return;
    }
    const api = /^\/api\/v\d+(\/.*)$/.exec(url.pathname);
    if (!api) return this.#json(res, 404, { message: '404: Not Found', code: 0 });
    const path = decodeURIComponent(api[1]!);
    const parsed = await parseBody(req);
    const body = typeof parsed.fields.payload_json === 'string' ? (JSON.parse(parsed.fields.payload_json) as Record<string, unknown>) : parsed.fields;
    this.requests.push({ method, path, query: Object.fromEntries(url.searchParams), body, files: parsed.files, at: performance.now() });
    const webhookRoute = /^\/(?:webhooks\/\d+\/([^/]+)|interactions\/\d+\/([^/]+)\/callback)/.exec(path);
    const authRequired = !webhookRoute;
    if (authRequired && req.headers.authorization !== `Bot ${this.token}`) return this.#json(res, 401, { message: '401: Unauthorized', code: 0 });
    const out = this.#handle(method, path, url.searchParams, body, parsed.files);
    const held = this.#held;
    if (held && method === 'POST' && /^\/channels\/\d+\/messages$/.test(path)) await held;
    this.#json(res, out.status, out.body);
  }

  #handle(method: string, path: string, query: URLSearchParams, body: Record<string, unknown>, files: UploadedFile[]): { status: number; body: unknown } {
    let m: RegExpExecArray | null;
    if (method === 'GET' && path === '/gateway/bot') {
      return { status: 200, body: { url: `ws://127.0.0.1:${this.#port}/gateway`, shards: 1, session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 } } };
    }
    if (method === 'GET' && path === '/gateway') return { status: 200, body: { url: `ws://127.0.0.1:${this.#port}/gateway` } };
    if ((m = /^\/applications\/(\d+)(?:\/guilds\/(\d+))?\/commands$/.exec(path))) {
      const key = m[2] ?? 'global';
      if (method === 'PUT') {
        const list = (Array.isArray(body) ? body : Object.values(body)) as Array<Record<string, unknown>>;
        const registered = list.map((c) => ({ id: snowflake(), application_id: this.appId, version: snowflake(), type: 1, ...c, ...(m![2] ? { guild_id: m![2] } : {}) }));
        this.commands.set(key, registered);
        return { status: 200, body: registered };
      }
      if (method === 'GET') return { status: 200, body: this.commands.get(key) ?? [] };
    }
    if (method === 'POST' && (m = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(path))) {
      const record = this.#interactions.get(m[2]!);
      if (!record) return { status: 404, body: { message: 'Unknown interaction', code: 10062 } };
      if (record.acknowledged) return { status: 400, body: { message: 'Interaction has already been acknowledged.', code: 40060 } };
      record.acknowledged = true;
      const type = Number(body.type);
      const data = (body.data ?? {}) as Record<string, unknown>;
      let message: DiscordMessage | undefined;
      if (type === 4 || type === 5) {
        message = this.#store({ channel_id: record.channelId, guild_id: this.guildId, author: this.bot, content: '', webhook_id: this.appId, application_id: this.appId, type: 20, flags: Number(data.flags ?? 0) | (type === 5 ? 128 : 0) });
        record.originalId = message.id;
        if (type === 4) this.#applyEdit(message, data, files);
      } else if (type === 7 && record.originalId) {
        message = this.messages.get(record.originalId);
        if (message) this.#applyEdit(message, data, files);
      } else if (type === 6 && record.originalId) {
        message = this.messages.get(record.originalId);
      }
      if (query.get('with_response') === 'true') {
        return { status: 200, body: { interaction: { id: record.id, type: 2, response_message_id: message?.id, response_message_loading: type === 5, response_message_ephemeral: Boolean((message?.flags ?? 0) & EPHEMERAL) }, resource: { type, ...(message ? { message: this.#wire(message) } : {}) } } };
      }
      return { status: 204, body: undefined };
    }
    if ((m = /^\/webhooks\/(\d+)\/([^/]+)(?:\/messages\/([^/]+))?$/.exec(path))) {
      const record = this.#interactions.get(m[2]!);
      if (!record || record.expired) return { status: 401, body: { message: 'Invalid Webhook Token', code: 50027 } };
      const which = m[3];
      if (which === undefined && method === 'POST') {
        // As Discord does: the first follow-up after a deferral replaces the "thinking…" message and
        // keeps the deferral's visibility, whatever flags it asks for.
        const loading = record.originalId ? this.messages.get(record.originalId) : undefined;
        if (loading && loading.flags & 128) {
          const { flags: _ignored, ...rest } = body;
          this.#applyEdit(loading, rest, files);
          loading.flags &= ~128;
          record.followUpIds.push(loading.id);
          return { status: 200, body: this.#wire(loading) };
        }
        const message = this.#store({ channel_id: record.channelId, guild_id: this.guildId, author: this.bot, content: '', webhook_id: this.appId, application_id: this.appId, type: 0, flags: Number(body.flags ?? 0) });
        this.#applyEdit(message, body, files);
        record.followUpIds.push(message.id);
        return { status: 200, body: this.#wire(message) };
      }
      const id = which === '@original' ? record.originalId : which;
      const message = id ? this.messages.get(id) : undefined;
      if (!message) return { status: 404, body: { message: 'Unknown Message', code: 10008 } };
      if (method === 'PATCH') {
        this.#applyEdit(message, body, files);
        message.flags &= ~128;
        return { status: 200, body: this.#wire(message) };
      }
      if (method === 'GET') return { status: 200, body: this.#wire(message) };
      if (method === 'DELETE') {
        this.messages.delete(message.id);
        return { status: 204, body: undefined };
      }
    }
    if ((m = /^\/channels\/(\d+)\/messages(?:\/(\d+))?$/.exec(path))) {
      if (method === 'POST' && !m[2]) {
        const ref = body.message_reference as { message_id?: string } | undefined;
        const message = this.#store({ channel_id: m[1]!, guild_id: this.guildId, author: this.bot, content: '', ...(ref?.message_id ? { type: 19, message_reference: { message_id: ref.message_id, channel_id: m[1]! } } : {}) });
        this.#applyEdit(message, body, files);
        return { status: 200, body: this.#wire(message) };
      }
      const message = m[2] ? this.messages.get(m[2]) : undefined;
      if (!message) return { status: 404, body: { message: 'Unknown Message', code: 10008 } };
      if (method === 'PATCH') {
        this.#applyEdit(message, body, files);
        return { status: 200, body: this.#wire(message) };
      }
      if (method === 'GET') return { status: 200, body: this.#wire(message) };
    }
    if (method === 'POST' && /^\/channels\/\d+\/typing$/.test(path)) return { status: 204, body: undefined };
    return { status: 404, body: { message: `404: Not Found (${method} ${path} is not implemented by the fake)`, code: 0 } };
  }

  #applyEdit(message: DiscordMessage, body: Record<string, unknown>, files: UploadedFile[]): void {
    if (typeof body.content === 'string' && body.content !== message.content) {
      message.content = body.content;
      message.history.push(body.content);
    }
    if (Array.isArray(body.components)) message.components = body.components as DiscordMessage['components'];
    if (Array.isArray(body.embeds)) message.embeds = body.embeds as unknown[];
    if (body.flags !== undefined) message.flags = (message.flags & 128) | Number(body.flags);
    if (Array.isArray(body.attachments) || files.length) {
      const declared = (Array.isArray(body.attachments) ? body.attachments : []) as Array<{ id: string | number; filename?: string }>;
      const next: DiscordAttachment[] = [];
      const nextFiles = new Map<string, UploadedFile>();
      for (const d of declared) {
        const kept = message.attachments.find((a) => a.id === String(d.id));
        if (kept) {
          next.push(kept);
          const f = message.files.get(kept.id);
          if (f) nextFiles.set(kept.id, f);
        }
      }
      files.forEach((file, index) => {
        const id = snowflake();
        const meta = declared.find((d) => String(d.id) === String(index));
        const name = meta?.filename ?? file.name;
        const url = `${this.origin}/attachments/${message.channel_id}/${id}/${encodeURIComponent(name)}`;
        this.#uploads.set(id, file);
        next.push({ id, filename: name, size: file.bytes.length, url, proxy_url: url, content_type: file.type });
        nextFiles.set(id, file);
      });
      message.attachments = next;
      message.files = nextFiles;
    }
    message.edited_timestamp = new Date().toISOString();
  }
}
