/**
 * The Discord adapter: slash commands, mentions with attachments and replies in;
 * session-manager calls out; progress as edits of the deferred reply (or of a
 * status message for mentions), then the result with buttons. Interaction tokens
 * last 15 minutes, so a turn that outlives its token continues as a normal
 * channel message.
 */
import {
  ActionRowBuilder,
  AttachmentBuilder,
  ButtonBuilder,
  ButtonStyle,
  Client,
  DiscordAPIError,
  Events,
  GatewayIntentBits,
  MessageFlags,
  Partials,
  Routes,
  SlashCommandBuilder,
  type Attachment,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Interaction,
  type Message,
  type MessageCreateOptions,
  type MessageEditOptions,
  type SendableChannels,
} from 'discord.js';
import type { Logger } from 'pino';
import { UnreadableImageError } from '../../src/engine/errors.ts';
import type { ConversationKey, IncomingImage, IncomingMessage } from '../../src/sessions/types.ts';
import { AccessPolicy, NOT_ALLOWED_TEXT } from '../shared/access.ts';
import { commandsFor } from '../shared/commands.ts';
import { type ChatController, type PlatformAdapterOptions, adapterController } from '../shared/controller.ts';
import { describe } from '../shared/describe.ts';
import { downloadCapped } from '../shared/download.ts';
import { fitUpload } from '../shared/fit-upload.ts';
import type { Button, OutgoingFile, Surface } from '../shared/surface.ts';
import { RESTARTING_TEXT } from '../shared/texts.ts';

export interface DiscordAdapterOptions extends PlatformAdapterOptions {
  readonly token: string;
  readonly appId: string;
  /** REST base, e.g. https://discord.com/api; the gateway URL comes from its GET /gateway/bot. */
  readonly apiUrl?: string;
  /** Register commands in this guild only (instant) instead of globally. */
  readonly guildId?: string;
  /** Largest attachment the bot uploads; results above it are re-encoded or downscaled (Discord's default is 10 MiB). */
  readonly maxUploadBytes?: number;
  /** How long an interaction token is trusted for edits (Discord: 15 minutes; a margin is kept). */
  readonly interactionTokenTtlMs?: number;
}

const DISCORD_CDN_ORIGINS = ['https://cdn.discordapp.com', 'https://media.discordapp.net'];
/** Discord's "Invalid Webhook Token" and "Unknown Webhook" (interaction token expired or gone). */
const TOKEN_GONE = new Set([50027, 10015]);

/** How long disconnect() waits for discord.js to close. */
const DISCONNECT_MS = 3000;

const MESSAGE_CONTENT_HOW =
  'Turn on "Message Content Intent" at https://discord.com/developers/applications → your app → Bot → Privileged Gateway Intents.';
// Without the intent Discord empties every guild message that does not mention the bot, and a reply's ping to an
// interaction's response is no mention: replies to results are read only when they mention the bot.
const MESSAGE_CONTENT_OFF = `Discord: the Message Content intent is off for this app, so a reply to a result is read as feedback only when it mentions the bot; slash commands, buttons and mentions work. ${MESSAGE_CONTENT_HOW}`;

/** The gateway closed with 4014 "Disallowed intent(s)": a privileged intent the portal has not enabled. */
function isDisallowedIntents(err: unknown): boolean {
  return err instanceof Error && (/disallowed intent/i.test(err.message) || (err as { code?: unknown }).code === 4014);
}

/** The URL of a failed REST call (DiscordAPIError, HTTPError), when `err` is one. */
function requestUrl(err: unknown): string | undefined {
  const url = (err as { url?: unknown } | undefined)?.url;
  return typeof url === 'string' ? url : undefined;
}

/** Discord's message length limit. */
const MAX_CONTENT = 2000;

function rows(buttons: readonly Button[]): ActionRowBuilder<ButtonBuilder>[] {
  if (!buttons.length) return [];
  return [
    new ActionRowBuilder<ButtonBuilder>().addComponents(
      buttons.map((b) => new ButtonBuilder().setCustomId(b.data).setLabel(b.label).setEmoji(b.emoji).setStyle(b.action === 'cancel' ? ButtonStyle.Danger : ButtonStyle.Secondary)),
    ),
  ];
}

/** /edit takes attachments, which only Discord has; the other commands come from the shared table. */
export function slashCommands(): unknown[] {
  const edit = new SlashCommandBuilder()
    .setName('edit')
    .setDescription('Edit an image from a plain-English instruction')
    .addAttachmentOption((o) => o.setName('image').setDescription('The photo to edit').setRequired(true))
    .addStringOption((o) => o.setName('instruction').setDescription('What to change, e.g. "make it black and white"').setRequired(true).setMaxLength(1000))
    .addAttachmentOption((o) => o.setName('mask').setDescription('Optional mask: white = the region to edit').setRequired(false))
    .addAttachmentOption((o) => o.setName('reference').setDescription('Optional second photo, e.g. of something to paste in ("add this")').setRequired(false));
  const shared = commandsFor('discord').map((c) => {
    const builder = new SlashCommandBuilder().setName(c.name).setDescription(c.description);
    const argument = c.argument;
    return argument ? builder.addIntegerOption((o) => o.setName(argument.name).setDescription(argument.description).setRequired(true).setMinValue(1)) : builder;
  });
  return [edit.toJSON(), ...shared.map((c) => c.toJSON())];
}

export class DiscordAdapter {
  readonly platform = 'discord';
  client: Client;
  #messageContent = true;
  readonly #options: DiscordAdapterOptions;
  readonly #access: AccessPolicy;
  readonly #log: Logger;
  readonly #controller: ChatController;
  #accepting = false;

  constructor(options: DiscordAdapterOptions) {
    this.#options = options;
    this.#access = new AccessPolicy(options.access ?? {});
    this.#log = options.logger.child({ adapter: 'discord' });
    this.#controller = adapterController(this.platform, options, this.#log, 'le:');
    this.client = this.#newClient(true);
  }

  /** Whether the app may read message text (the privileged Message Content intent); false once start found it off. */
  get messageContent(): boolean {
    return this.#messageContent;
  }

  #newClient(messageContent: boolean): Client {
    const client = new Client({
      intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, ...(messageContent ? [GatewayIntentBits.MessageContent] : []), GatewayIntentBits.DirectMessages],
      partials: [Partials.Channel],
      rest: this.#options.apiUrl ? { api: this.#options.apiUrl } : {},
      allowedMentions: { parse: [], repliedUser: true },
    });
    client.on(Events.InteractionCreate, (i) => void this.#onInteraction(i).catch((err: unknown) => this.#log.error({ err: describe(err) }, 'interaction failed')));
    client.on(Events.MessageCreate, (m) => void this.#onMessage(m).catch((err: unknown) => this.#log.error({ err: describe(err) }, 'message failed')));
    client.on(Events.Error, (err) => this.#log.error({ err: describe(err) }, 'discord client error'));
    // A lost gateway connection is worth knowing about: discord.js reconnects on its own, or gives up.
    client.on(Events.ShardReconnecting, (shard) => this.#log.warn({ shard }, 'discord gateway connection lost; reconnecting'));
    client.on(Events.ShardResume, (shard, replayed) => this.#log.info({ shard, replayed }, 'discord gateway connection resumed'));
    client.on(Events.ShardReady, (shard) => this.#log.debug({ shard }, 'discord gateway ready'));
    client.on(Events.ShardDisconnect, (event, shard) => this.#log.error({ shard, code: event.code }, 'discord gateway connection closed for good'));
    client.on(Events.ShardError, (err, shard) => this.#log.warn({ shard, err: describe(err) }, 'discord gateway error'));
    return client;
  }

  get inFlight(): number {
    return this.#controller.inFlight;
  }

  /** Logs in over the gateway, waits for READY and registers the slash commands. */
  async start(): Promise<void> {
    this.#accepting = true;
    try {
      await this.#login();
    } catch (err) {
      if (!isDisallowedIntents(err)) throw this.#startError(err);
      // Most bots never get the privileged Message Content intent: run without it.
      await this.client.destroy();
      this.#messageContent = false;
      this.client = this.#newClient(false);
      try {
        await this.#login();
      } catch (again) {
        throw this.#startError(again);
      }
      this.#log.warn(MESSAGE_CONTENT_OFF);
    }
    const { appId, guildId } = this.#options;
    try {
      await this.client.rest.put(guildId ? Routes.applicationGuildCommands(appId, guildId) : Routes.applicationCommands(appId), { body: slashCommands() });
    } catch (err) {
      throw this.#startError(err);
    }
    this.#log.info({ user: this.client.user?.tag, guildScoped: Boolean(guildId), messageContent: this.#messageContent }, 'discord adapter started');
  }

  async #login(): Promise<void> {
    const ready = new Promise<void>((resolve) => this.client.once(Events.ClientReady, () => resolve()));
    await this.client.login(this.#options.token);
    await ready;
  }

  /** What went wrong at start, with the setting to look at: the API URL that failed, the intent and its portal switch. */
  #startError(err: unknown): Error {
    if (isDisallowedIntents(err)) return new Error(`Discord refused the gateway intents (${(err as Error).message}). ${MESSAGE_CONTENT_HOW}`, { cause: err });
    const failed = requestUrl(err);
    if (failed !== undefined) {
      const base = this.#options.apiUrl ?? 'https://discord.com/api';
      return new Error(`Discord's API at ${base} (DISCORD_API_URL) answered ${(err as Error).message} for ${failed}. Check DISCORD_API_URL: it should be the REST base, such as https://discord.com/api.`, { cause: err });
    }
    return err instanceof Error ? err : new Error(String(err));
  }

  /**
   * Stops taking new work; replies of turns in flight still go out. The gateway stays
   * connected until disconnect(), so whoever writes meanwhile is told the bot is restarting
   * (an unanswered interaction would show "This interaction failed").
   */
  async stopAccepting(): Promise<void> {
    this.#accepting = false;
  }

  /** Waits up to `timeoutMs` for turns in flight to deliver their replies; returns how many were still running. */
  drain(timeoutMs: number): Promise<number> {
    return this.#controller.drain(timeoutMs);
  }

  /** Closes the gateway; bounded, since a client that lost its connection may be waiting to reconnect. */
  async disconnect(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), DISCONNECT_MS)));
    const outcome = await Promise.race([this.client.destroy().then(() => 'closed' as const), gaveUp]);
    clearTimeout(timer);
    if (outcome === 'timeout') this.#log.warn({ afterMs: DISCONNECT_MS }, 'the discord client did not close in time; leaving it');
  }

  async stop(graceMs = 10_000): Promise<void> {
    await this.stopAccepting();
    await this.drain(graceMs);
    await this.disconnect();
  }

  /** Tells a conversation something unprompted (e.g. that its turn was interrupted by a restart). */
  async notify(key: ConversationKey, text: string): Promise<void> {
    const channel = await this.client.channels.fetch(key.threadId ?? key.chatId);
    if (channel?.isSendable()) await channel.send({ content: `<@${key.userId}> ${text}`, allowedMentions: { users: [key.userId] } });
  }

  #allowed(userId: string, guildId: string | null, channelId: string): boolean {
    return this.#access.allows({ userId, places: [channelId, ...(guildId ? [guildId] : [])] });
  }

  #key(channelId: string, userId: string, threadId?: string): ConversationKey {
    return { platform: this.platform, chatId: channelId, userId, ...(threadId ? { threadId } : {}) };
  }

  get #allowedOrigins(): string[] {
    return [...DISCORD_CDN_ORIGINS, ...(this.#options.apiUrl ? [new URL(this.#options.apiUrl).origin] : [])];
  }

  async #download(a: Attachment): Promise<IncomingImage> {
    if (a.contentType && !a.contentType.startsWith('image/')) throw new UnreadableImageError(`${a.name} is ${a.contentType}, not an image`);
    const bytes = await downloadCapped(a.url, { maxBytes: this.#options.maxImageBytes, declaredSize: a.size, allowedOrigins: this.#allowedOrigins });
    return { bytes, name: a.name, ...(a.contentType ? { mime: a.contentType } : {}) };
  }

  // ---- interactions -------------------------------------------------------

  async #onInteraction(interaction: Interaction): Promise<void> {
    const receivedAt = performance.now();
    if (!interaction.isChatInputCommand() && !interaction.isButton()) return;
    // Cancel still works while stopping: it shortens the shutdown instead of adding work.
    if (!this.#accepting && !(interaction.isButton() && this.#controller.decode(interaction.customId)?.action === 'cancel')) {
      await interaction.reply({ content: RESTARTING_TEXT, flags: MessageFlags.Ephemeral });
      return;
    }
    if (!this.#allowed(interaction.user.id, interaction.guildId, interaction.channelId ?? '')) {
      await interaction.reply({ content: NOT_ALLOWED_TEXT, flags: MessageFlags.Ephemeral });
      return;
    }
    if (interaction.isButton()) return this.#onButton(interaction, receivedAt);
    await interaction.deferReply();
    const key = this.#interactionKey(interaction, interaction.user.id);
    const surface = this.#interactionSurface(interaction);
    if (interaction.commandName === 'edit') return this.#onEdit(interaction, key, surface, receivedAt);
    const argument = interaction.options.data[0]?.value;
    if (!(await this.#controller.command(interaction.commandName, argument === undefined ? '' : String(argument), key, surface))) await surface.text('I don’t know that command.');
  }

  async #onEdit(interaction: ChatInputCommandInteraction, key: ConversationKey, surface: Surface, receivedAt: number): Promise<void> {
    const image = interaction.options.getAttachment('image', true);
    const mask = interaction.options.getAttachment('mask');
    const reference = interaction.options.getAttachment('reference');
    const instruction = interaction.options.getString('instruction', true);
    if (mask && reference) return surface.text('⚠️ Give either a mask or a reference photo with one edit, not both.');
    const second = mask ?? reference;
    let images: IncomingImage[];
    try {
      images = [await this.#download(image), ...(second ? [{ ...(await this.#download(second)), role: mask ? ('mask' as const) : ('reference' as const) }] : [])];
    } catch (err) {
      return this.#controller.refuse(surface, err);
    }
    const incoming: IncomingMessage = { ...key, userName: interaction.user.username, messageId: interaction.id, text: instruction, images };
    this.#controller.track(this.#controller.handle(incoming, surface, receivedAt));
  }

  #interactionKey(interaction: ChatInputCommandInteraction | ButtonInteraction, userId: string): ConversationKey {
    return this.#key(interaction.channelId, userId, interaction.channel?.isThread() ? interaction.channelId : undefined);
  }

  async #onButton(interaction: ButtonInteraction, receivedAt: number): Promise<void> {
    await this.#controller.press(
      {
        data: interaction.customId,
        userId: interaction.user.id,
        pressId: interaction.id,
        messageId: interaction.message.id,
        // A thread is its own channel on Discord, so the place says which conversation it is.
        conversation: (ownerId) => this.#interactionKey(interaction, ownerId),
        notice: async (text) => {
          if (text) await interaction.reply({ content: text, flags: MessageFlags.Ephemeral });
        },
        accept: async () => {
          await interaction.deferReply();
          return this.#interactionSurface(interaction);
        },
      },
      receivedAt,
    );
  }

  /** Files as Discord takes them, each within the upload limit (re-encoded or downscaled where not, which the caption says). */
  async #attachments(files: readonly OutgoingFile[]): Promise<{ files: AttachmentBuilder[]; note: string }> {
    const limit = this.#options.maxUploadBytes ?? 10 * 1024 * 1024;
    let altered = false;
    const fitted = await Promise.all(
      files.map(async (f) => {
        if (!f.image) return new AttachmentBuilder(f.bytes, { name: f.name });
        const fit = await fitUpload(f.image, limit);
        altered ||= fit.altered;
        return new AttachmentBuilder(fit.bytes, { name: f.name.replace(/\.\w+$/, fit.format === 'jpeg' ? '.jpg' : '.png') });
      }),
    );
    return { files: fitted, note: altered ? '\n(re-encoded to fit Discord’s upload limit)' : '' };
  }

  /**
   * Where a slash command or button press is answered: its deferred reply, which is also the turn's
   * status and becomes its outcome, while the token lives (15 minutes); then channel messages.
   */
  #interactionSurface(interaction: ChatInputCommandInteraction | ButtonInteraction): Surface {
    const ttl = this.#options.interactionTokenTtlMs ?? 14 * 60_000 + 30_000;
    const channel = interaction.channel as SendableChannels | null;
    let expired = false;
    let fallback: Message | undefined;
    const tokenAlive = (): boolean => !expired && Date.now() - interaction.createdTimestamp < ttl;
    // After the token: one channel message takes over as the status, mentioning the requester.
    const viaChannel = async (payload: MessageCreateOptions & MessageEditOptions, replace: boolean): Promise<Message | undefined> => {
      if (!channel) return undefined;
      const content = `<@${interaction.user.id}> ${payload.content ?? ''}`.trim();
      if (fallback && replace) return (fallback = await fallback.edit({ ...payload, content }));
      const sent = await channel.send({ ...payload, content, allowedMentions: { users: [interaction.user.id] } } as MessageCreateOptions);
      if (replace) fallback = sent;
      return sent;
    };
    const edit = async (payload: MessageCreateOptions & MessageEditOptions, replace = true): Promise<Message | undefined> => {
      if (tokenAlive()) {
        try {
          return await interaction.editReply(payload as MessageEditOptions);
        } catch (err) {
          if (!(err instanceof DiscordAPIError && TOKEN_GONE.has(Number(err.code)))) throw err;
          expired = true;
        }
      }
      return viaChannel(payload, replace);
    };
    return {
      outcomeInStatus: true,
      status: async (content, buttons) => {
        await edit({ content: content.slice(0, MAX_CONTENT), components: rows(buttons) });
      },
      text: async (content) => {
        await edit({ content: content.slice(0, MAX_CONTENT), components: [] });
      },
      send: async (content, files, buttons) => {
        const attached = await this.#attachments(files);
        const sent = await edit({ content: `${content}${attached.note}`.slice(0, MAX_CONTENT), files: attached.files, components: rows(buttons) }, !tokenAlive());
        return sent ? [sent.id] : [];
      },
      personal: async (content) => {
        if (tokenAlive()) {
          try {
            // The first follow-up after a deferral takes over the public "thinking…" placeholder and its
            // visibility, so the placeholder goes first; the notice then arrives for the requester alone.
            await interaction.deleteReply();
            await interaction.followUp({ content, flags: MessageFlags.Ephemeral });
            return;
          } catch (err) {
            if (!(err instanceof DiscordAPIError && TOKEN_GONE.has(Number(err.code)))) throw err;
            expired = true;
          }
        }
        await viaChannel({ content, components: [] }, false);
      },
    };
  }

  // ---- mentions and replies ---------------------------------------------------

  async #onMessage(message: Message): Promise<void> {
    const receivedAt = performance.now();
    if (message.author.bot || !this.client.user) return;
    const me = this.client.user.id;
    const replyToBot = message.reference?.messageId ? message.mentions.repliedUser?.id === me || (await this.#isBotMessage(message)) : false;
    const mentioned = message.mentions.users.has(me);
    if (!mentioned && !replyToBot && message.guildId) return;
    if (!this.#accepting) {
      await message.reply(RESTARTING_TEXT);
      return;
    }
    if (!this.#allowed(message.author.id, message.guildId, message.channelId)) {
      await message.reply(NOT_ALLOWED_TEXT);
      return;
    }
    const text = message.content.replace(new RegExp(`<@!?${me}>`, 'g'), '').replace(/\s+/g, ' ').trim();
    const key = this.#key(message.channelId, message.author.id, message.channel.isThread() ? message.channelId : undefined);
    const surface = this.#messageSurface(message);
    let images: IncomingImage[];
    try {
      images = await Promise.all([...message.attachments.values()].map((a) => this.#download(a)));
    } catch (err) {
      return this.#controller.refuse(surface, err);
    }
    if (!text && !images.length) return;
    const repliedId = replyToBot ? message.reference!.messageId! : undefined;
    const incoming: IncomingMessage = {
      ...key,
      userName: message.author.username,
      messageId: message.id,
      ...(text ? { text } : {}),
      images,
      ...(repliedId ? { replyTo: { messageId: repliedId } } : {}),
    };
    this.#controller.track(this.#controller.handle(incoming, surface, receivedAt));
    if ('sendTyping' in message.channel) void message.channel.sendTyping().catch(() => undefined);
  }

  async #isBotMessage(message: Message): Promise<boolean> {
    try {
      const ref = await message.fetchReference();
      return ref.author.id === this.client.user?.id;
    } catch {
      return false;
    }
  }

  /** Where a mention is answered: replies to it, one of them the status, edited in place. */
  #messageSurface(message: Message): Surface {
    let status: Promise<Message | undefined> | undefined;
    return {
      outcomeInStatus: false,
      status: async (content, buttons) => {
        const payload = { content: content.slice(0, MAX_CONTENT), components: rows(buttons) };
        if (!status) {
          status = message.reply(payload).catch((err: unknown) => {
            this.#log.warn({ err: describe(err) }, 'could not send the status message');
            return undefined;
          });
          await status;
          return;
        }
        await (await status)?.edit(payload);
      },
      text: async (content) => {
        await message.reply(content.slice(0, MAX_CONTENT));
      },
      send: async (content, files, buttons) => {
        const attached = await this.#attachments(files);
        const sent = await message.reply({ content: `${content}${attached.note}`.slice(0, MAX_CONTENT), files: attached.files, components: rows(buttons) });
        return [sent.id];
      },
      // A channel message cannot be shown to one person only; the reply mentions them, which is the closest.
    };
  }
}
