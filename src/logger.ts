import { pino, type Logger } from 'pino';

/** Secrets that must never reach a log line, wherever they sit in a logged object. */
const REDACT = ['token', 'apiKey', 'api_key', 'authorization', 'password', '*.token', '*.apiKey', '*.authorization', '*.password', 'headers.authorization'];

/** A one-shot command stays quiet; a service (serve, worker) should say it is alive and what it serves. */
const DEFAULT_LEVEL = { command: 'warn', service: 'info' } as const;

/** The process logger: JSON lines on stderr, at the configured level (config.logLevel, from LOG_LEVEL) or the default for this kind of process. */
export function createLogger(level: string | undefined, kind: keyof typeof DEFAULT_LEVEL = 'command'): Logger {
  return pino({ level: level ?? DEFAULT_LEVEL[kind], redact: { paths: REDACT, censor: '[redacted]' } }, pino.destination(2));
}

export const silentLogger: Logger = pino({ level: 'silent' });
