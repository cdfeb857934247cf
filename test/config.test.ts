import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Config, ConfigError, loadConfig } from '../src/config.ts';

/** An empty data directory, so no config.yaml from the machine running the tests leaks in. */
function dataDir(): string {
  return mkdtempSync(join(tmpdir(), 'lego-config-'));
}

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig({ LEGO_EDIT_DATA_DIR: dataDir(), ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig({ LEGO_EDIT_DATA_DIR: dataDir(), ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

function withFile(name: string, text: string, env: Record<string, string> = {}): Config {
  const dir = dataDir();
  const file = join(dir, name);
  writeFileSync(file, text);
  return loadConfig({ LEGO_EDIT_DATA_DIR: dir, LEGO_EDIT_CONFIG: file, ...env });
}

function fileProblems(name: string, text: string, env: Record<string, string> = {}): readonly string[] {
  try {
    withFile(name, text, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('loadConfig: one field at a time', () => {
  it('accepts an empty environment with the documented defaults', () => {
    const c = loadConfig({ LEGO_EDIT_DATA_DIR: dataDir() });
    expect([c.logLevel, c.queueAttempts, c.remoteEncoding, c.workerUrl, c.redisUrl]).toEqual([undefined, 3, 'png', undefined, undefined]);
  });

  it('rejects a Redis address without its scheme, which ioredis would take for a socket path', () => {
    expect(problemsOf({ REDIS_URL: 'localhost:6379' })).toEqual([
      'REDIS_URL (redisUrl): expected redis://[user:password@]host:port[/db] (or rediss:// for TLS) (got "localhost:6379")',
    ]);
    expect(problemsOf({ REDIS_URL: 'http://127.0.0.1:6379' })).toHaveLength(1);
    expect(loadConfig({ LEGO_EDIT_DATA_DIR: dataDir(), REDIS_URL: 'rediss://:pw@redis.internal:6380/2' }).redisUrl).toBe('rediss://:pw@redis.internal:6380/2');
  });

  it('rejects worker and ComfyUI addresses that are not http(s) URLs', () => {
    expect(problemsOf({ LEGO_EDIT_WORKER_URL: 'gpu-host:8765', LEGO_EDIT_WORKER_TOKEN: 't' })).toEqual([
      'LEGO_EDIT_WORKER_URL (workerUrl): expected http://host:port or https://host:port (got "gpu-host:8765")',
    ]);
    expect(problemsOf({ COMFYUI_URL: 'ws://127.0.0.1:8188' })).toHaveLength(1);
  });

  it('reports every bad field at once, one line each', () => {
    const err = errorOf({ LOG_LEVEL: 'loud', LEGO_EDIT_QUEUE_ATTEMPTS: '0', REDIS_URL: 'localhost:6379', LEGO_EDIT_REMOTE_ENCODING: 'jpeg' });
    expect(err.problems.map((p) => p.split(' ')[0])).toEqual(['LOG_LEVEL', 'REDIS_URL', 'LEGO_EDIT_QUEUE_ATTEMPTS', 'LEGO_EDIT_REMOTE_ENCODING']);
    expect(err.message.split('\n')).toHaveLength(1 + 4);
    expect(err.code).toBe('config');
  });
});

describe('loadConfig: settings that do not go together', () => {
  it('a worker URL without its token', () => {
    expect(problemsOf({ LEGO_EDIT_WORKER_URL: 'http://gpu:8765' })).toEqual([
      'LEGO_EDIT_WORKER_URL (workerUrl) is set but LEGO_EDIT_WORKER_TOKEN (workerToken) is not: the worker refuses calls without its shared secret; set the token the worker has',
    ]);
  });

  it('the http transport without a worker URL, and the queue transport without Redis', () => {
    expect(problemsOf({ LEGO_EDIT_REMOTE_TRANSPORT: 'http', LEGO_EDIT_WORKER_TOKEN: 't' })).toEqual([
      'LEGO_EDIT_REMOTE_TRANSPORT (remoteTransport) is http but LEGO_EDIT_WORKER_URL (workerUrl) is not set: say where the worker listens',
    ]);
    expect(problemsOf({ LEGO_EDIT_REMOTE_TRANSPORT: 'queue', LEGO_EDIT_WORKER_URL: 'http://gpu:8765', LEGO_EDIT_WORKER_TOKEN: 't' })).toEqual([
      'LEGO_EDIT_REMOTE_TRANSPORT (remoteTransport) is queue but REDIS_URL (redisUrl) is not set: say which Redis holds the brick queues',
    ]);
  });

  it('reports a bad field once, not again as a missing half of a pair', () => {
    expect(problemsOf({ LEGO_EDIT_REMOTE_TRANSPORT: 'queue', REDIS_URL: 'localhost:6379' })).toEqual([expect.stringMatching(/^REDIS_URL \(redisUrl\): expected redis:\/\//)]);
  });

  it('reports field and combination problems together', () => {
    expect(problemsOf({ LOG_LEVEL: 'loud', LEGO_EDIT_WORKER_URL: 'http://gpu:8765' }).map((p) => p.split(' ')[0])).toEqual(['LOG_LEVEL', 'LEGO_EDIT_WORKER_URL']);
  });

  it('accepts the combinations that work: URL with token, a token alone (the worker host), the queue with Redis', () => {
    expect(problemsOf({ LEGO_EDIT_WORKER_URL: 'http://gpu:8765', LEGO_EDIT_WORKER_TOKEN: 't' })).toEqual([]);
    expect(problemsOf({ LEGO_EDIT_WORKER_TOKEN: 't' })).toEqual([]);
    expect(problemsOf({ LEGO_EDIT_REMOTE_TRANSPORT: 'queue', REDIS_URL: 'redis://127.0.0.1:6379' })).toEqual([]);
  });
});

describe('loadConfig: the config file', () => {
  it('accepts the environment names as keys, as well as the field names', () => {
    const c = withFile('config.yaml', ['OPENAI_API_KEY: sk-file', 'LEGO_EDIT_WORKER_URL: http://gpu:8765', 'workerToken: from-file', 'queueAttempts: 5'].join('\n'));
    expect([c.openaiApiKey, c.workerUrl, c.workerToken, c.queueAttempts]).toEqual(['sk-file', 'http://gpu:8765', 'from-file', 5]);
  });

  it('lets the environment win over the file, whichever name the file used', () => {
    const c = withFile('config.json', JSON.stringify({ REDIS_URL: 'redis://file:6379', logLevel: 'debug' }), { REDIS_URL: 'redis://env:6379' });
    expect([c.redisUrl, c.logLevel]).toEqual(['redis://env:6379', 'debug']);
  });

  it('checks combinations across the file and the environment', () => {
    expect(fileProblems('config.yaml', 'LEGO_EDIT_WORKER_URL: http://gpu:8765')).toEqual([expect.stringMatching(/^LEGO_EDIT_WORKER_URL \(workerUrl\) is set but LEGO_EDIT_WORKER_TOKEN/)]);
    expect(fileProblems('config.yaml', 'LEGO_EDIT_WORKER_URL: http://gpu:8765', { LEGO_EDIT_WORKER_TOKEN: 't' })).toEqual([]);
  });

  it('refuses the same setting under both names, and names unknown keys with a suggestion', () => {
    const found = fileProblems('config.yaml', ['workerUrl: http://a:1', 'LEGO_EDIT_WORKER_URL: http://b:2', 'workerToken: t', 'openai_api_key: x', 'colour: red'].join('\n'));
    expect(found).toEqual([
      expect.stringMatching(/config\.yaml: "LEGO_EDIT_WORKER_URL" and "workerUrl" are the same setting; keep one$/),
      expect.stringMatching(/config\.yaml: unknown setting "openai_api_key" \(did you mean openaiApiKey or OPENAI_API_KEY\?\)$/),
      expect.stringMatching(/config\.yaml: unknown setting "colour" \(keys are field names/),
    ]);
  });

  it('ignores keys that only look like object properties', () => {
    expect(fileProblems('config.json', JSON.stringify({ toString: 1 }))).toEqual([expect.stringMatching(/unknown setting "toString"/)]);
  });
});

describe('loadConfig: secrets never appear in error text', () => {
  const SECRET = 'hunter2-s3cret';

  it('does not echo bad tokens and keys', () => {
    const err = errorOf({ TELEGRAM_WEBHOOK_SECRET_TOKEN: `has spaces ${SECRET}`, LEGO_EDIT_REMOTE_TRANSPORT: 'queue', LEGO_EDIT_WORKER_TOKEN: SECRET });
    expect(err.problems).toHaveLength(2);
    expect(err.message).toContain('TELEGRAM_WEBHOOK_SECRET_TOKEN');
    expect(err.message).not.toContain(SECRET);
  });

  it('hides the password of a URL it echoes, even one too broken to parse', () => {
    const err = errorOf({
      REDIS_URL: `redis//:${SECRET}@redis:6379`,
      DATABASE_URL: `postgres//app:${SECRET}@db/app`,
      COMFYUI_URL: `ftp://user:${SECRET}@host/x`,
    });
    expect(err.problems).toHaveLength(3);
    expect(err.message).not.toContain(SECRET);
    expect(err.message).toContain('***@redis:6379');
    expect(err.message).toContain('ftp://***@host/x');
  });

  it('names the missing token without quoting the URL that carries credentials', () => {
    const err = errorOf({ LEGO_EDIT_WORKER_URL: `http://bot:${SECRET}@gpu:8765` });
    expect(err.problems).toHaveLength(1);
    expect(err.message).not.toContain(SECRET);
  });

  it('reports a config file syntax error by position, not by quoting the line', () => {
    const yaml = fileProblems('config.yaml', `openaiApiKey: ${SECRET}: oops\nlogLevel: info`);
    expect(yaml).toEqual([expect.stringMatching(/config\.yaml: not valid YAML: .*line 1/)]);
    expect(yaml.join('\n')).not.toContain(SECRET);
    const json = fileProblems('config.json', `{"openaiApiKey": ${SECRET}}`);
    expect(json).toEqual([expect.stringMatching(/config\.json: not valid JSON/)]);
    expect(json.join('\n')).not.toContain(SECRET);
  });

  it('does not echo a secret given with the wrong type in the file', () => {
    const found = fileProblems('config.yaml', 'OPENAI_API_KEY: [1234567, 7654321]');
    expect(found).toEqual([expect.stringMatching(/^OPENAI_API_KEY \(openaiApiKey\): /)]);
    expect(found[0]).not.toContain('1234567');
  });
});
