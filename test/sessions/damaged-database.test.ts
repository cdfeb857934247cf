/**
 * A damaged data directory: a garbled or truncated table file, a garbled control file or write-ahead log, a
 * garbled stored image. `chat` stops with one sentence naming what is damaged and what to do, `export` fails
 * instead of writing half the history, and a garbled image is refused rather than handed out.
 */
import { cp, mkdtemp, open, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { DiskBlobStore, sha256Hex } from '../../src/sessions/blob-store.ts';
import { openSessions } from '../../src/sessions/index.ts';
import { DamagedImageError } from '../../src/sessions/storage-errors.ts';
import { lego } from '../support/cli.ts';
import { gradientPng, message, openHarness, testRuntime } from './harness.ts';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

let base: string;
let turnsFile: string;

/** A data directory with three done turns, closed cleanly. */
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'lego-damaged-'));
  const rt = testRuntime({ ...loadConfig({ LEGO_EDIT_DATA_DIR: base }), dataDir: base });
  const sessions = await openSessions(rt);
  await sessions.manager.handle(message('ann', 'make it brighter', await gradientPng()), () => {});
  await sessions.manager.handle(message('ann', 'make it black and white'), () => {});
  await sessions.manager.handle(message('ann', 'make it darker'), () => {});
  const found = (await sessions.database.db.execute(sql`select pg_relation_filepath('turns') as path`)) as unknown as { rows: Array<{ path: string }> };
  turnsFile = found.rows[0]!.path;
  await sessions.close();
});
afterAll(async () => rm(base, { recursive: true, force: true }));

/** A copy of the data directory with one file damaged. */
async function damagedCopy(file: string, damage: 'garble' | 'truncate'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lego-damaged-copy-'));
  await cp(base, dir, { recursive: true });
  const path = join(dir, 'db', file);
  if (damage === 'truncate') await truncate(path, 0);
  else {
    const handle = await open(path, 'r+');
    await handle.write(Buffer.alloc(512, 'GARBAGE!'), 0, 512, 0);
    await handle.close();
  }
  return dir;
}

const cases: ReadonlyArray<{ what: string; file: () => string; damage: 'garble' | 'truncate'; says: RegExp }> = [
  { what: 'a garbled table file', file: () => turnsFile, damage: 'garble', says: /is damaged: invalid page in block 0 of the table turns \(file base\/\d+\/\d+\)\./ },
  { what: 'a truncated table file', file: () => turnsFile, damage: 'truncate', says: /is damaged: could not read blocks? 0.* in the table turns.*\(file base\/\d+\/\d+\)\./ },
  { what: 'a garbled control file', file: () => 'global/pg_control', damage: 'garble', says: /is damaged: its control file global\/pg_control is damaged \(its checksum does not match\)/ },
  { what: 'a garbled write-ahead log', file: () => 'pg_wal/000000010000000000000001', damage: 'garble', says: /is damaged: its write-ahead log pg_wal\/000000010000000000000001 is damaged or missing/ },
];

describe('a damaged database', () => {
  for (const c of cases) {
    it(`stops \`chat\` with one sentence naming ${c.what} and what to do`, async () => {
      const dir = await damagedCopy(c.file(), c.damage);
      try {
        const r = await lego(['chat'], { LEGO_EDIT_DATA_DIR: dir });
        expect(r.code).toBe(1);
        expect(r.stdout).toBe('');
        const lines = r.stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(new RegExp(`^error: The database in ${join(dir, 'db')} `));
        expect(lines[0]).toMatch(c.says);
        expect(lines[0]).toMatch(/Stop lego-edit, then restore .* from a backup, or move it aside to start with an empty history\.$/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  for (const damage of ['garble', 'truncate'] as const) {
    it(`makes \`export\` fail, writing nothing, when a table file is ${damage === 'garble' ? 'garbled' : 'truncated'}`, async () => {
      const dir = await damagedCopy(turnsFile, damage);
      try {
        const out = join(dir, 'turns.jsonl');
        const r = await lego(['export', '-o', out], { LEGO_EDIT_DATA_DIR: dir });
        expect(r.code).toBe(1);
        expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^error: The database in .* is damaged: .*the table turns/)]);
        expect((await readdir(dir)).filter((f) => f.includes('turns.jsonl'))).toEqual([]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  it('still exports every turn from the undamaged directory', async () => {
    const r = await lego(['export'], { LEGO_EDIT_DATA_DIR: base });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { message: string }).message)).toEqual(['make it brighter', 'make it black and white', 'make it darker']);
  });
});

describe('a damaged stored image', () => {
  it('is refused on read with the file named, and replaced by good bytes when stored again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lego-blobs-'));
    try {
      const store = new DiskBlobStore(dir);
      const bytes = await gradientPng();
      const sha = await store.put(bytes);
      const path = join(dir, sha.slice(0, 2), sha);
      const garbled = Buffer.from(bytes);
      garbled[100] = garbled[100]! ^ 0xff;
      await writeFile(path, garbled);
      const err = (await store.get(sha).then(() => new Error('handed out'), (e: unknown) => e)) as DamagedImageError;
      expect(err).toBeInstanceOf(DamagedImageError);
      expect(err.code).toBe('image-damaged');
      expect(err.message).toBe(`The stored image ${path} is damaged: its bytes no longer match the hash it is stored under.`);
      expect(await store.put(bytes)).toBe(sha);
      expect(sha256Hex(await readFile(path))).toBe(sha);
      expect(await store.get(sha)).toEqual(bytes);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is not handed out by /undo: the user is told, and the conversation stays where it was', async () => {
    const h = await openHarness('pglite', { memory: true });
    try {
      const key = { platform: 'test', chatId: 'chat-ann', userId: 'ann' };
      const photo = await gradientPng();
      await h.manager.handle(message('ann', 'make it brighter', photo), () => {});
      // Undo goes back to the photo: garble it.
      const sha = sha256Hex(photo);
      await writeFile(join(h.blobs.root, sha.slice(0, 2), sha), Buffer.from('not the photo'));
      const reply = await h.manager.undo(key);
      expect(reply).toEqual({ ok: false, text: 'Cannot undo: That image is damaged in storage, so I will not use it. Send the photo again to go on; the damaged copy is replaced.' });
      expect(reply.image).toBeUndefined();
      // Nothing moved: redo has nothing, and undo still means the photo.
      expect((await h.manager.redo(key)).ok).toBe(false);
      await h.manager.handle(message('ann', 'here it is again', photo), () => {});
      expect(sha256Hex((await h.blobs.get(sha))!)).toBe(sha);
    } finally {
      await h.close();
    }
  });
});
