/** Error details for logs, without the secrets platform clients put in URLs and messages. */
import { LegoEditError } from '../../src/engine/errors.ts';

/** telegraf's request URLs carry the bot token (`bot123:ABC`); discord.js's carry interaction tokens (`webhooks/<app>/<token>`). */
const SECRETS: ReadonlyArray<readonly [RegExp, string]> = [
  [/bot\d+:[\w-]+/g, 'bot[redacted]'],
  [/webhooks\/\d+\/[\w-]+/g, 'webhooks/[redacted]'],
];

function redact(text: string): string {
  return SECRETS.reduce((t, [pattern, mask]) => t.replace(pattern, mask), text);
}

/** What a log line says about an error: our own code and message, or a platform error's status fields, never a token. */
export function describe(err: unknown): Record<string, unknown> {
  // The cause says why (a DNS failure behind "network error", a TypeError behind a bad link): it goes to the log too.
  const cause = err instanceof Error && err.cause !== undefined ? { cause: describe(err.cause) } : {};
  if (err instanceof LegoEditError) return { code: err.code, message: err.message, ...cause };
  if (err instanceof Error) {
    // Platform API errors (DiscordAPIError, telegraf's TelegramError) carry their status as plain fields.
    const fields = Object.fromEntries(
      (['code', 'status', 'method'] as const).flatMap((k) => {
        const v = (err as unknown as Record<string, unknown>)[k];
        return typeof v === 'string' || typeof v === 'number' ? [[k, v]] : [];
      }),
    );
    return { name: err.name, ...fields, message: redact(err.message), ...(err.stack ? { stack: redact(err.stack) } : {}), ...cause };
  }
  return { message: redact(String(err)) };
}
