/**
 * `lego-edit serve` as a user runs it: a child process configured only through
 * TELEGRAM_BOT_TOKEN and TELEGRAM_API_ROOT, talking to the fake Bot API; then
 * SIGTERM with an edit in flight for a graceful stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lego } from '../../support/cli.ts';
import { repoRoot } from '../../support/shared.ts';
import { waitUntil } from '../../fakes/chat-platform-http.ts';
import { FakeTelegramBotApi } from '../../fakes/telegram-bot-api.ts';
import { colourPhoto, isGrayscale } from './session-harness.ts';

describe('lego-edit serve', () => {
  let fake: FakeTelegramBotApi;
  let dir: string;
  let child: ChildProcess;
  let logs = '';

  beforeAll(async () => {
    fake = await FakeTelegramBotApi.start();
    dir = await mkdtemp(join(tmpdir(), 'lego-serve-'));
  });
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await fake?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses to start with nothing configured, saying what to set', async () => {
    const r = await lego(['serve'], { LEGO_EDIT_DATA_DIR: dir, TELEGRAM_BOT_TOKEN: '', DISCORD_TOKEN: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Nothing to serve: set TELEGRAM_BOT_TOKEN/);
  });

  it('serves Telegram from environment variables alone, logs health without the token, and on SIGTERM delivers the edit in flight before it stops', async () => {
    child = spawn(process.execPath, [join(repoRoot, 'bin/lego-edit.js'), 'serve', '--health-interval', '1', '--grace', '5'], {
      cwd: repoRoot,
      env: { ...process.env, LEGO_EDIT_DATA_DIR: dir, LOG_LEVEL: 'info', TELEGRAM_BOT_TOKEN: fake.token, TELEGRAM_API_ROOT: fake.apiRoot, DISCORD_TOKEN: '', BUILDER_MODEL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
    await fake.waitForCall('setMyCommands', () => true, { timeoutMs: 40_000 });
    const ann = fake.user(42);
    const chat = fake.privateChat(ann);
    const sent = fake.sendPhoto(ann, chat, await colourPhoto(), 'make it black and white');
    const result = await fake.waitForBotMessage(chat.id, (m) => Boolean(m.photo && m.upload), { afterId: sent.message_id, timeoutMs: 20_000 });
    expect(await isGrayscale(result.upload!.bytes)).toBe(true);
    await new Promise((r) => setTimeout(r, 1200));

    // The next result's upload is held by "Telegram" for 2 s, so SIGTERM arrives with the edit in flight.
    fake.delays.set('sendPhoto', 2000);
    const uploads = fake.callsOf('sendPhoto').length;
    const second = fake.sendPhoto(ann, chat, await colourPhoto(), 'make it brighter');
    await waitUntil(() => fake.callsOf('sendPhoto').length > uploads, 'the second upload to start', 20_000);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    await waitUntil(() => /shutting down/.test(logs), 'the shutdown log line');
    // Written during the shutdown: left with Telegram for the next start rather than taken and dropped.
    const bob = fake.user(43);
    const late = fake.sendText(bob, fake.privateChat(bob), 'make it black and white');
    expect(await exited).toBe(0);

    const delivered = fake.botMessages(chat.id).find((m) => m.photo && m.upload && m.reply_to_message?.message_id === second.message_id);
    expect(delivered).toBeDefined();
    expect(logs).not.toMatch(/outlived the grace period/);
    expect(fake.pendingUpdates().some((u) => (u.message as { message_id?: number } | undefined)?.message_id === late.message_id)).toBe(true);
    expect(fake.botMessages(bob.id)).toHaveLength(0);
    expect(logs).toMatch(/"msg":"health"/);
    expect(logs).toMatch(/"msg":"stopped"/);
    expect(logs).not.toContain(fake.token.split(':')[1]!);
  }, 90_000);
});
