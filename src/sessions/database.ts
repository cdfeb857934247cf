/**
 * Opens the session database: embedded PGlite under <data dir>/db by default,
 * PostgreSQL when a URL is given; the same schema and migrations either way,
 * applied before anything else touches the tables.
 */
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import * as schema from '../../db/schema.ts';
import { LegoEditError, errorMessage } from '../engine/errors.ts';

export type SessionDb = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  readonly db: SessionDb;
  readonly kind: 'pglite' | 'postgres';
  /** Where it lives, for messages: a directory or the URL without its password. */
  readonly location: string;
  close(): Promise<void>;
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

/** Whether a process with this id is running (signal 0 checks without sending anything). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * PGlite has no lock of its own across processes, and two writers corrupt its files: a pid file
 * in the database directory keeps a second process out. A file left by a killed process is taken over.
 */
async function lockDirectory(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, 'lego-edit.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (holder && isRunning(holder)) {
        throw new LegoEditError(
          'database-busy',
          `The database in ${dir} is in use by another lego-edit process (pid ${holder}${holder === process.pid ? ', this one' : ''}). Stop it first; to run several processes, use PostgreSQL (DATABASE_URL).`,
        );
      }
      await rm(path, { force: true });
    }
  }
  throw new LegoEditError('database-busy', `Could not lock the database in ${dir}; another process keeps taking it.`);
}

/** Opens and migrates. Drivers are imported lazily so commands that never open a database never load them. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    const { default: pg } = await import('pg');
    const { drizzle } = await import('drizzle-orm/node-postgres');
    const { migrate } = await import('drizzle-orm/node-postgres/migrator');
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.poolSize ?? 10 });
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
    try {
      await migrate(db, { migrationsFolder: MIGRATIONS_DIR });
    } catch (err) {
      await pool.end();
      throw err;
    }
    return { db: db as unknown as SessionDb, kind: 'postgres', location: redact(options.databaseUrl), close: () => pool.end() };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  let dir: string | undefined;
  let unlock = async (): Promise<void> => {};
  if (!options.inMemory) {
    if (!options.dataDir) throw new Error('openDatabase needs a dataDir or databaseUrl');
    dir = join(options.dataDir, 'db');
    await mkdir(dir, { recursive: true });
    unlock = await lockDirectory(dir);
  }
  let client;
  try {
    client = dir ? new PGlite(dir) : new PGlite();
    const db = drizzle({ client, schema });
    await migrate(db, { migrationsFolder: MIGRATIONS_DIR });
    const opened = client;
    return {
      db: db as unknown as SessionDb,
      kind: 'pglite',
      location: dir ?? 'memory',
      close: async () => {
        await opened.close();
        await unlock();
      },
    };
  } catch (err) {
    await client?.close();
    await unlock();
    throw err;
  }
}
