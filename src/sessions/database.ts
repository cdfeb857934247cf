/**
 * Opens the session database: embedded PGlite under <data dir>/db by default,
 * PostgreSQL when a URL is given; the same schema and migrations either way,
 * applied before anything else touches the tables.
 */
import { createHash } from 'node:crypto';
import { mkdir, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type { PGlite } from '@electric-sql/pglite';
import type { PoolClient } from 'pg';
import type { PGliteThread } from './pglite/pglite-thread.ts';
import type { Logger } from 'pino';
import * as schema from '../../db/schema.ts';
import { LegoEditError, errorMessage } from '../engine/errors.ts';
import { lockDirectory } from './directory-lock.ts';
import { checkTables } from './integrity.ts';
import { diagnoseUnopenable } from './pglite-diagnosis.ts';
import { DISK_FULL_TEXT, StorageError, driverMessage, isDamage, isDiskFull, storageFailure } from './storage-errors.ts';

export type SessionDb = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  readonly db: SessionDb;
  readonly kind: 'pglite' | 'postgres';
  /** Where it lives, for messages: a directory or the URL without its password. */
  readonly location: string;
  /**
   * Claims the right to run turns: start-up recovery marks every unfinished turn interrupted, so two processes
   * running turns on one database would wreck each other's. Throws `database-busy` while another process holds it;
   * the returned function gives it up (closing the database does too). PGlite's directory lock already keeps a
   * second process out, so there this only returns.
   */
  claimTurns(): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** The advisory lock key of the right to run turns in the public schema (any fixed bigint; this is "lego-edi" in ASCII). */
const PUBLIC_TURNS_LOCK = 0x6c65676f2d656469n;

/** One key per schema: bots in two schemas of one database are two bots on two databases. */
export function turnsLockKey(schema: string): bigint {
  if (schema === 'public') return PUBLIC_TURNS_LOCK;
  return BigInt.asUintN(63, BigInt(`0x${createHash('sha256').update(`lego-edit turns ${schema}`).digest('hex').slice(0, 16)}`));
}

/**
 * The schema the tables go in: the first of the connection's search_path that exists (set one with
 * `?options=-c search_path=NAME` on the URL). Refused in one line when none does, rather than left to fail as a migration.
 */
async function targetSchema(pool: { query: (q: string) => Promise<{ rows: Array<Record<string, unknown>> }> }, location: string): Promise<string> {
  const { rows } = await pool.query('select current_schema() as schema, current_setting(\'search_path\') as path');
  const schema = rows[0]?.schema;
  if (typeof schema === 'string' && schema) return schema;
  throw new LegoEditError(
    'database-schema',
    `No schema of the search_path (${String(rows[0]?.path)}) exists in the PostgreSQL database at ${location}: create it first (CREATE SCHEMA name), or change the URL's options=-c search_path=….`,
  );
}

export interface DatabaseOptions {
  /** PostgreSQL URL; embedded PGlite when unset. */
  readonly databaseUrl?: string;
  /** Data directory; PGlite keeps its files in <dataDir>/db. */
  readonly dataDir?: string;
  /** In-memory PGlite, for tests and benchmarks. */
  readonly inMemory?: boolean;
  /** Largest number of pooled PostgreSQL connections. */
  readonly poolSize?: number;
  /** Where a lost turns or directory lock, and a missing flock(1), are reported. */
  readonly logger?: Logger | undefined;
  /** Whether opening a PGlite directory reads every table to find damage (see integrity.ts); on by default. */
  readonly checkTables?: boolean;
  /** The flock(1) program that locks a PGlite directory (see directory-lock.ts); tests name a missing one. */
  readonly flock?: string | undefined;
}

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres';
  }
}

/** Opens and migrates. Drivers are imported lazily so commands that never open a database never load them. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    const { default: pg } = await import('pg');
    const { drizzle } = await import('drizzle-orm/node-postgres');
    const { migrate } = await import('drizzle-orm/node-postgres/migrator');
    // Keepalive, so a lock held by a bot whose host vanished is freed in minutes, not when the server's TCP timeout fires.
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.poolSize ?? 10, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
    // An idle client losing its connection must not crash the process; the next query reconnects.
    pool.on('error', () => {});
    const db = drizzle({ client: pool, schema });
    try {
      // A plain connect first, so an unreachable server is named as such rather than as a failed migration.
      (await pool.connect()).release();
    } catch (err) {
      await pool.end();
      throw new LegoEditError('database-unreachable', `Cannot connect to PostgreSQL at ${redact(options.databaseUrl)}: ${errorMessage(err)}`, { cause: err, retryable: true });
    }
    let schemaName: string;
    try {
      schemaName = await targetSchema(pool, redact(options.databaseUrl));
      // The public schema keeps drizzle's own bookkeeping schema, as before; another schema keeps it beside the tables,
      // so two bots in two schemas of one database never read each other's list of applied migrations.
      await migrate(db, { migrationsFolder: MIGRATIONS_DIR, migrationsSchema: schemaName === 'public' ? 'drizzle' : schemaName });
    } catch (err) {
      await pool.end();
      throw storageFailure(err) ?? err;
    }
    const TURNS_LOCK = turnsLockKey(schemaName);
    const location = redact(options.databaseUrl);
    // A session-level advisory lock lives as long as its connection, so the claim keeps one client checked out;
    // a killed process's connection closes and the server drops its lock with it.
    let holder: PoolClient | undefined;
    let claimed = false;
    const unclaim = async (): Promise<void> => {
      claimed = false;
      const client = holder;
      holder = undefined;
      if (!client) return;
      try {
        await client.query('select pg_advisory_unlock($1)', [TURNS_LOCK.toString()]);
        client.release();
      } catch (err) {
        client.release(err instanceof Error ? err : true);
      }
    };
    const acquire = async (): Promise<PoolClient> => {
      const client = await pool.connect();
      let rows: Array<{ ok: boolean; pid: number | null }>;
      try {
        ({ rows } = await client.query<{ ok: boolean; pid: number | null }>(
          `select pg_try_advisory_lock($1) as ok,
                  (select l.pid from pg_locks l where l.locktype = 'advisory' and l.granted and l.pid <> pg_backend_pid()
                     and l.database = (select oid from pg_database where datname = current_database())
                     and ((l.classid::bigint << 32) | l.objid::bigint) = $1::bigint limit 1) as pid`,
          [TURNS_LOCK.toString()],
        ));
      } catch (err) {
        client.release(err instanceof Error ? err : true);
        throw err;
      }
      if (!rows[0]?.ok) {
        client.release();
        const who = rows[0]?.pid ? ` (its connection is PostgreSQL backend ${rows[0].pid})` : '';
        throw new LegoEditError(
          'database-busy',
          `Another lego-edit process is running turns on the PostgreSQL database at ${location}${who}. Stop it first: one bot or chat process per database.`,
        );
      }
      // pg-pool drops its own error listener from a checked-out client: without this one a dropped connection would crash the process.
      client.on('error', (err) => {
        if (holder !== client) return;
        holder = undefined;
        client.release(err);
        options.logger?.error({ err: errorMessage(err) }, 'lost the PostgreSQL connection that holds the turns lock; claiming it again');
        void reclaim();
      });
      return client;
    };
    const reclaim = async (): Promise<void> => {
      try {
        const client = await acquire();
        if (claimed && !holder) holder = client;
        else {
          // Given up meanwhile: a session-level lock outlives the client's return to the pool, so unlock first.
          await client.query('select pg_advisory_unlock($1)', [TURNS_LOCK.toString()]).catch(() => undefined);
          client.release();
        }
      } catch (err) {
        options.logger?.error({ err: errorMessage(err) }, 'could not claim the turns lock again: another process may now run turns on this database');
      }
    };
    return {
      db: db as unknown as SessionDb,
      kind: 'postgres',
      location,
      async claimTurns() {
        if (claimed) throw new Error('claimTurns called twice on one database');
        holder = await acquire();
        claimed = true;
        return unclaim;
      },
      close: async () => {
        await unclaim();
        await pool.end();
      },
    };
  }
  const { PGliteThread: Thread } = await import('./pglite/pglite-thread.ts');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  let dir: string | undefined;
  let unlock = async (): Promise<void> => {};
  if (!options.inMemory) {
    if (!options.dataDir) throw new Error('openDatabase needs a dataDir or databaseUrl');
    dir = join(options.dataDir, 'db');
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      throw storageFailure(err) ?? err;
    }
    unlock = await lockDirectory(dir, { logger: options.logger, flock: options.flock });
  }
  let client: PGliteThread | undefined;
  try {
    try {
      // In a thread of its own: PGlite runs every statement synchronously, which in this thread stalled the event loop.
      client = await Thread.open(dir);
    } catch (err) {
      throw await unopenable(err, dir);
    }
    // drizzle's PGlite driver uses only query() and transaction(), which the thread's client answers alike.
    const db = drizzle({ client: client as unknown as PGlite, schema });
    try {
      await migrate(db, { migrationsFolder: MIGRATIONS_DIR });
      if (dir && options.checkTables !== false) {
        const problems = await checkTables(db as unknown as SessionDb);
        if (problems.length) throw damaged(dir, problems.join('; '));
      }
    } catch (err) {
      if (err instanceof LegoEditError) throw err;
      throw (dir && (await damagedTable(client, err, dir))) ?? storageFailure(err, dir ? `the database in ${dir}` : undefined) ?? err;
    }
    const opened = client;
    return {
      db: db as unknown as SessionDb,
      kind: 'pglite',
      location: dir ?? 'memory',
      claimTurns: async () => async () => {},
      close: async () => {
        await opened.close();
        await unlock();
      },
    };
  } catch (err) {
    await client?.close().catch(() => undefined);
    await unlock();
    throw err;
  }
}

/** Less free space than PostgreSQL needs to start: a new WAL segment or a page of a catalogue. */
async function nearlyFull(dir: string): Promise<boolean> {
  const fs = await statfs(dir).catch(() => undefined);
  return fs !== undefined && fs.bavail * fs.bsize < 16 * 1024 * 1024;
}

function damaged(dir: string, what: string): StorageError {
  return new StorageError(
    'database-damaged',
    `The database in ${dir} is damaged: ${what}. Stop lego-edit, then restore ${dir} from a backup, or move it aside to start with an empty history.`,
  );
}

/** Why PGlite would not start on a directory: a full disk, or which of its files is damaged. */
async function unopenable(err: unknown, dir: string | undefined): Promise<unknown> {
  // PGlite's file system reports a full disk as a crash of its own, so the disk is asked.
  if (isDiskFull(err) || (dir && (await nearlyFull(dir)))) return storageFailure(err) ?? new StorageError('disk-full', DISK_FULL_TEXT, { cause: err });
  if (!dir) return err;
  return damaged(dir, `${await diagnoseUnopenable(dir)}; PGlite said: ${errorMessage(err).split('\n')[0]!.replace(/\s*Build with -sASSERTIONS.*$/, '').replace(/\.$/, '')}`);
}

/** A damaged page (XX001) named by its table rather than its file number, when the catalogue can still say. */
async function damagedTable(client: { query: (q: string, p: unknown[]) => Promise<{ rows: unknown[] }> }, err: unknown, dir: string): Promise<StorageError | undefined> {
  if (!isDamage(err)) return undefined;
  const message = driverMessage(err);
  const file = /(?:relation|file) "(base\/\d+\/(\d+))"/.exec(message);
  let table: string | undefined;
  if (file) {
    const found = await client.query('select relname from pg_class where relfilenode = $1', [Number(file[2])]).catch(() => undefined);
    table = (found?.rows[0] as { relname?: string } | undefined)?.relname;
  }
  return damaged(dir, table ? `${message.replace(/(?:relation|file) "[^"]+"/, `the table ${table}`)} (file ${file![1]})` : message);
}
