/**
 * Both chat platforms behind one driver, for the conformance suite: each drives the real
 * adapter (telegraf or discord.js) through its fake server, acting as users and reading
 * back what the bot answered in platform-neutral terms.
 */
import { DiscordAdapter } from '../../adapters/discord/discord-adapter.ts';
import { TelegramAdapter } from '../../adapters/telegram/telegram-adapter.ts';
import { silentLogger } from '../../src/logger.ts';
import type { SessionManager } from '../../src/sessions/types.ts';
import { waitUntil } from '../fakes/chat-platform-http.ts';
import { FakeDiscordServer, type DiscordMessage } from '../fakes/discord-server.ts';
import { FakeTelegramBotApi, type StoredMessage } from '../fakes/telegram-bot-api.ts';
import type { BotSessions } from './telegram/session-harness.ts';

/** What the bot answered, as a user sees it. */
export interface Answer {
  /** Text or caption (several messages' joined, where the platform split one answer). */
  readonly text: string;
  readonly files: ReadonlyArray<{ readonly name: string; readonly bytes: Buffer }>;
  /** The actions of the buttons under it: undo, retry, plan, cancel. */
  readonly actions: readonly string[];
  /** Shown to one person only (a Telegram alert, a Discord ephemeral reply). */
  readonly private: boolean;
  /** The platform message, to reply to or press buttons on. */
  readonly message: unknown;
}

export interface EditOptions {
  readonly declaredSize?: number;
  /** Resolve on the first answer this accepts (a status message too), instead of the outcome. */
  readonly until?: (a: Answer) => boolean;
}

export interface ChatUser {
  /** A photo with an instruction (Telegram: a captioned photo; Discord: /edit); resolves on its outcome, a result with buttons or a ⚠️ or ⏳ line. */
  edit(photo: Buffer, instruction: string, options?: EditOptions): Promise<Answer>;
  /** A reply to one of the bot's answers; resolves on its outcome. */
  reply(to: Answer, text: string): Promise<Answer>;
  command(name: string): Promise<Answer>;
  /** Presses the button for `action` under `answer`; resolves on the first answer to the press that `until` accepts. */
  press(answer: Answer, action: string, until: (a: Answer) => boolean): Promise<Answer>;
}

export interface ChatPlatform {
  readonly name: string;
  /** A new user, with a conversation of their own. */
  user(): ChatUser;
  /** The connection to the platform is lost and stays lost (Telegram's API unreachable, Discord's gateway cut). */
  loseConnection(): Promise<void>;
  stop(): Promise<void>;
}

const MAX_IMAGE_BYTES = 200_000;
// A status that says the message is queued behind the last turn (still finishing its bookkeeping) is not an outcome.
const isOutcome = (a: Answer): boolean => a.actions.includes('undo') || /⚠️/.test(a.text) || (/⏳/.test(a.text) && !/Queued/.test(a.text));

/** What a platform is opened with: the bot's sessions, and optionally another session manager in front of them. */
export interface PlatformOptions {
  readonly sessions?: SessionManager;
}

export async function telegramPlatform(bot: BotSessions, options: PlatformOptions = {}): Promise<ChatPlatform> {
  const fake = await FakeTelegramBotApi.start();
  const adapter = new TelegramAdapter({ token: fake.token, apiRoot: fake.apiRoot, sessions: options.sessions ?? bot.sessions.manager, registry: bot.rt.registry, maxImageBytes: MAX_IMAGE_BYTES, logger: silentLogger, progressIntervalMs: 0 });
  await adapter.start();
  let lost = false;
  let nextId = 71_000;
  const data = (m: StoredMessage): string[] => (m.reply_markup?.inline_keyboard ?? []).flat().map((b) => b.callback_data ?? '');
  // One answer may span messages (a plan's picture and its JSON document); the one with buttons is the one to act on.
  const answerOf = (messages: readonly StoredMessage[]): Answer => ({
    text: messages.map((m) => m.caption ?? m.text ?? '').filter(Boolean).join('\n'),
    files: messages.flatMap((m) => (m.upload ? [{ name: m.upload.name, bytes: m.upload.bytes }] : [])),
    actions: messages.flatMap((m) => data(m).map((d) => d.split(':')[0]!)),
    private: false,
    message: messages.find((m) => data(m).length) ?? messages.at(-1),
  });
  return {
    name: 'Telegram',
    user() {
      const me = fake.user(nextId++);
      const chat = fake.privateChat(me);
      const outcomeAfter = async (sent: StoredMessage, until = isOutcome): Promise<Answer> =>
        answerOf([await fake.waitForBotMessage(chat.id, (m) => until(answerOf([m])), { afterId: sent.message_id })]);
      return {
        edit: (photo, instruction, options = {}) =>
          outcomeAfter(fake.sendPhoto(me, chat, photo, instruction, options.declaredSize !== undefined ? { declaredSize: options.declaredSize } : {}), options.until),
        reply: (to, text) => outcomeAfter(fake.sendText(me, chat, text, { replyTo: (to.message as StoredMessage).message_id })),
        async command(name) {
          const sent = fake.sendText(me, chat, `/${name}`);
          return answerOf([await fake.waitForBotMessage(chat.id, (m) => Boolean(m.text ?? m.caption), { afterId: sent.message_id })]);
        },
        press(answer, action, until) {
          const pressed = answer.message as StoredMessage;
          const before = fake.botMessages(pressed.chat.id).at(-1)?.message_id ?? 0;
          const calls = fake.calls.length;
          const id = fake.pressButton(me, pressed, data(pressed).find((d) => d.split(':')[0] === action)!);
          return waitUntil(() => {
            const alert = fake.calls.slice(calls).find((c) => c.method === 'answerCallbackQuery' && c.params.callback_query_id === id && c.params.show_alert === true);
            if (alert) {
              const notice: Answer = { text: String(alert.params.text), files: [], actions: [], private: true, message: undefined };
              if (until(notice)) return notice;
            }
            const answers = fake.botMessages(pressed.chat.id).filter((m) => m.message_id > before && m.reply_to_message?.message_id === pressed.message_id);
            const merged = answers.length ? answerOf(answers) : undefined;
            return merged && until(merged) ? merged : undefined;
          }, `an answer to pressing ${action}`);
        },
      };
    },
    async loseConnection() {
      lost = true;
      await fake.stop();
    },
    async stop() {
      await adapter.stop(2000);
      if (!lost) await fake.stop();
    },
  };
}

export async function discordPlatform(bot: BotSessions, options: PlatformOptions = {}): Promise<ChatPlatform> {
  const fake = await FakeDiscordServer.start();
  const adapter = new DiscordAdapter({
    token: fake.token,
    appId: fake.appId,
    apiUrl: fake.apiUrl,
    guildId: fake.guildId,
    sessions: options.sessions ?? bot.sessions.manager,
    registry: bot.rt.registry,
    maxImageBytes: MAX_IMAGE_BYTES,
    logger: silentLogger,
    progressIntervalMs: 0,
  });
  await adapter.start();
  let nextId = 710_000_000_000_000_000n;
  const customIds = (m: DiscordMessage): string[] => m.components.flatMap((row) => row.components.map((c) => c.custom_id ?? ''));
  const answerOf = (m: DiscordMessage): Answer => ({
    text: m.content,
    files: m.attachments.map((a) => ({ name: a.filename, bytes: m.files.get(a.id)!.bytes })),
    actions: customIds(m).map((id) => id.split(':')[1]!),
    private: (m.flags & 64) === 64,
    message: m,
  });
  return {
    name: 'Discord',
    user() {
      const me = fake.user(String(nextId++));
      return {
        async edit(photo, instruction, options = {}) {
          const image = { bytes: photo, name: 'photo.png', contentType: 'image/png', ...(options.declaredSize !== undefined ? { declaredSize: options.declaredSize } : {}) };
          const until = options.until ?? isOutcome;
          return answerOf(await fake.waitForOriginal(fake.slashCommand(me, 'edit', { image, instruction }), (m) => until(answerOf(m))));
        },
        async reply(to, text) {
          const sent = fake.sendMessage(me, text, { replyTo: to.message as DiscordMessage });
          return answerOf(await fake.waitForBotMessage((m) => m.message_reference?.message_id === sent.id && isOutcome(answerOf(m)), { after: sent.id }));
        },
        async command(name) {
          return answerOf(await fake.waitForOriginal(fake.slashCommand(me, name), (m) => m.content !== ''));
        },
        async press(answer, action, until) {
          const pressed = answer.message as DiscordMessage;
          const token = fake.pressButton(me, pressed, customIds(pressed).find((id) => id.split(':')[1] === action)!);
          // Until the press is answered, its "original" is the message the button sits on.
          return answerOf(await fake.waitForOriginal(token, (m) => m.id !== pressed.id && until(answerOf(m))));
        },
      };
    },
    async loseConnection() {
      fake.dropGateway();
    },
    async stop() {
      await adapter.stop(2000);
      await fake.stop();
    },
  };
}
