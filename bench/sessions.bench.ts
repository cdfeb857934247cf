/**
 * Session manager figures: per-turn orchestration overhead (classification,
 * queueing, database writes, blob store, result encoding) with the Builder and
 * bricks replaced by trivial in-process ones, on PGlite (on disk, the default)
 * and PostgreSQL; and RSS growth for 1,000 idle conversations.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pg from 'pg';
import sharp from 'sharp';
import type { Builder } from '../src/builder/builder.ts';
import { defineBrick, port } from '../src/engine/brick.ts';
import { Executor } from '../src/engine/executor.ts';
import { BrickRegistry } from '../src/engine/registry.ts';
import { DiskBlobStore } from '../src/sessions/blob-store.ts';
import { type Database, openDatabase } from '../src/sessions/database.ts';
import { DbSessionManager } from '../src/sessions/manager.ts';
import { DrizzleTurnStore } from '../src/sessions/store/drizzle-store.ts';
import type { IncomingMessage } from '../src/sessions/types.ts';

const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const TURNS = Number(process.env.BENCH_SESSION_TURNS ?? 400);
const IDLE = 1_000;

const PASS = defineBrick({
  name: 'PASS',
  kind: 'function',
  description: 'Returns its image unchanged',
  inputs: { image: port.image() },
  outputs: { image: port.image() },
  version: '1',
  run: async ({ image }) => ({ image }),
});

const trivialBuilder: Builder = {
  name: 'bench',
  async plan(req) {
    return {
      builder: 'bench',
      workflow: {
        process: req.instruction,
        nodes: [{ step: 1, brick: 'PASS', inputs: { image: { kind: 'ref', source: { kind: 'init', name: 'image' } } }, outputs: ['image'] }],
        results: [{ kind: 'step', step: 1, output: 'image' }],
      },
    };
  },
};

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('error', () => done(false));
    s.connect(port, host, () => done(true));
  });
}

const gc: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

function rssMb(): number {
  gc();
  gc();
  return process.memoryUsage().rss / 1024 / 1024;
}

async function manager(database: Database, dir: string, databaseOutlivesProcess = database.kind === 'postgres'): Promise<DbSessionManager> {
  const registry = new BrickRegistry([PASS]);
  return DbSessionManager.start({
    store: new DrizzleTurnStore(database.db, { databaseOutlivesProcess }),
    blobs: new DiskBlobStore(join(dir, 'blobs')),
    builder: trivialBuilder,
    executor: new Executor(registry, { cacheBytes: 0 }),
    registry,
    limits: { maxBytes: 1 << 20, maxPixels: 1 << 20 },
    settings: { turnsPerMinute: 1e9, maxPendingPerUser: 1e9 },
  });
}

let seq = 0;

/** A conversation with a photo in it; each call runs `n` sequential follow-up turns and returns each turn's handle() wall time. */
async function conversation(m: DbSessionManager, photo: Buffer): Promise<(n: number) => Promise<number[]>> {
  const chatId = `c${++seq}`;
  const msg = (text: string, image?: Buffer): IncomingMessage => ({
    platform: 'bench',
    chatId,
    userId: 'u',
    messageId: `b${++seq}`,
    text,
    images: image ? [{ bytes: image }] : [],
  });
  await m.handle(msg('start', photo), () => {});
  return async (n) => {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      const events: unknown[] = [];
      const out = await m.handle(msg(`edit ${i}`), (e) => void events.push(e));
      times.push(performance.now() - t);
      if (out.status !== 'done') throw new Error(`bench turn ${i} ended ${out.status}: ${JSON.stringify(events)}`);
    }
    return times;
  };
}

function line(label: string, times: number[], target?: number): number {
  times.sort((a, b) => a - b);
  const p50 = percentile(times, 50);
  const verdict = target === undefined ? '' : ` (target p50 ≤ ${target} ms: ${p50 <= target ? 'met' : 'MISSED'})`;
  console.log(`${label.padEnd(10)} per-turn orchestration over ${times.length} turns: p50 ${p50.toFixed(2)} ms, p99 ${percentile(times, 99).toFixed(2)} ms${verdict}`);
  return p50;
}

async function overhead(label: string, database: Database, dir: string, photo: Buffer, target: number): Promise<void> {
  const m = await manager(database, dir);
  const turns = await conversation(m, photo);
  await turns(30);
  line(label, await turns(TURNS), target);
  await m.close();
}

/**
 * PostgreSQL as the bot runs it (progress writes commit without waiting for the disk) against every write waiting,
 * in alternating blocks on two databases, so the machine's drift over the run falls on both alike.
 */
async function overheadPostgres(relaxedDb: Database, syncDb: Database, dir: string, photo: Buffer): Promise<void> {
  const relaxed = await conversation(await manager(relaxedDb, join(dir, 'relaxed'), true), photo);
  const sync = await conversation(await manager(syncDb, join(dir, 'sync'), false), photo);
  await relaxed(30);
  await sync(30);
  const a: number[] = [];
  const b: number[] = [];
  for (let done = 0; done < TURNS; done += 20) {
    a.push(...(await relaxed(20)));
    b.push(...(await sync(20)));
  }
  const p50 = line('PostgreSQL', a, 5);
  const base = line('  baseline', b);
  console.log(`${''.padEnd(10)} (baseline: every write waits for its WAL flush; bot / baseline p50 ${(p50 / base).toFixed(2)})`);
}

async function idleConversations(database: Database, dir: string, photo: Buffer): Promise<void> {
  const m = await manager(database, dir);
  // Warm every code path first so the figure is the conversations, not first-use allocations.
  for (let i = 0; i < 20; i++) await m.handle({ platform: 'warm', chatId: `w${i}`, userId: `w${i}`, messageId: 'w', text: 'go', images: [{ bytes: photo }] }, () => {});
  const before = rssMb();
  const heapBefore = process.memoryUsage().heapUsed / 1024 / 1024;
  for (let i = 0; i < IDLE; i++) {
    await m.handle({ platform: 'bench', chatId: `chat${i}`, userId: `user${i}`, messageId: 'm1', text: 'go', images: [{ bytes: photo }] }, () => {});
  }
  const after = rssMb();
  const heapAfter = process.memoryUsage().heapUsed / 1024 / 1024;
  console.log(
    `${'PGlite'.padEnd(10)} RSS growth for ${IDLE} idle conversations (one turn each, embedded database included): ${(after - before).toFixed(1)} MB (${before.toFixed(0)} → ${after.toFixed(0)} MB; JS heap +${(heapAfter - heapBefore).toFixed(1)} MB; target ≤ 50 MB: ${after - before <= 50 ? 'met' : 'MISSED'})`,
  );
  await m.close();
}

/**
 * For reading the figures above: the PNG encode of the 8×8 result, which every bench turn pays, and the fsynced
 * blob write, which the bench turns skip (their result repeats, and blobs are content-addressed) but a real edit pays.
 */
async function storageShare(dir: string): Promise<void> {
  const store = new DiskBlobStore(join(dir, 'share'));
  const encode: number[] = [];
  const write: number[] = [];
  for (let i = 0; i < 200; i++) {
    const raw = Buffer.alloc(8 * 8 * 3, i % 256);
    const t = performance.now();
    const png = await sharp(raw, { raw: { width: 8, height: 8, channels: 3 } }).png().toBuffer();
    const t2 = performance.now();
    await store.put(Buffer.concat([png, Buffer.from([i >> 8, i & 255])]));
    encode.push(t2 - t);
    write.push(performance.now() - t2);
  }
  const p50 = (xs: number[]): string => percentile(xs.sort((a, b) => a - b), 50).toFixed(2);
  console.log(`${''.padEnd(10)} for reading them: PNG encode of the 8×8 result p50 ${p50(encode)} ms (in every turn); fsynced write of a new blob p50 ${p50(write)} ms (not in these turns)`);
}

export async function run(): Promise<void> {
  const photo = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#336699' } }).png().toBuffer();

  const dir = await mkdtemp(join(tmpdir(), 'lego-bench-sessions-'));
  try {
    // Idle conversations first, on a fresh database, so earlier work does not blur the memory figure.
    const lite = await openDatabase({ dataDir: dir });
    try {
      await idleConversations(lite, dir, photo);
      await overhead('PGlite', lite, dir, photo, 10);
    } finally {
      await lite.close();
    }
    await storageShare(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  if (!(await reachable('127.0.0.1', 5432))) {
    console.log('PostgreSQL: SKIPPED, nothing listens on 127.0.0.1:5432');
    return;
  }
  const names = [`lego_bench_${process.pid}_a`, `lego_bench_${process.pid}_b`];
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  const pgDir = await mkdtemp(join(tmpdir(), 'lego-bench-sessions-'));
  const opened: Database[] = [];
  try {
    for (const name of names) {
      await admin.query(`CREATE DATABASE ${name}`);
      const url = new URL(POSTGRES_URL);
      url.pathname = `/${name}`;
      opened.push(await openDatabase({ databaseUrl: url.toString() }));
    }
    await overheadPostgres(opened[0]!, opened[1]!, pgDir, photo);
  } finally {
    for (const d of opened) await d.close();
    for (const name of names) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    await rm(pgDir, { recursive: true, force: true });
  }
}
