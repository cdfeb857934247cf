/**
 * A full disk under the data directory, on a small tmpfs: one sentence to the user, never a stack, a log line
 * or the SQL of a failed query; no partial file from `edit -o`; nothing stored half.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { images, turnImages, turns } from '../../db/schema.ts';
import { DiskBlobStore, sha256Hex } from '../../src/sessions/blob-store.ts';
import { openDatabase } from '../../src/sessions/database.ts';
import { DISK_FULL_TEXT } from '../../src/sessions/storage-errors.ts';
import { lego } from '../support/cli.ts';
import { repoRoot } from '../support/shared.ts';
import { gradientPng } from './harness.ts';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });

let mount: string;
let work: string;
let mounted = false;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'lego-full-'));
  mount = join(work, 'disk');
  await mkdir(mount);
  // A fresh PGlite directory takes about 40 MB.
  mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', mount]).status === 0;
  if (!mounted) console.warn('SKIPPING full-disk tests: cannot mount a tmpfs here (needs root)');
});
afterAll(async () => {
  if (mounted) spawnSync('umount', [mount]);
  await rm(work, { recursive: true, force: true });
});

/** Fills the disk until `leave` bytes are free. */
async function fill(name: string, leave: number): Promise<void> {
  const fs = await statfs(mount);
  const free = fs.bavail * fs.bsize;
  if (free > leave) await writeFile(join(mount, name), Buffer.alloc(free - leave));
}

async function emptyDisk(): Promise<void> {
  for (const f of await readdir(mount)) await rm(join(mount, f), { recursive: true, force: true });
}

/** `lego-edit chat` with these lines typed in; stdout and stderr together, as the user sees them. */
function chat(dataDir: string, lines: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin/lego-edit.js'), 'chat'], { cwd: repoRoot, env: { ...process.env, LEGO_EDIT_DATA_DIR: dataDir, LOG_LEVEL: '' } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('exit', (code) => resolve({ code, output }));
    child.stdin.end(`${lines.join('\n')}\n/quit\n`);
  });
}

const NO_STACK_OR_SQL = /^\s+at |Failed query|"level"|params:|ENOSPC/m;

describe('a full disk', () => {
  it('leaves no partial file from `edit -o`, and says so in one line', async (ctx) => {
    if (!mounted) ctx.skip();
    const photo = join(work, 'photo.png');
    await writeFile(photo, await gradientPng(400, 300));
    await fill('fill', 0);
    try {
      const out = join(mount, 'out.png');
      const r = await lego(['edit', photo, 'make it brighter', '-o', out]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toEqual([`error: Cannot write ${out}: the disk is full (nothing was written)`]);
      expect((await readdir(mount)).sort()).toEqual(['fill']);
    } finally {
      await emptyDisk();
    }
  });

  it('stops `chat` at start-up with one sentence when not even the database fits', async (ctx) => {
    if (!mounted) ctx.skip();
    await fill('fill', 0);
    try {
      const r = await chat(join(mount, 'data'), []);
      expect(r.code).toBe(1);
      expect(r.output.trim().split('\n')).toEqual([`error: ${DISK_FULL_TEXT}`]);
    } finally {
      await emptyDisk();
    }
  });

  it('tells the chat user in one sentence per failed message when 100 KB are left, and stores nothing half', async (ctx) => {
    if (!mounted) ctx.skip();
    const dataDir = join(mount, 'data');
    const photo = join(work, 'photo.png');
    await writeFile(photo, await gradientPng(400, 300));
    try {
      const first = await chat(dataDir, [`/open ${photo}`, 'make it brighter']);
      expect(first.output).toMatch(/wrote .*result-1\.png/);
      await fill('fill', 100 * 1024);
      const other = join(work, 'other.png');
      await writeFile(other, await gradientPng(400, 300, 5));
      const second = await chat(dataDir, ['make it black and white', 'make it darker', `/open ${other}`, 'make it brighter']);
      expect(second.output).not.toMatch(NO_STACK_OR_SQL);
      // At least the edit whose result could not be stored, and the photo that could not be stored.
      expect(second.output.split('\n').filter((l) => l === `⚠️ ${DISK_FULL_TEXT}`).length).toBeGreaterThanOrEqual(2);
      expect(second.output).not.toMatch(/Something went wrong/);
      expect(second.code).toBe(0);
      await rm(join(mount, 'fill'));

      // Every turn is done with all its images whole, or failed: nothing half.
      const database = await openDatabase({ dataDir });
      try {
        const blobs = new DiskBlobStore(join(dataDir, 'blobs'));
        const rows = await database.db.select().from(turns).orderBy(turns.id);
        expect(rows[0]!.status).toBe('done');
        // A turn whose failure could not be written either stays `running`, and the next start marks it interrupted.
        expect(rows.map((r) => r.status)).not.toEqual(rows.map(() => 'done'));
        for (const t of rows) {
          expect(['done', 'failed', 'running']).toContain(t.status);
          for (const ti of await database.db.select().from(turnImages).where(eq(turnImages.turnId, t.id))) {
            const [meta] = await database.db.select().from(images).where(eq(images.sha256, ti.imageSha));
            const bytes = await blobs.get(ti.imageSha);
            expect(sha256Hex(bytes!)).toBe(ti.imageSha);
            expect(bytes!.byteLength).toBe(meta!.bytes);
          }
        }
        const leftovers = (await readdir(join(dataDir, 'blobs'), { recursive: true })).map(String).filter((f) => f.endsWith('.tmp'));
        expect(leftovers).toEqual([]);
      } finally {
        await database.close();
      }
    } finally {
      await emptyDisk();
    }
  });
});
