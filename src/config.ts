/**
 * All configuration in one place: environment variables, optionally overlaid on
 * a config file (YAML or JSON, at LEGO_EDIT_CONFIG or <data dir>/config.yaml).
 * Environment wins. Validated at start-up with one clear message per bad field.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { LegoEditError } from './engine/errors.ts';

const csv = z
  .union([z.string(), z.array(z.union([z.string(), z.number()]))])
  .transform((v) => (Array.isArray(v) ? v.map(String) : v.split(',')).map((s) => s.trim()).filter(Boolean));
const int = (min: number) => z.coerce.number().int().min(min);

/** Field name → environment variable, with its schema. Config-file keys are the field names. */
export const CONFIG_FIELDS = {
  dataDir: { env: 'LEGO_EDIT_DATA_DIR', schema: z.string().min(1).optional(), doc: 'Data directory: database, images, logs' },
  databaseUrl: { env: 'DATABASE_URL', schema: z.string().url().optional(), doc: 'PostgreSQL URL; embedded PGlite when unset' },
  modelsDir: { env: 'LEGO_EDIT_MODELS_DIR', schema: z.string().min(1).optional(), doc: 'User-supplied ONNX models (default <data dir>/models)' },
  logLevel: { env: 'LOG_LEVEL', schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn'), doc: 'pino log level' },

  openaiBaseUrl: { env: 'OPENAI_BASE_URL', schema: z.string().url().optional(), doc: 'OpenAI-compatible endpoint for the MLLM Builder' },
  openaiApiKey: { env: 'OPENAI_API_KEY', schema: z.string().min(1).optional(), doc: 'API key for that endpoint (never logged)' },
  builderModel: { env: 'BUILDER_MODEL', schema: z.string().min(1).optional(), doc: 'Model name; setting it enables the MLLM Builder' },
  builderMaxRepairs: { env: 'BUILDER_MAX_REPAIRS', schema: int(0).default(2), doc: 'Self-repair attempts after an invalid plan' },
  builderTimeoutMs: { env: 'BUILDER_TIMEOUT_MS', schema: int(1).default(60_000), doc: 'Timeout of one Builder call' },

  workerUrl: { env: 'LEGO_EDIT_WORKER_URL', schema: z.string().url().optional(), doc: 'HTTP GPU worker serving bricks' },
  workerToken: { env: 'LEGO_EDIT_WORKER_TOKEN', schema: z.string().min(1).optional(), doc: 'Bearer token shared with the worker (never logged)' },
  redisUrl: { env: 'REDIS_URL', schema: z.string().optional(), doc: 'Redis for BullMQ brick queues' },
  comfyuiUrl: { env: 'COMFYUI_URL', schema: z.string().url().optional(), doc: 'ComfyUI server for ComfyUI-backed bricks' },
  bricksManifest: { env: 'LEGO_EDIT_BRICKS', schema: z.string().min(1).optional(), doc: 'Manifest of config-declared bricks (YAML/JSON)' },
  remoteTransport: { env: 'LEGO_EDIT_REMOTE_TRANSPORT', schema: z.enum(['http', 'queue']).optional(), doc: 'http or queue; default http when a worker URL is set, else queue when REDIS_URL is' },
  queuePrefix: { env: 'LEGO_EDIT_QUEUE_PREFIX', schema: z.string().regex(/^[A-Za-z0-9_.-]+$/).default('lego-edit'), doc: 'Redis key prefix of the brick queues' },
  queueAttempts: { env: 'LEGO_EDIT_QUEUE_ATTEMPTS', schema: int(1).default(3), doc: 'Tries per queued brick job (retries back off exponentially)' },
  queueNoWorkerMs: { env: 'LEGO_EDIT_QUEUE_NO_WORKER_MS', schema: int(100).default(15_000), doc: 'A queued step fails after this long with no live worker' },
  queueLockMs: { env: 'LEGO_EDIT_QUEUE_LOCK_MS', schema: int(500).default(10_000), doc: 'Worker job lock; a dead worker’s job moves on after about this long' },
  remoteJobTimeoutMs: { env: 'LEGO_EDIT_REMOTE_JOB_TIMEOUT_MS', schema: int(1).default(5 * 60_000), doc: 'Longest one brick may run on a worker' },
  remoteMaxBytes: { env: 'LEGO_EDIT_REMOTE_MAX_BYTES', schema: int(1024).default(64 * 1024 * 1024), doc: 'Largest image payload of one remote call' },
  remoteEncoding: { env: 'LEGO_EDIT_REMOTE_ENCODING', schema: z.enum(['png', 'raw']).default('png'), doc: 'Pixels on the wire: png (smaller) or raw (faster on a LAN)' },

  telegramToken: { env: 'TELEGRAM_BOT_TOKEN', schema: z.string().min(1).optional(), doc: 'Telegram bot token' },
  telegramApiRoot: { env: 'TELEGRAM_API_ROOT', schema: z.string().url().optional(), doc: 'Bot API root (self-hosted server or test fake)' },
  telegramWebhookUrl: { env: 'TELEGRAM_WEBHOOK_URL', schema: z.string().url().optional(), doc: 'Public URL for webhook mode; long polling when unset' },
  telegramWebhookPort: { env: 'TELEGRAM_WEBHOOK_PORT', schema: int(1).max(65535).default(8443), doc: 'Local port the webhook listener binds (behind your HTTPS proxy)' },
  telegramWebhookSecret: { env: 'TELEGRAM_WEBHOOK_SECRET_TOKEN', schema: z.string().regex(/^[A-Za-z0-9_-]{1,256}$/).optional(), doc: 'Secret Telegram sends with each webhook call (never logged)' },
  discordToken: { env: 'DISCORD_TOKEN', schema: z.string().min(1).optional(), doc: 'Discord bot token' },
  discordAppId: { env: 'DISCORD_APP_ID', schema: z.string().min(1).optional(), doc: 'Discord application id' },
  discordApiUrl: { env: 'DISCORD_API_URL', schema: z.string().url().optional(), doc: 'Discord REST base (the gateway URL follows from it)' },
  discordGuildId: { env: 'DISCORD_GUILD_ID', schema: z.string().min(1).optional(), doc: 'Register slash commands in this guild only' },
  discordMaxUploadBytes: { env: 'DISCORD_MAX_UPLOAD_BYTES', schema: int(1024).default(10 * 1024 * 1024), doc: 'Largest result the bot uploads to Discord; bigger ones are re-encoded' },
  allowedChats: { env: 'ALLOWED_CHATS', schema: csv.optional(), doc: 'Comma-separated chat/guild/channel ids allowed; all when unset' },
  adminUsers: { env: 'ADMIN_USERS', schema: csv.optional(), doc: 'Comma-separated admin user ids' },

  maxImageBytes: { env: 'MAX_IMAGE_BYTES', schema: int(1).default(25 * 1024 * 1024), doc: 'Largest accepted upload' },
  maxImagePixels: { env: 'MAX_IMAGE_PIXELS', schema: int(1).default(40_000_000), doc: 'Largest accepted width × height' },

  maxPendingPerUser: { env: 'MAX_PENDING_PER_USER', schema: int(1).default(10), doc: 'Turns one user may have queued or running at once' },
  turnsPerMinute: { env: 'TURNS_PER_MINUTE', schema: int(1).default(30), doc: 'Turns one user may start per minute' },
  maxImagesPerConversation: { env: 'MAX_IMAGES_PER_CONVERSATION', schema: int(1).default(200), doc: 'Stored images kept per conversation (oldest pruned)' },
  maxBlobBytes: { env: 'MAX_BLOB_BYTES', schema: int(1).default(5 * 1024 * 1024 * 1024), doc: 'Total size of stored images (oldest pruned)' },
  undoDepth: { env: 'UNDO_DEPTH', schema: int(1).default(20), doc: 'Undo steps kept per conversation' },
} as const;

type Fields = typeof CONFIG_FIELDS;
export type Config = { [K in keyof Fields]: z.output<Fields[K]['schema']> } & { readonly dataDir: string };

export class ConfigError extends LegoEditError {
  constructor(readonly problems: readonly string[]) {
    super('config', `Invalid configuration:\n${problems.map((p) => `- ${p}`).join('\n')}`);
  }
}

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_DATA_HOME) return join(env.XDG_DATA_HOME, 'lego-edit');
  return join(homedir(), '.local', 'share', 'lego-edit');
}

function readConfigFile(path: string): Record<string, unknown> {
  const text = readFileSync(path, 'utf8');
  const parsed: unknown = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError([`${path}: expected a mapping of settings`]);
  return parsed as Record<string, unknown>;
}

/** Loads and validates configuration; throws ConfigError naming every bad field. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDirGuess = env.LEGO_EDIT_DATA_DIR || defaultDataDir(env);
  const filePath = env.LEGO_EDIT_CONFIG || join(dataDirGuess, 'config.yaml');
  let file: Record<string, unknown> = {};
  if (env.LEGO_EDIT_CONFIG || existsSync(filePath)) {
    try {
      file = readConfigFile(filePath);
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError([`${filePath}: ${(err as Error).message}`]);
    }
  }
  const problems: string[] = [];
  const known = new Set(Object.keys(CONFIG_FIELDS));
  for (const key of Object.keys(file)) if (!known.has(key)) problems.push(`${filePath}: unknown setting "${key}"`);
  const out: Record<string, unknown> = {};
  for (const [field, { env: name, schema }] of Object.entries(CONFIG_FIELDS)) {
    const raw = env[name] !== undefined && env[name] !== '' ? env[name] : file[field];
    const result = (schema as z.ZodType).safeParse(raw);
    if (result.success) out[field] = result.data;
    else problems.push(`${name} (${field}): ${result.error.issues[0]?.message ?? 'invalid'}${name.match(/TOKEN|KEY/) ? '' : ` (got ${JSON.stringify(raw)})`}`);
  }
  if (problems.length) throw new ConfigError(problems);
  out.dataDir ??= dataDirGuess;
  return out as Config;
}

/** The documentation table for `--help` and the README. */
export function configHelp(): string {
  return Object.values(CONFIG_FIELDS)
    .map((f) => `  ${f.env.padEnd(22)} ${f.doc}`)
    .join('\n');
}
