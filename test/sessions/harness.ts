/** Session manager fixtures: a real database (PGlite in a temp dir, or a fresh PostgreSQL database), real bricks, a disk blob store. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import sharp from 'sharp';
import { type Config, loadConfig } from '../../src/config.ts';
import type { ExecutorOptions } from '../../src/engine/executor.ts';
import { type SessionRuntime, openSessions } from '../../src/sessions/index.ts';
import { type Database, openDatabase } from '../../src/sessions/database.ts';
import { DiskBlobStore } from '../../src/sessions/blob-store.ts';
import type { DbSessionManager } from '../../src/sessions/manager.ts';
import type { SessionSettings } from '../../src/sessions/settings.ts';
import type { IncomingMessage, SessionEvent } from '../../src/sessions/types.ts';
import { POSTGRES_URL } from '../support/services.ts';
import { testRuntime } from './slow-brick.ts';

export type DbKind = 'pglite' | 'postgres';

/** A PostgreSQL database of its own, so parallel test files never see each other's rows. */
export async function freshPostgres(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `lego_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: POSTGRES_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export interface Harness {
  readonly dir: string;
  readonly database: Database;
  readonly blobs: DiskBlobStore;
  readonly rt: SessionRuntime;
  manager: DbSessionManager;
  /** Closes the manager and database and opens them again on the same files, as a restart does. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function openHarness(
  kind: DbKind,
  options: {
    settings?: Partial<SessionSettings>;
    runtime?: { config?: Config; executor?: ExecutorOptions };
    customise?: (rt: SessionRuntime) => void;
    /** In-memory PGlite: a real database without initdb on disk, for tests that never restart. */
    memory?: boolean;
  } = {},
): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'lego-sessions-'));
  const pgdb = kind === 'postgres' ? await freshPostgres() : undefined;
  const open = (): Promise<Database> =>
    openDatabase(pgdb ? { databaseUrl: pgdb.url, poolSize: 4 } : options.memory ? { inMemory: true } : { dataDir: dir });
  const config = { ...(options.runtime?.config ?? loadConfig({ LEGO_EDIT_DATA_DIR: dir })), dataDir: dir };
  const rt = testRuntime(config, options.runtime?.executor);
  options.customise?.(rt);
  const blobs = new DiskBlobStore(join(dir, 'blobs'));
  const start = (database: Database): Promise<DbSessionManager> =>
    // Through openSessions, as the bot opens it (the PostgreSQL cases get its commit mode); the harness owns the database.
    openSessions(rt, { database, blobs, settings: options.settings ?? {} }).then((s) => s.manager);
  let database = await open();
  const h: Harness = {
    dir,
    get database() {
      return database;
    },
    blobs,
    rt,
    manager: await start(database),
    async restart() {
      await h.manager.close();
      await database.close();
      database = await open();
      h.manager = await start(database);
    },
    async close() {
      await h.manager.close();
      await database.close();
      await pgdb?.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/** A small photo-like PNG: a colour gradient, so brightness and grayscale changes are measurable. */
export async function gradientPng(width = 48, height = 32, seed = 0): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = (40 + x * 3 + seed * 7) % 200;
      data[i + 1] = (60 + y * 4 + seed * 11) % 200;
      data[i + 2] = (90 + (x + y) * 2 + seed * 13) % 200;
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

export async function meanAndSpread(png: Uint8Array): Promise<{ mean: number; channelSpread: number }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  let sum = 0;
  let spread = 0;
  for (let i = 0; i < data.length; i += info.channels) {
    const r = data[i]!;
    const g = data[i + 1]!;
    const b = data[i + 2]!;
    sum += r + g + b;
    spread += Math.max(r, g, b) - Math.min(r, g, b);
  }
  const px = data.length / info.channels;
  return { mean: sum / px / 3, channelSpread: spread / px };
}

let seq = 0;

export function message(user: string, text: string | undefined, image?: Uint8Array, extra: Partial<IncomingMessage> = {}): IncomingMessage {
  return {
    platform: 'test',
    chatId: extra.chatId ?? `chat-${user}`,
    userId: user,
    messageId: `m${++seq}-${randomBytes(3).toString('hex')}`,
    ...(text !== undefined ? { text } : {}),
    images: image ? [{ bytes: image }] : [],
    ...extra,
  };
}

/** Collects every event of one `handle` call. */
export function recorder(): { events: SessionEvent[]; listener: (e: SessionEvent) => void; of: <T extends SessionEvent['type']>(t: T) => Array<Extract<SessionEvent, { type: T }>> } {
  const events: SessionEvent[] = [];
  return {
    events,
    listener: (e) => void events.push(e),
    of: <T extends SessionEvent['type']>(t: T) => events.filter((e): e is Extract<SessionEvent, { type: T }> => e.type === t),
  };
}


export { testRuntime, withSlowBrick } from './slow-brick.ts';
