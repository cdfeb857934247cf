/**
 * All configuration in one place: environment variables, optionally overlaid on
 * a config file (YAML or JSON, at LEGO_EDIT_CONFIG or <data dir>/config.yaml)
 * whose keys are the field names or the environment names. Environment wins.
 * Validated at start-up with one clear line per bad field and per pair of
 * settings that do not go together; secrets never appear in those lines.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type * as Yaml from 'yaml';
import { z } from 'zod';
import { LegoEditError } from './engine/errors.ts';

const csv = z
  .union([z.string(), z.array(z.union([z.string(), z.number()]))])
  .transform((v) => (Array.isArray(v) ? v.map(String) : v.split(',')).map((s) => s.trim()).filter(Boolean));
const int = (min: number) => z.coerce.number().int().min(min);
/**
 * A URL with one of `protocols`. A bare "localhost:6379" passes a generic URL
 * check (as the scheme "localhost:") and ioredis would read it as a socket
 * path, so the remote settings insist on the scheme they are used with.
 */
const urlWith = (protocols: readonly string[], form: string) =>
  z.string().refine(
    (v) => {
      try {
        const u = new URL(v);
        return protocols.includes(u.protocol) && u.hostname !== '';
      } catch {
        return false;
      }
    },
    { message: `expected ${form}` },
  );
const httpUrl = urlWith(['http:', 'https:'], 'http://host:port or https://host:port');
const redisUrl = urlWith(['redis:', 'rediss:'], 'redis://[user:password@]host:port[/db] (or rediss:// for TLS)');

/** Field name → environment variable, with its schema. Config-file keys are either. */
export const CONFIG_FIELDS = {
  dataDir: { env: 'LEGO_EDIT_DATA_DIR', schema: z.string().min(1).optional(), doc: 'Data directory: database, images, logs' },
  databaseUrl: { env: 'DATABASE_URL', schema: z.string().url().optional(), doc: 'PostgreSQL URL; embedded PGlite when unset' },
  modelsDir: { env: 'LEGO_EDIT_MODELS_DIR', schema: z.string().min(1).optional(), doc: 'User-supplied ONNX models (default <data dir>/models)' },
  logLevel: {
    env: 'LOG_LEVEL',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
    doc: 'pino log level (default warn for commands, info for serve and worker)',
  },

  brickThreads: {
    env: 'LEGO_EDIT_BRICK_THREADS',
    schema: int(0).optional(),
    doc: 'Worker threads for CPU-heavy bricks (default: one per core); 0 runs every brick on the main thread',
  },

  openaiBaseUrl: { env: 'OPENAI_BASE_URL', schema: z.string().url().optional(), doc: 'OpenAI-compatible endpoint for the MLLM Builder' },
  openaiApiKey: { env: 'OPENAI_API_KEY', schema: z.string().min(1).optional(), doc: 'API key for that endpoint (never logged)' },
  builderModel: { env: 'BUILDER_MODEL', schema: z.string().min(1).optional(), doc: 'Model name; setting it enables the MLLM Builder' },
  builderMaxRepairs: { env: 'BUILDER_MAX_REPAIRS', schema: int(0).default(2), doc: 'Self-repair attempts after an invalid plan' },
  runRepairs: {
    env: 'RUN_REPAIRS',
    schema: int(0).default(2),
    doc: 'New plans asked of the Builder after a run fails in a way another plan can avoid (an empty mask, a brick that cannot run here), in chat and `edit` alike',
  },
  builderTimeoutMs: { env: 'BUILDER_TIMEOUT_MS', schema: int(1).default(60_000), doc: 'Timeout of one Builder call' },
  intentModel: {
    env: 'INTENT_MODEL',
    schema: z.string().min(1).optional(),
    doc: 'Model on the Builder endpoint asked what free text means (edit further, revise, undo…): default BUILDER_MODEL; "off" for the deterministic rules alone',
  },
  criticModel: {
    env: 'CRITIC_MODEL',
    schema: z.string().min(1).optional(),
    doc: 'Model on the Builder endpoint that judges each result before it is sent (done, partly, wrong): default BUILDER_MODEL; "off" for the offline checks alone',
  },
  criticTimeoutMs: { env: 'CRITIC_TIMEOUT_MS', schema: int(1).default(20_000), doc: 'After this long the result goes out unchecked by the critic model' },
  intentTimeoutMs: { env: 'INTENT_TIMEOUT_MS', schema: int(1).default(10_000), doc: 'After this long the deterministic intent stands' },

  workerUrl: { env: 'LEGO_EDIT_WORKER_URL', schema: httpUrl.optional(), doc: 'HTTP GPU worker serving bricks' },
  workerToken: { env: 'LEGO_EDIT_WORKER_TOKEN', schema: z.string().min(1).optional(), doc: 'Bearer token shared with the worker (never logged)' },
  redisUrl: { env: 'REDIS_URL', schema: redisUrl.optional(), doc: 'Redis for BullMQ brick queues (redis://[:password@]host:port)' },
  comfyuiUrl: { env: 'COMFYUI_URL', schema: httpUrl.optional(), doc: 'ComfyUI server for ComfyUI-backed bricks' },
  bricksManifest: {
    env: 'LEGO_EDIT_BRICKS',
    schema: z.string().min(1).optional(),
    doc: 'Manifests of config-declared bricks (YAML/JSON): a file, a comma-separated list, or a directory (examples/comfyui-pack/current)',
  },
  gpuRoutes: {
    env: 'LEGO_EDIT_GPU_ROUTES',
    schema: z
      .string()
      .regex(/^\s*[A-Za-z][A-Za-z0-9-]*\s*=\s*(gpu|cpu-first|cpu)\s*(,\s*[A-Za-z][A-Za-z0-9-]*\s*=\s*(gpu|cpu-first|cpu)\s*)*$/, 'BRICK=gpu|cpu-first|cpu, comma-separated')
      .optional(),
    doc: 'Which backend runs a brick that has both: BRICK=gpu (every request on the GPU host), cpu-first (the CPU variant where it can), cpu (never the GPU host); e.g. FLUX-INPAINT=gpu,FLUX-STYLE=cpu-first',
  },
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
  telegramLocalFilesDir: {
    env: 'TELEGRAM_LOCAL_FILES_DIR',
    schema: z.string().min(1).optional(),
    doc: 'With a self-hosted Bot API server in --local mode on this machine: its --dir, the only place files are read from (no 20 MB limit)',
  },
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
  maxImageSide: { env: 'MAX_IMAGE_SIDE', schema: int(1).default(16_384), doc: 'Longest accepted side of an image, in pixels' },

  maxPendingPerUser: { env: 'MAX_PENDING_PER_USER', schema: int(1).default(10), doc: 'Turns one user may have queued or running at once' },
  turnsPerMinute: { env: 'TURNS_PER_MINUTE', schema: int(1).default(30), doc: 'Turns one user may start per minute' },
  maxImagesPerConversation: { env: 'MAX_IMAGES_PER_CONVERSATION', schema: int(1).default(200), doc: 'Stored images kept per conversation (oldest pruned)' },
  maxBlobBytes: { env: 'MAX_BLOB_BYTES', schema: int(1).default(5 * 1024 * 1024 * 1024), doc: 'Total size of stored images (oldest pruned)' },
  undoDepth: { env: 'UNDO_DEPTH', schema: int(1).default(20), doc: 'Undo steps kept per conversation' },
} as const;

type Fields = typeof CONFIG_FIELDS;
export type Config = { [K in keyof Fields]: z.output<Fields[K]['schema']> } & { readonly dataDir: string };

/** Every field's default, read from its schema, so a default is written once, in the table above. */
export function configDefaults(): Omit<Config, 'dataDir'> {
  const out: Record<string, unknown> = {};
  for (const [field, { schema }] of Object.entries(CONFIG_FIELDS)) {
    const parsed = (schema as z.ZodType).safeParse(undefined);
    out[field] = parsed.success ? parsed.data : undefined;
  }
  return out as Omit<Config, 'dataDir'>;
}

export class ConfigError extends LegoEditError {
  constructor(readonly problems: readonly string[]) {
    super('config', `Invalid configuration:\n${problems.map((p) => `- ${p}`).join('\n')}`);
  }
}

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_DATA_HOME) return join(env.XDG_DATA_HOME, 'lego-edit');
  return join(homedir(), '.local', 'share', 'lego-edit');
}

/** Values whose env name says secret are never echoed, whatever their shape. */
const SECRET_NAME = /TOKEN|KEY|SECRET|PASSWORD/;

/** A value fit for an error line: credentials in a URL (well-formed or not) become "***". */
function shown(raw: unknown): string {
  const text = JSON.stringify(raw) ?? String(raw);
  // Everything up to the last "@" after the scheme is user:password, even in a URL too broken to parse.
  return text.replace(/^("?[a-z][a-z0-9+.-]*:\/\/|"?)[^\s]*@/i, '$1***@');
}

/** A syntax error's position and kind without the offending text, which may be a secret on that line. */
function syntaxProblem(err: unknown, json: boolean): string {
  const message = err instanceof Error ? err.message : String(err);
  if (json) {
    const at = /position (\d+)/.exec(message);
    return `not valid JSON${at ? ` (at position ${at[1]})` : ''}`;
  }
  // yaml's first line names the problem and its line and column; the lines after quote the source.
  return `not valid YAML: ${message.split('\n')[0]!.replace(/:\s*$/, '')}`;
}

/** The YAML parser, loaded only when there is a config file to read: most starts have none. */
function parseYaml(text: string): unknown {
  const yaml = createRequire(import.meta.url)('yaml') as typeof Yaml;
  return yaml.parse(text);
}

function readConfigFile(path: string): Record<string, unknown> {
  const text = readFileSync(path, 'utf8');
  const json = path.endsWith('.json');
  let parsed: unknown;
  try {
    parsed = json ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError([`${path}: ${syntaxProblem(err, json)}`]);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError([`${path}: expected a mapping of settings`]);
  return parsed as Record<string, unknown>;
}

function label(field: keyof typeof CONFIG_FIELDS): string {
  return `${CONFIG_FIELDS[field].env} (${field})`;
}

const squash = (k: string): string => k.toLowerCase().replace(/[^a-z0-9]/g, '');

/** File keys → field names: `workerUrl` and `LEGO_EDIT_WORKER_URL` both name the same setting. */
function fileSettings(file: Record<string, unknown>, filePath: string, problems: string[]): Record<string, unknown> {
  const byEnv = new Map(Object.entries(CONFIG_FIELDS).map(([field, f]) => [f.env as string, field]));
  const out: Record<string, unknown> = {};
  const from: Record<string, string> = {};
  for (const [key, value] of Object.entries(file)) {
    const field = Object.hasOwn(CONFIG_FIELDS, key) ? key : byEnv.get(key);
    if (!field) {
      const near = Object.entries(CONFIG_FIELDS).find(([f, { env }]) => squash(f) === squash(key) || squash(env) === squash(key));
      problems.push(`${filePath}: unknown setting "${key}"${near ? ` (did you mean ${near[0]} or ${near[1].env}?)` : ' (keys are field names like workerUrl or environment names like LEGO_EDIT_WORKER_URL; see lego-edit --help)'}`);
      continue;
    }
    if (Object.hasOwn(out, field)) {
      problems.push(`${filePath}: "${key}" and "${from[field]}" are the same setting; keep one`);
      continue;
    }
    out[field] = value;
    from[field] = key;
  }
  return out;
}

/** Settings that are each valid but do not work together: the fields involved, the mistake, and its fix. */
const COMBINATIONS: readonly { fields: readonly (keyof typeof CONFIG_FIELDS)[]; wrong: (c: Record<string, unknown>) => boolean; problem: string }[] = [
  {
    fields: ['workerUrl', 'workerToken'],
    wrong: (c) => Boolean(c.workerUrl) && !c.workerToken,
    problem: `${label('workerUrl')} is set but ${label('workerToken')} is not: the worker refuses calls without its shared secret; set the token the worker has`,
  },
  {
    fields: ['remoteTransport', 'workerUrl'],
    wrong: (c) => c.remoteTransport === 'http' && !c.workerUrl,
    problem: `${label('remoteTransport')} is http but ${label('workerUrl')} is not set: say where the worker listens`,
  },
  {
    fields: ['remoteTransport', 'redisUrl'],
    wrong: (c) => c.remoteTransport === 'queue' && !c.redisUrl,
    problem: `${label('remoteTransport')} is queue but ${label('redisUrl')} is not set: say which Redis holds the brick queues`,
  },
];

/** Loads and validates configuration; throws ConfigError naming every bad field and every bad combination. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDirGuess = env.LEGO_EDIT_DATA_DIR || defaultDataDir(env);
  const filePath = env.LEGO_EDIT_CONFIG || join(dataDirGuess, 'config.yaml');
  let raw: Record<string, unknown> = {};
  if (env.LEGO_EDIT_CONFIG || existsSync(filePath)) {
    try {
      raw = readConfigFile(filePath);
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError([`${filePath}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
    }
  }
  const problems: string[] = [];
  const file = fileSettings(raw, filePath, problems);
  const out: Record<string, unknown> = {};
  const invalid = new Set<string>();
  for (const [field, { env: name, schema }] of Object.entries(CONFIG_FIELDS)) {
    const value = env[name] !== undefined && env[name] !== '' ? env[name] : file[field];
    const result = (schema as z.ZodType).safeParse(value);
    if (result.success) out[field] = result.data;
    else {
      invalid.add(field);
      problems.push(`${name} (${field}): ${result.error.issues[0]?.message ?? 'invalid'}${SECRET_NAME.test(name) ? '' : ` (got ${shown(value)})`}`);
    }
  }
  // A combination is judged only when its fields are valid one by one, so each mistake is reported once.
  for (const c of COMBINATIONS) if (!c.fields.some((f) => invalid.has(f)) && c.wrong(out)) problems.push(c.problem);
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
