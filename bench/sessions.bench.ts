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

async function manager(database: Database, dir: string): Promise<DbSessionManager> {
  const registry = new BrickRegistry([PASS]);
  return DbSessionManager.start({
    db: database.db,
    blobs: new DiskBlobStore(join(dir, 'blobs')),
    builder: trivialBuilder,
    executor: new Executor(registry, { cacheBytes: 0 }),
    registry,
    limits: { maxBytes: 1 << 20, maxPixels: 1 << 20 },
    settings: { turnsPerMinute: 1e9, maxPendingPerUser: 1e9 },
  });
}

/** Sequential follow-up turns in one conversation; each turn's handle() wall time. */
let seq = 0;

async function turnLatencies(m: DbSessionManager, photo: Buffer, n: number): Promise<number[]> {
  const msg = (text: string, image?: Buffer): IncomingMessage => ({
    platform: 'bench',
    chatId: 'c',
    userId: 'u',
    messageId: `b${++seq}`,
    text,
    images: image ? [{ bytes: image }] : [],
  });
  await m.handle(msg('start', photo), () => {});
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const events: unknown[] = [];
    const out = await m.handle(msg(`edit ${i}`), (e) => void events.push(e));
    times.push(performance.now() - t);
    if (out.status !== 'done') throw new Error(`bench turn ${i} ended ${out.status}: ${JSON.stringify(events)}`);
  }
  return times;
}

async function overhead(label: string, database: Database, dir: string, photo: Buffer, target: number): Promise<void> {
  const m = await manager(database, dir);
  await turnLatencies(m, photo, 30);
  const times = (await turnLatencies(m, photo, TURNS)).sort((a, b) => a - b);
  const p50 = percentile(times, 50);
  const p99 = percentile(times, 99);
  console.log(
    `${label.padEnd(10)} per-turn orchestration over ${TURNS} turns: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms (target p50 ≤ ${target} ms: ${p50 <= target ? 'met' : 'MISSED'})`,
  );
  await m.close();
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

/** The part of a turn that is result encoding and the durable (fsynced) blob write, for reading the figures above. */
async function storageShare(dir: string): Promise<void> {
  const store = new DiskBlobStore(join(dir, 'share'));
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const raw = Buffer.alloc(8 * 8 * 3, i % 256);
    const t = performance.now();
    await store.put(await sharp(raw, { raw: { width: 8, height: 8, channels: 3 } }).png().toBuffer());
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  console.log(`${''.padEnd(10)} of which PNG encode + fsynced blob write of the 8×8 result: p50 ${percentile(times, 50).toFixed(2)} ms`);
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
  const name = `lego_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  const pgDir = await mkdtemp(join(tmpdir(), 'lego-bench-sessions-'));
  try {
    const database = await openDatabase({ databaseUrl: url.toString() });
    try {
      await overhead('PostgreSQL', database, pgDir, photo, 5);
    } finally {
      await database.close();
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    await rm(pgDir, { recursive: true, force: true });
  }
}
