import type { Command } from 'commander';
import type { Config } from '../../config.ts';
import { loadConfig } from '../../config.ts';
import { createLogger } from '../../logger.ts';
import type { ConversationKey } from '../../sessions/types.ts';
import { CliError } from '../errors.ts';

/** What `serve` needs from an adapter: start, the phases of a graceful stop, and unprompted notices. */
interface ChatAdapter {
  readonly platform: string;
  readonly inFlight: number;
  start(): Promise<void>;
  stopAccepting(): Promise<void>;
  drain(timeoutMs: number): Promise<number>;
  disconnect(): Promise<void>;
  notify(key: ConversationKey, text: string): Promise<void>;
}

/** Which adapters the configuration enables, or a message naming what is missing. */
export function enabledPlatforms(config: Config): string[] {
  const platforms: string[] = [];
  if (config.telegramToken) platforms.push('telegram');
  if (config.discordToken && !config.discordAppId) throw new CliError('DISCORD_TOKEN is set but DISCORD_APP_ID is not; Discord needs both (the application id registers the slash commands).');
  if (config.discordToken) platforms.push('discord');
  if (!platforms.length) throw new CliError('Nothing to serve: set TELEGRAM_BOT_TOKEN, and/or DISCORD_TOKEN with DISCORD_APP_ID (see `lego-edit --help`).');
  return platforms;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Run the chat bot on Telegram and/or Discord, whichever have tokens configured')
    .option('--health-interval <seconds>', 'seconds between health log lines (0: none)', '60')
    .option('--grace <seconds>', 'on SIGINT/SIGTERM, how long running edits get to finish before they are cancelled', '20')
    .action(async (opts: { healthInterval: string; grace: string }) => {
      const config = loadConfig();
      const platforms = enabledPlatforms(config);
      const logger = createLogger(config.logLevel, 'service');
      // Loaded here so that other commands never pay for the bricks, telegraf, discord.js or the database drivers.
      const { createRuntime } = await import('../../runtime.ts');
      const rt = createRuntime({ config, logger });
      const { openSessions } = await import('../../sessions/index.ts');
      const { TelegramAdapter } = await import('../../../adapters/telegram/telegram-adapter.ts');
      const { DiscordAdapter } = await import('../../../adapters/discord/discord-adapter.ts');
      const { preloadEnglish } = await import('../../builder/english/nlp.ts');
      const sessions = await openSessions(rt);
      const access = { ...(config.allowedChats ? { allowedChats: config.allowedChats } : {}), ...(config.adminUsers ? { adminUsers: config.adminUsers } : {}) };
      const adapters: ChatAdapter[] = [];
      if (platforms.includes('telegram')) {
        adapters.push(
          new TelegramAdapter({
            token: config.telegramToken!,
            ...(config.telegramApiRoot ? { apiRoot: config.telegramApiRoot } : {}),
            ...(config.telegramLocalFilesDir ? { localFilesDir: config.telegramLocalFilesDir } : {}),
            ...(config.telegramWebhookUrl
              ? { webhook: { url: config.telegramWebhookUrl, port: config.telegramWebhookPort, ...(config.telegramWebhookSecret ? { secretToken: config.telegramWebhookSecret } : {}) } }
              : {}),
            sessions: sessions.manager,
            registry: rt.registry,
            access,
            maxImageBytes: config.maxImageBytes,
            logger,
          }),
        );
      }
      if (platforms.includes('discord')) {
        adapters.push(
          new DiscordAdapter({
            token: config.discordToken!,
            appId: config.discordAppId!,
            ...(config.discordApiUrl ? { apiUrl: config.discordApiUrl } : {}),
            ...(config.discordGuildId ? { guildId: config.discordGuildId } : {}),
            sessions: sessions.manager,
            registry: rt.registry,
            access,
            maxImageBytes: config.maxImageBytes,
            maxUploadBytes: config.discordMaxUploadBytes,
            logger,
          }),
        );
      }
      const stopping = new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      try {
        await Promise.all(adapters.map((a) => a.start()));
      } catch (err) {
        await Promise.allSettled(adapters.map((a) => a.disconnect()));
        await sessions.close();
        await rt.remote.close();
        await rt.pool?.close();
        throw new CliError(`Could not start: ${(err as Error).message.replace(/bot\d+:[\w-]+/g, 'bot[redacted]')}`);
      }
      logger.info({ platforms }, 'serving');
      // Connected: the models load in the pool's threads now, so the first edit does not wait for them.
      rt.pool?.warm().then(
        (threads) => logger.info({ threads: threads.length }, 'models loaded'),
        (err: unknown) => logger.warn({ err }, 'could not load the models ahead of the first edit; they load when an edit needs them'),
      );
      // And the Builder's English layer, on the main thread, on the event loop's next turn.
      void preloadEnglish();
      for (const notice of await sessions.manager.pendingNotices()) {
        const adapter = adapters.find((a) => a.platform === notice.key.platform);
        await adapter?.notify(notice.key, notice.text).catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'could not deliver a notice'));
      }
      const started = Date.now();
      const healthMs = Number(opts.healthInterval) * 1000;
      const health =
        healthMs > 0
          ? setInterval(() => {
              logger.info(
                { uptimeS: Math.round((Date.now() - started) / 1000), inFlight: Object.fromEntries(adapters.map((a) => [a.platform, a.inFlight])), rssMb: Math.round(process.memoryUsage().rss / 1024 / 1024) },
                'health',
              );
            }, healthMs)
          : undefined;
      const signal = await stopping;
      clearInterval(health);
      const graceMs = Number(opts.grace) * 1000;
      logger.info({ signal, graceMs }, 'shutting down: taking no new work, letting running edits finish');
      await Promise.all(adapters.map((a) => a.stopAccepting()));
      const left = await Promise.all(adapters.map((a) => a.drain(graceMs)));
      if (left.some((n) => n > 0)) logger.warn({ left }, 'cancelling edits that outlived the grace period');
      // Cancels what is still running; its listeners tell the users while the adapters are still connected.
      await sessions.close();
      await Promise.all(adapters.map((a) => a.drain(5_000)));
      await Promise.all(adapters.map((a) => a.disconnect()));
      await rt.remote.close();
      await rt.pool?.close();
      logger.info('stopped');
      // A client library may keep a timer alive (a reconnect after a lost connection): it must not keep the process up.
      setTimeout(() => process.exit(process.exitCode ?? 0), 1000).unref();
    });
}
