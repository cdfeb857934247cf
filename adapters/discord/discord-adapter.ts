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
import { LegoEditError, UnreadableImageError } from '../../src/engine/errors.ts';
import type { BrickRegistry } from '../../src/engine/registry.ts';
import type { CommandReply, ConversationKey, IncomingImage, IncomingMessage, SessionEvent, SessionManager } from '../../src/sessions/types.ts';
import { AccessPolicy, NOT_ALLOWED_TEXT, type AccessConfig } from '../shared/access.ts';
import { renderWorkflowPng } from '../shared/dag.ts';
import { downloadCapped } from '../shared/download.ts';
import { fitUpload } from '../shared/fit-upload.ts';
import { CoalescingEditor, TurnProgress, seconds } from '../shared/progress.ts';
import { RESTARTING_TEXT, errorText, friendlyError, historyText, isPersonalNotice, rulesText, toolsText } from '../shared/texts.ts';
import { type AdapterTimings, TurnTracker } from '../shared/turns.ts';

export interface DiscordAdapterOptions {
  readonly token: string;
  readonly appId: string;
  /** REST base, e.g. https://discord.com/api; the gateway URL comes from its GET /gateway/bot. */
  readonly apiUrl?: string;
  /** Register commands in this guild only (instant) instead of globally. */
  readonly guildId?: string;
  readonly sessions: SessionManager;
  readonly registry: BrickRegistry;
  readonly access?: AccessConfig;
  readonly maxImageBytes: number;
  /** Largest attachment the bot uploads; results above it are re-encoded or downscaled (Discord's default is 10 MiB). */
  readonly maxUploadBytes?: number;
  readonly logger: Logger;
  readonly progressIntervalMs?: number;
  /** How long an interaction token is trusted for edits (Discord: 15 minutes; a margin is kept). */
  readonly interactionTokenTtlMs?: number;
  readonly timings?: AdapterTimings;
}

const DISCORD_CDN_ORIGINS = ['https://cdn.discordapp.com', 'https://media.discordapp.net'];
/** Discord's "Invalid Webhook Token" and "Unknown Webhook" (interaction token expired or gone). */
const TOKEN_GONE = new Set([50027, 10015]);

type Action = 'undo' | 'retry' | 'plan' | 'cancel';
const ACTIONS: ReadonlySet<string> = new Set(['undo', 'retry', 'plan', 'cancel']);

function customId(action: Action, turnId: number | undefined, ownerId: string): string {
  return `le:${action}:${turnId ?? 0}:${ownerId}`;
}

function resultRow(turnId: number, ownerId: string): ActionRowBuilder<ButtonBuilder> {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder().setCustomId(customId('undo', turnId, ownerId)).setLabel('Undo').setEmoji('↩️').setStyle(ButtonStyle.Secondary),
    new ButtonBuilder().setCustomId(customId('retry', turnId, ownerId)).setLabel('Retry').setEmoji('🔁').setStyle(ButtonStyle.Secondary),
    new ButtonBuilder().setCustomId(customId('plan', turnId, ownerId)).setLabel('Show plan').setEmoji('🧩').setStyle(ButtonStyle.Secondary),
  );
}

function cancelRow(turnId: number | undefined, ownerId: string): ActionRowBuilder<ButtonBuilder> {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(new ButtonBuilder().setCustomId(customId('cancel', turnId, ownerId)).setLabel('Cancel').setStyle(ButtonStyle.Danger));
}

export function slashCommands(): unknown[] {
  return [
    new SlashCommandBuilder()
      .setName('edit')
      .setDescription('Edit an image from a plain-English instruction')
      .addAttachmentOption((o) => o.setName('image').setDescription('The photo to edit').setRequired(true))
      .addStringOption((o) => o.setName('instruction').setDescription('What to change, e.g. "make it black and white"').setRequired(true).setMaxLength(1000))
      .addAttachmentOption((o) => o.setName('mask').setDescription('Optional mask: white = the region to edit').setRequired(false))
      .addAttachmentOption((o) => o.setName('reference').setDescription('Optional second photo, e.g. of something to paste in ("add this")').setRequired(false)),
    new SlashCommandBuilder().setName('rules').setDescription('Your standing rules'),
    new SlashCommandBuilder().setName('undo').setDescription('Back to the previous image'),
    new SlashCommandBuilder().setName('redo').setDescription('Forward again after undo'),
    new SlashCommandBuilder().setName('history').setDescription('Your recent edits'),
    new SlashCommandBuilder().setName('tools').setDescription('Bricks available on this host'),
    new SlashCommandBuilder().setName('reset').setDescription('Start afresh (clears the current image and rules)'),
  ].map((c) => c.toJSON());
}

/**
 * Where a turn's progress and result go. For an interaction: its deferred reply
 * while the token lives, then channel messages. For a mention: a status reply,
 * edited, then a result reply.
 */
interface Surface {
  status(content: string, running: boolean, turnId: number | undefined): Promise<void>;
  final(payload: MessageCreateOptions & MessageEditOptions): Promise<Message | undefined>;
  text(content: string): Promise<void>;
  /** A line for the requester alone (their own limits), where the platform allows it; before any status was shown. */
  personal(content: string): Promise<void>;
}

export class DiscordAdapter {
  readonly platform = 'discord';
  readonly client: Client;
  readonly #options: DiscordAdapterOptions;
  readonly #access: AccessPolicy;
  readonly #log: Logger;
  readonly #turns = new TurnTracker();
  readonly #resultTurns = new Map<string, number>();
  #accepting = false;

  constructor(options: DiscordAdapterOptions) {
    this.#options = options;
    this.#access = new AccessPolicy(options.access ?? {});
    this.#log = options.logger.child({ adapter: 'discord' });
    this.client = new Client({
      intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent, GatewayIntentBits.DirectMessages],
      partials: [Partials.Channel],
      rest: options.apiUrl ? { api: options.apiUrl } : {},
      allowedMentions: { parse: [], repliedUser: true },
    });
    this.client.on(Events.InteractionCreate, (i) => void this.#onInteraction(i).catch((err: unknown) => this.#log.error({ err: describe(err) }, 'interaction failed')));
    this.client.on(Events.MessageCreate, (m) => void this.#onMessage(m).catch((err: unknown) => this.#log.error({ err: describe(err) }, 'message failed')));
    this.client.on(Events.Error, (err) => this.#log.error({ err: describe(err) }, 'discord client error'));
  }

  get inFlight(): number {
    return this.#turns.size;
  }

  /** Logs in over the gateway, waits for READY and registers the slash commands. */
  async start(): Promise<void> {
    this.#accepting = true;
    const ready = new Promise<void>((resolve) => this.client.once(Events.ClientReady, () => resolve()));
    await this.client.login(this.#options.token);
    await ready;
    const { appId, guildId } = this.#options;
    await this.client.rest.put(guildId ? Routes.applicationGuildCommands(appId, guildId) : Routes.applicationCommands(appId), { body: slashCommands() });
    this.#log.info({ user: this.client.user?.tag, guildScoped: Boolean(guildId) }, 'discord adapter started');
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
    return this.#turns.drain(timeoutMs);
  }

  async disconnect(): Promise<void> {
    await this.client.destroy();
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
    if (!this.#accepting && !(interaction.isButton() && interaction.customId.startsWith('le:cancel:'))) {
      await interaction.reply({ content: RESTARTING_TEXT, flags: MessageFlags.Ephemeral });
      return;
    }
    if (!this.#allowed(interaction.user.id, interaction.guildId, interaction.channelId ?? '')) {
      await interaction.reply({ content: NOT_ALLOWED_TEXT, flags: MessageFlags.Ephemeral });
      return;
    }
    if (interaction.isButton()) return this.#onButton(interaction, receivedAt);
    await interaction.deferReply();
    const key = this.#key(interaction.channelId, interaction.user.id, interaction.channel?.isThread() ? interaction.channelId : undefined);
    const surface = this.#interactionSurface(interaction);
    try {
      switch (interaction.commandName) {
        case 'edit': {
          const image = interaction.options.getAttachment('image', true);
          const mask = interaction.options.getAttachment('mask');
          const reference = interaction.options.getAttachment('reference');
          const instruction = interaction.options.getString('instruction', true);
          if (mask && reference) {
            await surface.text('⚠️ Give either a mask or a reference photo with one edit, not both.');
            return;
          }
          const second = mask ?? reference;
          let images: IncomingImage[];
          try {
            images = [await this.#download(image), ...(second ? [{ ...(await this.#download(second)), role: mask ? ('mask' as const) : ('reference' as const) }] : [])];
          } catch (err) {
            await surface.text(friendlyError(err));
            return;
          }
          const incoming: IncomingMessage = { ...key, userName: interaction.user.username, messageId: interaction.id, text: instruction, images };
          this.#turns.track(this.#handle(key, incoming, surface, receivedAt));
          return;
        }
        case 'rules':
          return void (await surface.text(rulesText(await this.#options.sessions.rules(key))));
        case 'history':
          return void (await surface.text(historyText(await this.#options.sessions.history(key, 10))));
        case 'tools':
          return void (await surface.text(await toolsText(this.#options.registry)));
        case 'undo':
          return void (await this.#commandReply(surface, await this.#options.sessions.undo(key)));
        case 'redo':
          return void (await this.#commandReply(surface, await this.#options.sessions.redo(key)));
        case 'reset':
          return void (await this.#commandReply(surface, await this.#options.sessions.reset(key)));
        default:
          await surface.text('I don’t know that command.');
      }
    } catch (err) {
      this.#log.error({ err: describe(err) }, 'command failed');
      await surface.text(friendlyError(err)).catch(() => undefined);
    }
  }

  async #onButton(interaction: ButtonInteraction, receivedAt: number): Promise<void> {
    const [prefix, action, turnText, ownerId] = interaction.customId.split(':');
    if (prefix !== 'le' || !action || !ACTIONS.has(action) || !ownerId) return;
    if (interaction.user.id !== ownerId) {
      await interaction.reply({ content: 'These buttons belong to the person who asked for this edit.', flags: MessageFlags.Ephemeral });
      return;
    }
    const key = this.#key(interaction.channelId, ownerId, interaction.channel?.isThread() ? interaction.channelId : undefined);
    const turnId = Number(turnText) || undefined;
    if (action === 'cancel') {
      let text: string;
      try {
        text = (await this.#options.sessions.cancel(key, interaction.user.id, turnId)).text;
      } catch (err) {
        this.#log.error({ err: describe(err) }, 'cancel failed');
        text = friendlyError(err);
      }
      await interaction.reply({ content: text, flags: MessageFlags.Ephemeral });
      return;
    }
    await interaction.deferReply();
    const surface = this.#interactionSurface(interaction);
    try {
      if (action === 'undo') {
        await this.#commandReply(surface, await this.#options.sessions.undo(key));
      } else if (action === 'plan') {
        const plan = await this.#options.sessions.showPlan(key, turnId);
        if (!plan) return void (await surface.text('There is no plan to show yet.'));
        const png = await renderWorkflowPng(plan.workflow);
        await surface.final({
          content: `Plan of #${plan.turnId} (${plan.builder} Builder): ${plan.summary}`.slice(0, 2000),
          files: [new AttachmentBuilder(png, { name: `plan-${plan.turnId}.png` }), new AttachmentBuilder(Buffer.from(JSON.stringify(plan.workflow, null, 2)), { name: `plan-${plan.turnId}.json` })],
          components: [],
        });
      } else if (action === 'retry') {
        const incoming: IncomingMessage = { ...key, messageId: interaction.id, text: 'again', images: [], ...(turnId !== undefined ? { replyTo: { turnId, messageId: interaction.message.id } } : {}) };
        this.#turns.track(this.#handle(key, incoming, surface, receivedAt));
      }
    } catch (err) {
      this.#log.error({ err: describe(err) }, 'button action failed');
      await surface.text(friendlyError(err)).catch(() => undefined);
    }
  }

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
      status: async (content, running, turnId) => {
        await edit({ content, components: running ? [cancelRow(turnId, interaction.user.id)] : [] });
      },
      final: (payload) => edit(payload, !tokenAlive()),
      text: async (content) => {
        await edit({ content, components: [] });
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
      await message.reply(friendlyError(err));
      return;
    }
    if (!text && !images.length) return;
    const repliedId = replyToBot ? message.reference!.messageId! : undefined;
    const knownTurn = repliedId ? this.#resultTurns.get(repliedId) : undefined;
    const incoming: IncomingMessage = {
      ...key,
      userName: message.author.username,
      messageId: message.id,
      ...(text ? { text } : {}),
      images,
      ...(repliedId ? { replyTo: { messageId: repliedId, ...(knownTurn !== undefined ? { turnId: knownTurn } : {}) } } : {}),
    };
    this.#turns.track(this.#handle(key, incoming, surface, receivedAt));
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

  #messageSurface(message: Message): Surface {
    let status: Promise<Message | undefined> | undefined;
    const ensure = (content: string, running: boolean, turnId: number | undefined): Promise<Message | undefined> =>
      (status ??= message.reply({ content, components: running ? [cancelRow(turnId, message.author.id)] : [] }).catch((err: unknown) => {
        this.#log.warn({ err: describe(err) }, 'could not send the status message');
        return undefined;
      }));
    return {
      status: async (content, running, turnId) => {
        if (!status) return void (await ensure(content, running, turnId));
        const m = await status;
        await m?.edit({ content, components: running ? [cancelRow(turnId, message.author.id)] : [] });
      },
      final: (payload) => message.reply(payload as MessageCreateOptions),
      text: async (content) => {
        await message.reply(content);
      },
      // A channel message cannot be shown to one person only; the reply mentions them, which is the closest.
      personal: async (content) => {
        await message.reply(content);
      },
    };
  }

  // ---- rendering a turn -----------------------------------------------------

  async #handle(key: ConversationKey, incoming: IncomingMessage, surface: Surface, receivedAt: number): Promise<void> {
    const progress = new TurnProgress();
    let editor: CoalescingEditor | undefined;
    const showStatus = (): void => {
      editor ??= new CoalescingEditor((t) => surface.status(t, progress.running, progress.turnId), this.#options.progressIntervalMs ?? 1000);
      editor.set(progress.render());
    };
    const settle = async (): Promise<void> => {
      if (!editor) return;
      await editor.close();
      await surface.status(progress.render(), false, progress.turnId).catch(() => undefined);
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
          if (changed) showStatus();
          return;
        case 'result': {
          this.#options.timings?.mark(event.turnId, 'result', performance.now());
          await editor?.close();
          const limit = this.#options.maxUploadBytes ?? 10 * 1024 * 1024;
          const fitted = await Promise.all(event.images.map((img) => fitUpload(img, limit)));
          const note = fitted.some((f) => f.altered) ? '\n(re-encoded to fit Discord’s upload limit)' : '';
          const caption = [`${event.caption || progress.summary || 'Done'} · ${seconds(progress.elapsedMs())}`, ...event.texts].join('\n') + note;
          this.#options.timings?.mark(event.turnId, 'sent', performance.now());
          const sent = await surface.final({
            content: editor ? `${progress.render()}\n\n${caption}`.slice(0, 2000) : caption.slice(0, 2000),
            files: fitted.map((f, i) => new AttachmentBuilder(f.bytes, { name: `result-${event.turnId}${fitted.length > 1 ? `-${i + 1}` : ''}.${f.format === 'jpeg' ? 'jpg' : 'png'}` })),
            components: [resultRow(event.turnId, key.userId)],
          });
          if (sent) {
            this.#remember(sent.id, event.turnId);
            await this.#options.sessions.linkMessage(key, event.turnId, sent.id).catch((err: unknown) => this.#log.warn({ err: describe(err) }, 'linkMessage failed'));
          }
          return;
        }
        case 'cancelled':
          if (editor) await settle();
          else await surface.text('Cancelled.');
          return;
        case 'error':
          if (editor) {
            await editor.close();
            await surface.status(`${progress.render()}\n${errorText(event.code, event.userMessage)}`, false, progress.turnId);
          } else if (isPersonalNotice(event.code)) await surface.personal(errorText(event.code, event.userMessage));
          else await surface.text(errorText(event.code, event.userMessage));
          return;
        case 'info':
          await surface.text(event.text);
          return;
        case 'clarify':
          await surface.text(event.options?.length ? `${event.question}\n${event.options.map((o) => `• ${o}`).join('\n')}` : event.question);
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
      await editor?.close();
      await surface.text(friendlyError(err)).catch(() => undefined);
    }
  }

  async #commandReply(surface: Surface, reply: CommandReply): Promise<void> {
    const content = reply.ok ? reply.text : `⚠️ ${reply.text}`;
    if (!reply.image) return void (await surface.text(content));
    const fitted = await fitUpload(reply.image, this.#options.maxUploadBytes ?? 10 * 1024 * 1024);
    await surface.final({ content, files: [new AttachmentBuilder(fitted.bytes, { name: `current.${fitted.format === 'jpeg' ? 'jpg' : 'png'}` })], components: [] });
  }

  #remember(messageId: string, turnId: number): void {
    this.#resultTurns.set(messageId, turnId);
    if (this.#resultTurns.size > 5000) this.#resultTurns.delete(this.#resultTurns.keys().next().value!);
  }
}

/** Error details for logs, without the token discord.js may carry in URLs. */
export function describe(err: unknown): Record<string, unknown> {
  if (err instanceof LegoEditError) return { code: err.code, message: err.message };
  if (err instanceof DiscordAPIError) return { name: err.name, code: err.code, status: err.status, method: err.method, message: err.message };
  if (err instanceof Error) return { name: err.name, message: err.message.replace(/webhooks\/\d+\/[\w-]+/g, 'webhooks/[redacted]'), stack: err.stack?.replace(/webhooks\/\d+\/[\w-]+/g, 'webhooks/[redacted]') };
  return { message: String(err) };
}
