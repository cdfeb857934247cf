/**
 * Secrets never leave the process: `lego-edit serve` runs with its Telegram
 * token, OpenAI key and worker token set to recognisable canaries, through every
 * error path it can be driven into — the platform down, the platform refusing
 * the token, the model refusing the key (and echoing it back, as OpenAI's 401
 * does), the GPU worker refusing its token — at the most verbose log level. No
 * canary may appear in its output, its logs, or any file in its data directory.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../fakes/chat-platform-http.ts';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai-server.ts';
import { FakeTelegramBotApi } from '../fakes/telegram-bot-api.ts';
import { colourPhoto } from '../adapters/telegram/session-harness.ts';
import { repoRoot } from '../support/shared.ts';

const canary = (what: string): string => `CANARY${what}${randomBytes(8).toString('hex')}`;
const TELEGRAM_SECRET = canary('tg');
const TELEGRAM_TOKEN = `987654:${TELEGRAM_SECRET}`;
const OPENAI_KEY = `sk-${canary('oa')}`;
const WORKER_TOKEN = canary('wk');
const CANARIES = [TELEGRAM_SECRET, OPENAI_KEY.slice(3), WORKER_TOKEN];

interface Served {
  output: string;
  exit: Promise<number | null>;
  stop(): Promise<void>;
}

/** Starts `serve` with every secret set, logging at debug; output is stdout and stderr together. */
function serve(dir: string, env: Record<string, string>): Served {
  const child = spawn(process.execPath, [join(repoRoot, 'bin/lego-edit.js'), 'serve', '--health-interval', '1', '--grace', '1'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      LEGO_EDIT_DATA_DIR: dir,
      LOG_LEVEL: 'debug',
      TELEGRAM_BOT_TOKEN: TELEGRAM_TOKEN,
      OPENAI_API_KEY: OPENAI_KEY,
      LEGO_EDIT_WORKER_TOKEN: WORKER_TOKEN,
      DISCORD_TOKEN: '',
      INTENT_MODEL: 'off',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const served: Served = {
    output: '',
    exit: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await served.exit;
    },
  };
  child.stdout.on('data', (d: Buffer) => (served.output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (served.output += d.toString()));
  return served;
}

/** Every file under `dir`, read as bytes, with the canaries it contains. */
async function leaksInFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const bytes = await readFile(path);
    for (const c of CANARIES) if (bytes.includes(c)) found.push(`${path}: ${c.slice(0, 8)}`);
  }
  return found;
}

const leaksIn = (text: string): string[] => CANARIES.filter((c) => text.includes(c)).map((c) => c.slice(0, 8));

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('lego-edit serve keeps its secrets', () => {
  let dir: string;
  let fake: FakeTelegramBotApi;
  let openai: FakeOpenAI;
  let worker: Server;
  let workerUrl: string;
  let workerCalls = 0;
  const workerAuth: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lego-secrets-'));
    fake = await FakeTelegramBotApi.start({ token: TELEGRAM_TOKEN });
    openai = await startFakeOpenAI();
    // A GPU worker that refuses every token: 401, as `lego-edit worker` answers a wrong one.
    worker = createServer((req, res) => {
      workerCalls++;
      workerAuth.push(String(req.headers.authorization));
      req.resume();
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'bad token' }));
    });
    await new Promise<void>((r) => worker.listen(0, '127.0.0.1', r));
    workerUrl = `http://127.0.0.1:${(worker.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await fake?.stop();
    await openai?.close();
    await new Promise<void>((r) => (worker ? worker.close(() => r()) : r()));
    await rm(dir, { recursive: true, force: true });
  });

  it('with Telegram down, fails to start without printing the token', async () => {
    const s = serve(join(dir, 'down'), { TELEGRAM_API_ROOT: `http://127.0.0.1:${await closedPort()}` });
    expect(await s.exit).toBe(1);
    expect(s.output).toMatch(/Could not start/);
    expect(leaksIn(s.output)).toEqual([]);
    expect(await leaksInFiles(join(dir, 'down'))).toEqual([]);
  }, 300_000);

  it('with Telegram refusing the token, fails to start without printing it', async () => {
    const other = await FakeTelegramBotApi.start();
    try {
      const s = serve(join(dir, 'refused'), { TELEGRAM_API_ROOT: other.apiRoot });
      expect(await s.exit).toBe(1);
      expect(s.output).toMatch(/Could not start/);
      expect(leaksIn(s.output)).toEqual([]);
      expect(await leaksInFiles(join(dir, 'refused'))).toEqual([]);
    } finally {
      await other.stop();
    }
  }, 300_000);

  it('with the model refusing its key (and echoing it) and the worker refusing its token, tells the user and leaks neither', async () => {
    const data = join(dir, 'running');
    const s = serve(data, { TELEGRAM_API_ROOT: fake.apiRoot, BUILDER_MODEL: 'lego-edit-builder', OPENAI_BASE_URL: openai.baseURL, LEGO_EDIT_WORKER_URL: workerUrl });
    try {
      await fake.waitForCall('setMyCommands', () => true, { timeoutMs: 240_000 });
      const ann = fake.user(42);
      const chat = fake.privateChat(ann);

      // The model down: it refuses the key, quoting it back as OpenAI's 401 does.
      openai.requireKey('sk-some-other-key');
      const first = fake.sendPhoto(ann, chat, await colourPhoto(), 'make it black and white');
      const refused = await fake.waitForBotMessage(chat.id, (m) => Boolean(m.text) && !/planning|queued|working/i.test(m.text!), { afterId: first.message_id, timeoutMs: 60_000 });
      // The key was really sent, and really refused.
      expect(openai.requests[0]!.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);

      // The model up, planning a step that runs on the GPU worker, which refuses the worker token.
      openai.requireKey(undefined);
      openai.script(...Array.from({ length: 4 }, () => ({ reply: '{"pipeline": [{"step": 1, "model": "FLUX-POSE", "input": {"image": "init[image]", "prompt": "waving"}}, {"result": "[step1[image]]"}]}' })));
      const second = fake.sendPhoto(ann, chat, await colourPhoto(), 'make her wave');
      await waitUntil(() => workerCalls > 0, 'the worker to be called', 60_000);
      // Told in the user's terms (no setting names): the worker refused the bot's token.
      const failed = await fake.waitForBotMessage(chat.id, (m) => /setup problem on my side/i.test(m.text ?? ''), { afterId: second.message_id, timeoutMs: 60_000 });

      expect(workerAuth[0]).toBe(`Bearer ${WORKER_TOKEN}`);
      const said = fake.botMessages(chat.id).map((m) => m.text ?? m.caption ?? '').join('\n');
      expect(leaksIn(said)).toEqual([]);
      expect(leaksIn(`${refused.text}\n${failed.text}`)).toEqual([]);
    } finally {
      await s.stop();
    }
    expect(s.output).toMatch(/"msg":"stopped"/);
    // Logged at debug, errors included: the output is there to leak into.
    expect(s.output).toMatch(/"level":20/);
    expect(leaksIn(s.output)).toEqual([]);
    expect(await leaksInFiles(data)).toEqual([]);
  }, 420_000);
});
