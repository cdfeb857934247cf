import { pino, type Logger } from 'pino';

/** Secrets that must never reach a log line, wherever they sit in a logged object. */
const REDACT = ['token', 'apiKey', 'api_key', 'authorization', 'password', '*.token', '*.apiKey', '*.authorization', '*.password', 'headers.authorization'];

/** The process logger: JSON lines on stderr, level from LOG_LEVEL (default "warn" so the CLI stays quiet). */
export function createLogger(level = process.env.LOG_LEVEL ?? 'warn'): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' } }, pino.destination(2));
}

export const silentLogger: Logger = pino({ level: 'silent' });
