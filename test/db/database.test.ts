/** The schema's migrations on both databases, the disk blob store, and the export of turns. */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DiskBlobStore, sha256Hex } from '../../src/sessions/blob-store.ts';
import { MIGRATIONS_DIR, openDatabase } from '../../src/sessions/database.ts';
import { type ExportedTurn, exportTurns } from '../../src/sessions/export.ts';
import { describeWithPostgres } from '../support/services.ts';
import { freshPostgres, gradientPng, message, openHarness } from '../sessions/harness.ts';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });
const describePg = await describeWithPostgres();
const TABLES = ['conversations', 'images', 'message_links', 'rules', 'turn_images', 'turns'];

async function tables(db: Awaited<ReturnType<typeof openDatabase>>['db']): Promise<string[]> {
  const result = (await db.execute(sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`)) as unknown as {
    rows: Array<{ table_name: string }>;
  };
  return result.rows.map((r) => r.table_name);
}

describe('PGlite database', () => {
  it('is created under <data dir>/db, migrated at start-up, and reopens without migrating again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lego-db-'));
    try {
      const first = await openDatabase({ dataDir: dir });
      expect(first.kind).toBe('pglite');
      expect(first.location).toBe(join(dir, 'db'));
      expect(await tables(first.db)).toEqual(TABLES);
      await first.close();
      const again = await openDatabase({ dataDir: dir });
      const applied = (await again.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`)) as unknown as { rows: Array<{ n: number }> };
      // Each migration once: the journal drizzle-kit writes lists them all.
      const journal = JSON.parse(await readFile(join(MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] };
      expect(journal.entries.length).toBeGreaterThanOrEqual(2);
      expect(applied.rows[0]!.n).toBe(journal.entries.length);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('PGlite database lock', () => {
  it('refuses a second opener while the first holds the directory, naming the process, and frees it on close', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lego-db-'));
    try {
      const first = await openDatabase({ dataDir: dir });
      const err = (await openDatabase({ dataDir: dir }).then(() => new Error('opened twice'), (e: unknown) => e)) as Error & { code?: string };
      expect(err.code).toBe('database-busy');
      expect(err.message).toContain(`pid ${process.pid}`);
      await first.db.execute(sql`select 1`);
      await first.close();
      const second = await openDatabase({ dataDir: dir });
      expect(await tables(second.db)).toEqual(TABLES);
      await second.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is not blocked by the pid file an earlier version left behind for a process that no longer runs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lego-db-'));
    try {
      const { spawnSync } = await import('node:child_process');
      const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
      const { mkdir } = await import('node:fs/promises');
      await mkdir(join(dir, 'db'), { recursive: true });
      await writeFile(join(dir, 'db', 'lego-edit.pid'), dead);
      const db = await openDatabase({ dataDir: dir });
      expect(await tables(db.db)).toEqual(TABLES);
      await db.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describePg('PostgreSQL database', () => {
  it('gets the same schema from the same migrations, and reopens without migrating again', async () => {
    const pg = await freshPostgres();
    try {
      const first = await openDatabase({ databaseUrl: pg.url });
      expect(first.kind).toBe('postgres');
      expect(await tables(first.db)).toEqual(TABLES);
      await first.close();
      const again = await openDatabase({ databaseUrl: pg.url });
      expect(await tables(again.db)).toEqual(TABLES);
      await again.close();
    } finally {
      await pg.drop();
    }
  });

  it('lets one process at a time run turns: a second claim is refused, naming the holder, until the first gives it up or closes', async () => {
    const pg = await freshPostgres();
    const opened = [];
    try {
      // Each openDatabase has its own pool and connections, as a second process would.
      for (let i = 0; i < 3; i++) opened.push(await openDatabase({ databaseUrl: pg.url }));
      const [a, b, c] = opened as [Awaited<ReturnType<typeof openDatabase>>, Awaited<ReturnType<typeof openDatabase>>, Awaited<ReturnType<typeof openDatabase>>];
      const unclaimA = await a.claimTurns();
      const refused = (await b.claimTurns().then(() => new Error('claimed twice'), (e: unknown) => e)) as Error & { code?: string };
      expect(refused.code).toBe('database-busy');
      expect(refused.message).toMatch(/^Another lego-edit process is running turns on the PostgreSQL database at postgres:\/\/.*\(its connection is PostgreSQL backend \d+\)/);
      // The refused opener can still read: export works while a bot runs.
      expect(await tables(b.db)).toEqual(TABLES);
      await unclaimA();
      await b.claimTurns();
      // The server drops the connection holding the lock: the process lives on and claims it again.
      const holders = (await c.db.execute(
        sql`select pid from pg_locks where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())`,
      )) as unknown as { rows: Array<{ pid: number }> };
      expect(holders.rows).toHaveLength(1);
      await c.db.execute(sql`select pg_terminate_backend(${holders.rows[0]!.pid})`);
      await vi.waitFor(
        async () => {
          const again = (await c.db.execute(
            sql`select pid from pg_locks where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())`,
          )) as unknown as { rows: Array<{ pid: number }> };
          expect(again.rows.map((r) => r.pid)).not.toEqual(holders.rows.map((r) => r.pid));
          expect(again.rows).toHaveLength(1);
        },
        { timeout: 5_000 },
      );
      expect(((await c.claimTurns().catch((e: unknown) => e)) as { code?: string }).code).toBe('database-busy');
      await b.close();
      await c.claimTurns();
    } finally {
      for (const d of opened) await d.close().catch(() => {});
      await pg.drop();
    }
  });

  it('says which server it could not reach, without the password', async () => {
    const err = (await openDatabase({ databaseUrl: 'postgres://u:secret@127.0.0.1:1/none' }).then(() => new Error('connected?'), (e: unknown) => e)) as Error;
    expect(err.message).toMatch(/^Cannot connect to PostgreSQL at postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/none: .*ECONNREFUSED/);
    expect(err.message).not.toContain('secret');
  });
});

describePg('PostgreSQL in a schema other than public', () => {
  /** The URL with `?options=-c search_path=NAME`, as a user configures it. */
  const inSchema = (url: string, schema: string): string => `${url}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;

  it('migrates into the search_path’s schema, keeps its migration list there, and runs turns beside a bot in public', async () => {
    const pg = await freshPostgres();
    const schemaName = `lego_s_${process.pid}`;
    const admin = await openDatabase({ databaseUrl: pg.url });
    try {
      await admin.db.execute(sql.raw(`create schema ${schemaName}`));
      const own = await openDatabase({ databaseUrl: inSchema(pg.url, schemaName) });
      try {
        const listed = (await own.db.execute(
          sql`select table_schema as s, table_name as t from information_schema.tables where table_schema = ${schemaName} order by table_name`,
        )) as unknown as { rows: Array<{ s: string; t: string }> };
        expect(listed.rows.map((r) => r.t)).toEqual(['__drizzle_migrations', ...TABLES]);
        // The bot in public has its own tables: the two never share rows, migrations or the turns lock.
        expect(await tables(admin.db)).toEqual(TABLES);
        const unclaimPublic = await admin.claimTurns();
        const unclaimOwn = await own.claimTurns();
        await unclaimOwn();
        await unclaimPublic();
        const again = await openDatabase({ databaseUrl: inSchema(pg.url, schemaName) });
        await again.close();
      } finally {
        await own.close();
      }
    } finally {
      await admin.close();
      await pg.drop();
    }
  });

  it('refuses, in one line, a search_path whose schema does not exist', async () => {
    const pg = await freshPostgres();
    try {
      const err = (await openDatabase({ databaseUrl: inSchema(pg.url, 'no_such_schema') }).then(() => new Error('opened'), (e: unknown) => e)) as Error & { code?: string };
      expect(err.code).toBe('database-schema');
      expect(err.message).toMatch(/^No schema of the search_path \(no_such_schema\) exists in the PostgreSQL database at postgres:\/\/\S+: create it first \(CREATE SCHEMA name\), or change the URL's options=-c search_path=….$/);
    } finally {
      await pg.drop();
    }
  });
});

describe('migrations', () => {
  it('name no schema, so that they apply in whichever schema the connection’s search_path selects', async () => {
    for (const file of (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql'))) {
      expect(await readFile(join(MIGRATIONS_DIR, file), 'utf8'), `${file} (drizzle-kit writes "public". into references: take it out)`).not.toMatch(/"public"\./);
    }
  });
});

describe('disk blob store', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lego-blobs-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('stores bytes once under their SHA-256, reads them back, deletes them', async () => {
    const store = new DiskBlobStore(dir);
    const bytes = await gradientPng();
    const sha = await store.put(bytes);
    expect(sha).toBe(sha256Hex(bytes));
    expect(await store.put(bytes)).toBe(sha);
    expect(await store.get(sha)).toEqual(bytes);
    expect(await readdir(join(dir, sha.slice(0, 2)))).toEqual([sha]);
    await store.delete(sha);
    expect(await store.has(sha)).toBe(false);
    expect(await store.get(sha)).toBeUndefined();
    await store.delete(sha);
  });

  it('refuses names that are not hashes, so nothing outside the store can be named', async () => {
    const store = new DiskBlobStore(dir);
    await writeFile(join(tmpdir(), 'secret.txt'), 'x');
    await expect(store.get('../../secret.txt')).rejects.toThrow(/not a SHA-256/);
    await expect(store.delete('0'.repeat(63))).rejects.toThrow(/not a SHA-256/);
  });
});

describe('export', () => {
  it('writes planned turns with their workflow, the feedback that followed, and the outcome', async () => {
    const h = await openHarness('pglite', { memory: true });
    try {
      await h.manager.handle(message('ann', 'make it brighter', await gradientPng()), () => {});
      await h.manager.handle(message('ann', 'too much'), () => {});
      await h.manager.handle(message('ann', 'hmm'), () => {});
      const lines: ExportedTurn[] = [];
      expect(await exportTurns(h.database.db, (t) => void lines.push(JSON.parse(JSON.stringify(t)) as ExportedTurn), 1)).toBe(2);
      expect(lines[0]).toMatchObject({
        turnId: 1,
        intent: 'edit',
        instruction: 'make it brighter',
        workflow: { pipeline: [{ step: 1, model: 'ADJUST' }, { result: '[step1[image]]' }] },
        feedback: [{ turnId: 2, intent: 'revision', text: 'too much', status: 'done' }],
        outcome: { status: 'done', errorCode: null },
        builder: 'offline',
        verdicts: [{ by: 'offline', verdict: 'done', attempt: 0 }],
      });
      expect(lines[0]!.outputImages).toHaveLength(1);
      expect(lines[1]).toMatchObject({ turnId: 2, intent: 'revision', instruction: 'make it brighter', message: 'too much', revisesTurnId: 1, feedback: [] });
    } finally {
      await h.close();
    }
  });

  it('records undo away from a turn’s result and redo back to it as that turn’s reactions, never against the photo it started from', async () => {
    const h = await openHarness('pglite', { memory: true });
    try {
      const key = { platform: 'test', chatId: 'chat-ann', userId: 'ann' };
      await h.manager.handle(message('ann', 'make it brighter', await gradientPng()), () => {});
      await h.manager.handle(message('ann', 'now make it black and white'), () => {});
      // Stack: photo (turn 1), turn 1's result, turn 2's result (current).
      expect((await h.manager.undo(key)).ok).toBe(true); // away from turn 2's result
      expect((await h.manager.undo(key)).ok).toBe(true); // away from turn 1's result, to the photo
      expect((await h.manager.redo(key)).ok).toBe(true); // back to turn 1's result
      expect((await h.manager.undo(key)).ok).toBe(true); // away from it again
      expect((await h.manager.undo(key)).ok).toBe(false); // nothing left: no reaction
      const lines: ExportedTurn[] = [];
      await exportTurns(h.database.db, (t) => void lines.push(JSON.parse(JSON.stringify(t)) as ExportedTurn));
      expect(lines.map((l) => [l.turnId, l.reactions.map((r) => r.kind)])).toEqual([
        [1, ['undo', 'redo', 'undo']],
        [2, ['undo']],
      ]);
      expect(Date.parse(lines[1]!.reactions[0]!.at)).toBeGreaterThan(Date.now() - 60_000);
    } finally {
      await h.close();
    }
  });

  it('reads verdicts stored before "unanswered" (timedOut: true for any critic that gave no answer) in today’s shape', async () => {
    const h = await openHarness('pglite', { memory: true });
    try {
      await h.manager.handle(message('ann', 'make it brighter', await gradientPng()), () => {});
      const stored = [
        { by: 'offline', verdict: 'done', reason: 'the masks and the change look plausible', attempt: 0 },
        { by: 'mllm', model: 'critic', verdict: 'unchecked', reason: 'the critic did not answer within 20 s', latencyMs: 20004, timedOut: true, attempt: 0 },
        { by: 'mllm', model: 'critic', verdict: 'unchecked', reason: 'the critic could not be reached', latencyMs: 12, timedOut: true, attempt: 1 },
      ];
      await h.database.db.execute(sql`update turns set verdicts = ${JSON.stringify(stored)}::jsonb where id = 1`);
      const lines: ExportedTurn[] = [];
      await exportTurns(h.database.db, (t) => void lines.push(JSON.parse(JSON.stringify(t)) as ExportedTurn));
      expect(lines[0]!.verdicts.map((v) => [v.verdict, v.unanswered ?? null, 'timedOut' in v])).toEqual([
        ['done', null, false],
        ['unchecked', 'timeout', false],
        ['unchecked', 'error', false],
      ]);
    } finally {
      await h.close();
    }
  });

  it('keeps the critic’s verdicts on a result that changed nothing beside the user’s feedback, and the user read one line about it', async () => {
    const h = await openHarness('pglite', { memory: true });
    try {
      const grey = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toBuffer();
      const captions: string[] = [];
      await h.manager.handle(message('ann', 'make it black and white', grey), (e) => void (e.type === 'result' && captions.push(e.caption ?? '')));
      expect(captions).toHaveLength(1);
      expect(captions[0]!.split('\n').filter((l) => /checked the result/.test(l))).toHaveLength(1);
      const lines: ExportedTurn[] = [];
      await exportTurns(h.database.db, (t) => void lines.push(JSON.parse(JSON.stringify(t)) as ExportedTurn));
      expect(lines[0]!.verdicts[0]).toMatchObject({ by: 'offline', verdict: 'wrong', reason: 'the result is the same picture as the input', attempt: 0 });
      expect(lines[0]!.verdicts[0]!.findings?.map((f) => f.check)).toEqual(['no-effect']);
    } finally {
      await h.close();
    }
  });
});
