import { pino, type Logger } from 'pino';
import { errorMessage, isQueryError } from './engine/errors.ts';

/** Secrets that must never reach a log line, wherever they sit in a logged object. */
const REDACT = ['token', 'apiKey', 'api_key', 'authorization', 'password', '*.token', '*.apiKey', '*.authorization', '*.password', 'headers.authorization'];

/** A one-shot command stays quiet; a service (serve, worker) should say it is alive and what it serves. */
const DEFAULT_LEVEL = { command: 'warn', service: 'info' } as const;

/**
 * A logged error, as pino logs one, except a database query error: drizzle puts the query and its parameters
 * (the user's own text) in the message and the stack, so only the driver's message and SQLSTATE are kept.
 */
export function serialiseError(err: unknown): unknown {
  if (!(err instanceof Error) || !isQueryError(err)) return err instanceof Error ? pino.stdSerializers.err(err) : err;
  const code = (err.cause as { code?: unknown } | undefined)?.code;
  return { type: 'DatabaseQueryError', message: errorMessage(err), ...(typeof code === 'string' ? { code } : {}) };
}

/** The process logger: JSON lines on stderr, at the configured level (config.logLevel, from LOG_LEVEL) or the default for this kind of process. */
export function createLogger(level: string | undefined, kind: keyof typeof DEFAULT_LEVEL = 'command'): Logger {
  return pino(
    { level: level ?? DEFAULT_LEVEL[kind], redact: { paths: REDACT, censor: '[redacted]' }, serializers: { err: serialiseError } },
    pino.destination(2),
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });
