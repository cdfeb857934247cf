/**
 * `npm run bench -- kill`: kill safety, measured. `lego-edit chat` is started on
 * one data directory (PGlite) or one PostgreSQL database, given a photo and a
 * stream of instructions, and SIGKILLed at a random moment — during start-up and
 * migrations, mid-turn, or between turns — again and again. After every kill the
 * database must open, and every turn the chat had reported finished ("wrote …")
 * must be there, done, with its output image intact in the blob store.
 * KILL_PGLITE and KILL_POSTGRES set the number of kills (default 50 and 20); KILL_LANES runs
 * that many conversations side by side (default 1; start-up dominates each kill's cost).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import pg from 'pg';
import sharp from 'sharp';
import { turnImages, turns } from '../db/schema.ts';
import { DiskBlobStore, sha256Hex } from '../src/sessions/blob-store.ts';
import { openDatabase } from '../src/sessions/database.ts';
import { mulberry32 } from '../bricks/lib/random.ts';
import { repoRoot } from './support.ts';

const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const INSTRUCTIONS = ['make it brighter', 'make it black and white', 'flip it horizontally', 'blur it a little', 'make it darker', 'rotate it by 90 degrees'];
/**
 * When to kill: a fifth of the kills land at a random moment of start-up (opening the
 * database, migrations, recovery), the rest at a random moment within this many ms
 * after the chat is up, while its instructions run (each takes under a second).
 */
const STARTUP_SHARE = 0.2;
const AFTER_READY_MS = 5_000;


interface Trial {
  /** Turns the chat reported finished before it died. */
  readonly reported: number;
  readonly killedAfterMs: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Starts `lego-edit chat` with a photo, feeds it instructions, and SIGKILLs it
 * `killAfterMs` after it is up, or, with `duringStartup`, that long after spawning.
 */
function chatUntilKilled(env: Record<string, string>, photo: string, killAfterMs: number, duringStartup: boolean): Promise<Trial> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin/lego-edit.js'), 'chat', photo], {
      cwd: repoRoot,
      env: { ...process.env, LOG_LEVEL: 'silent', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    const killIn = (ms: number): void => {
      timer ??= setTimeout(() => child.kill('SIGKILL'), ms);
    };
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!duringStartup && /Data directory:/.test(stdout)) killIn(killAfterMs);
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.on('error', () => {}); // the pipe breaks when the child dies
    child.stdin.write(`${INSTRUCTIONS.join('\n')}\n`);
    const started = performance.now();
    if (duringStartup) killIn(killAfterMs);
    child.on('error', reject);
    // Resolved once the process is gone: until then it may still hold the database.
    child.on('exit', () => {
      clearTimeout(timer);
      resolve({ reported: (stdout.match(/^\s+wrote /gm) ?? []).length, killedAfterMs: performance.now() - started, stdout, stderr });
    });
  });
}

interface Check {
  readonly done: number;
  readonly problems: string[];
}

/** Opens the database as a restarted bot would and checks every finished turn and its output image. */
async function checkSurvivors(target: { dataDir: string; databaseUrl?: string }, blobs: DiskBlobStore): Promise<Check> {
  const problems: string[] = [];
  const database = await openDatabase(target.databaseUrl ? { databaseUrl: target.databaseUrl } : { dataDir: target.dataDir });
  try {
    const done = await database.db.select({ id: turns.id }).from(turns).where(eq(turns.status, 'done'));
    for (const { id } of done) {
      const [out] = await database.db
        .select()
        .from(turnImages)
        .where(and(eq(turnImages.turnId, id), eq(turnImages.role, 'output')));
      if (!out) {
        problems.push(`turn ${id} is done but has no output image`);
        continue;
      }
      const bytes = await blobs.get(out.imageSha);
      if (!bytes || sha256Hex(bytes) !== out.imageSha) problems.push(`turn ${id}'s output ${out.imageSha.slice(0, 12)} is ${bytes ? 'corrupt' : 'missing'}`);
    }
    return { done: done.length, problems };
  } finally {
    await database.close();
  }
}

interface LaneResult {
  readonly kills: number;
  readonly finished: number;
  readonly lost: number;
  readonly damaged: number;
  readonly openFailures: number;
  readonly startupKills: number;
}

async function killRepeatedly(kind: 'pglite' | 'postgres', kills: number, seed: number): Promise<LaneResult> {
  const dir = await mkdtemp(join(tmpdir(), `lego-kill-${kind}-`));
  const dbName = `lego_kill_${process.pid}_${randomBytes(3).toString('hex')}`;
  let databaseUrl: string | undefined;
  if (kind === 'postgres') {
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const url = new URL(POSTGRES_URL);
    url.pathname = `/${dbName}`;
    databaseUrl = url.toString();
  }
  const env: Record<string, string> = { LEGO_EDIT_DATA_DIR: dir, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) };
  const blobs = new DiskBlobStore(join(dir, 'blobs'));
  const next = mulberry32(seed);
  let expected = 0;
  let openFailures = 0;
  let lost = 0;
  let damaged = 0;
  let startupKills = 0;
  /** How long start-up took, from the runs that got through it: start-up kills are drawn within it. */
  let startupMs = 5_000;
  try {
    for (let i = 0; i < kills; i++) {
      const photo = join(dir, `photo-${i}.png`);
      await writeFile(photo, await sharp({ create: { width: 48, height: 32, channels: 3, background: { r: 40 + (i % 5) * 30, g: 90, b: 160 } } }).png().toBuffer());
      const duringStartup = next() < STARTUP_SHARE;
      const killAfter = next() * (duringStartup ? startupMs : AFTER_READY_MS);
      const started = performance.now();
      const trial = await chatUntilKilled(env, photo, killAfter, duringStartup);
      if (duringStartup) startupKills++;
      else startupMs = Math.max(1_000, performance.now() - started - killAfter);
      expected += trial.reported;
      let check: Check;
      try {
        check = await checkSurvivors({ dataDir: dir, ...(databaseUrl ? { databaseUrl } : {}) }, blobs);
      } catch (err) {
        openFailures++;
        console.log(`  kill ${i + 1}: the database did not open: ${(err as Error).message}`);
        continue;
      }
      if (check.done < expected) {
        lost += expected - check.done;
        console.log(`  kill ${i + 1}: ${expected} turns were reported finished, ${check.done} are done in the database`);
      }
      damaged += check.problems.length;
      for (const p of check.problems) console.log(`  kill ${i + 1}: ${p}`);
      // Turns can finish in the database just before the kill without their "wrote" line reaching us.
      expected = Math.max(expected, check.done);
    }
    return { kills, finished: expected, lost, damaged, openFailures, startupKills };
  } finally {
    if (databaseUrl) {
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await admin.end();
    }
    await rm(dir, { recursive: true, force: true });
  }
}

/** `kills` SIGKILLs split over `lanes` independent conversations (own data directory or database) killed side by side. */
async function killSafety(kind: 'pglite' | 'postgres', kills: number, lanes: number): Promise<void> {
  const per = Array.from({ length: lanes }, (_, i) => Math.floor(kills / lanes) + (i < kills % lanes ? 1 : 0)).filter((n) => n > 0);
  const started = performance.now();
  const results = await Promise.all(per.map((n, i) => killRepeatedly(kind, n, kills * 100 + i)));
  const sum = (f: (r: LaneResult) => number): number => results.reduce((a, r) => a + f(r), 0);
  console.log(
    `${kind}: ${sum((r) => r.kills)} SIGKILLs (${sum((r) => r.startupKills)} during start-up) over ${per.length} conversations in ${((performance.now() - started) / 1000).toFixed(0)} s; ` +
      `${sum((r) => r.finished)} turns finished before a kill; lost: ${sum((r) => r.lost)}, damaged outputs: ${sum((r) => r.damaged)}, database failed to open: ${sum((r) => r.openFailures)}`,
  );
  if (sum((r) => r.lost + r.damaged + r.openFailures) > 0) process.exitCode = 1;
}

export async function run(): Promise<void> {
  const lanes = Number(process.env.KILL_LANES ?? 1);
  await killSafety('pglite', Number(process.env.KILL_PGLITE ?? 50), lanes);
  await killSafety('postgres', Number(process.env.KILL_POSTGRES ?? 20), lanes);
}
