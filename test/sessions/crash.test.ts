/**
 * Crash safety: a bot process is SIGKILLed in the middle of a turn and
 * restarted on the same data. The completed turn, its images and the current
 * image survive; the unfinished turn is marked interrupted and the user is
 * told on their next message.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { describe, expect, it, vi } from 'vitest';
import { conversations, images, turnImages, turns } from '../../db/schema.ts';
import { DiskBlobStore, sha256Hex } from '../../src/sessions/blob-store.ts';
import { openDatabase } from '../../src/sessions/database.ts';
import { DbSessionManager } from '../../src/sessions/manager.ts';
import { DrizzleTurnStore } from '../../src/sessions/store/drizzle-store.ts';
import { loadConfig } from '../../src/config.ts';
import { describeWithPostgres } from '../support/services.ts';
import { repoRoot } from '../support/shared.ts';
import { openSessions } from '../../src/sessions/index.ts';
import { type DbKind, freshPostgres, gradientPng, message, openHarness, recorder, testRuntime, withSlowBrick } from './harness.ts';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });
const describePg = await describeWithPostgres();

/** Runs the child until it reports the slow turn running, then kills it without warning. */
function runAndKill(env: Record<string, string>): Promise<{ done: string; running: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'test/sessions/fixtures/crash-child.ts')], {
      cwd: repoRoot,
      env: { ...process.env, LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let done = '';
    let running: string | undefined;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      done = /DONE (\d+ \w+)/.exec(out)?.[1] ?? done;
      running ??= /RUNNING (\d+)/.exec(out)?.[1];
      if (running) child.kill('SIGKILL');
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    // Resolved only once the process is gone: until then it still holds the database.
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL' && running) resolve({ done, running });
      else reject(new Error(`child exited (${code}) before the slow turn ran:\n${out}\n${err}`));
    });
  });
}

async function crashAndRecover(kind: DbKind): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'lego-crash-'));
  const pgdb = kind === 'postgres' ? await freshPostgres() : undefined;
  try {
    const photo = await gradientPng();
    const photoPath = join(dir, 'photo.png');
    await writeFile(photoPath, photo);
    const { done, running } = await runAndKill({ CRASH_DATA_DIR: dir, CRASH_PHOTO: photoPath, CRASH_DATABASE_URL: pgdb?.url ?? '' });
    expect(done).toBe('1 done');
    expect(running).toBe('2');

    const database = await openDatabase(pgdb ? { databaseUrl: pgdb.url } : { dataDir: dir });
    try {
      const rt = testRuntime({ ...loadConfig({}), dataDir: dir });
      const blobs = new DiskBlobStore(join(dir, 'blobs'));
      const manager = await DbSessionManager.start({ store: new DrizzleTurnStore(database.db), blobs, builder: rt.builder, executor: rt.executor, registry: rt.registry, limits: rt.limits });
      const db = database.db;

      const rows = await db.select().from(turns).orderBy(turns.id);
      expect(rows.map((r) => [r.id, r.status, r.text])).toEqual([
        [1, 'done', 'make it brighter'],
        [2, 'interrupted', 'do it slowly'],
      ]);
      expect(rows[1]!.workflow).toBeTruthy();
      const outputs = await db.select().from(turnImages).where(eq(turnImages.turnId, 1));
      const out = outputs.find((o) => o.role === 'output')!;
      for (const sha of [out.imageSha, sha256Hex(photo)]) {
        const [row] = await db.select().from(images).where(eq(images.sha256, sha));
        const bytes = await blobs.get(sha);
        expect(sha256Hex(bytes!)).toBe(sha);
        expect(bytes!.byteLength).toBe(row!.bytes);
      }
      const [conv] = await db.select().from(conversations);
      expect(conv!.current).toEqual({ image: out.imageSha, turnId: 1 });
      // No half-written blob is left under a real name.
      const { readdir } = await import('node:fs/promises');
      const files = (await readdir(join(dir, 'blobs'), { recursive: true })).map(String);
      expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);

      const r = recorder();
      const next = await manager.handle(message('ann', 'make it black and white', undefined, { chatId: 'chat-ann' }), r.listener);
      expect(r.events[0]).toMatchObject({ type: 'info', turnId: 2 });
      expect((r.events[0] as { text: string }).text).toMatch(/"do it slowly" was interrupted because I restarted/);
      expect(next.status).toBe('done');
      // Told once only.
      const again = recorder();
      await manager.handle(message('ann', 'history', undefined, { chatId: 'chat-ann' }), again.listener);
      expect(again.events.filter((e) => e.type === 'info' && /was interrupted because/.test(e.text))).toHaveLength(0);
      expect(await manager.pendingNotices()).toEqual([]);
      await manager.close();
    } finally {
      await database.close();
    }
  } finally {
    await pgdb?.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

describe('crash safety on PGlite', () => {
  it('SIGKILL mid-turn: history intact, the turn marked interrupted, the user told', () => crashAndRecover('pglite'));
});

describePg('crash safety on PostgreSQL', () => {
  it('SIGKILL mid-turn: history intact, the turn marked interrupted, the user told', () => crashAndRecover('postgres'));

  it('refuses a second bot process on the same database before its start-up could mark the running turn interrupted', async () => {
    const h = await openHarness('postgres', { customise: withSlowBrick(3_000) });
    try {
      const photo = await gradientPng();
      await h.manager.handle(message('ann', 'make it brighter', photo), () => {});
      const running = recorder();
      const turn = h.manager.handle(message('ann', 'do it slowly'), running.listener);
      await vi.waitFor(() => expect(running.of('step-started')).toHaveLength(1), { timeout: 2_000 });
      const second = await openDatabase({ databaseUrl: h.database.location });
      try {
        const err = (await openSessions(h.rt, { database: second }).then(() => new Error('opened twice'), (e: unknown) => e)) as Error & { code?: string };
        expect(err.code).toBe('database-busy');
        const [row] = await second.db.select().from(turns).where(eq(turns.text, 'do it slowly'));
        expect(row!.status).toBe('running');
      } finally {
        await second.close();
      }
      expect((await turn).status).toBe('done');
    } finally {
      await h.close();
    }
  });
});
