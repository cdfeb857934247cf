/** Opening a session manager from a runtime: the configured database, the blob store in the data directory, the configured limits. */
import { join } from 'node:path';
import type { Runtime } from '../runtime.ts';
import { type BlobStore, DiskBlobStore } from './blob-store.ts';
import { type Database, openDatabase } from './database.ts';
import { DbSessionManager } from './manager.ts';
import { DrizzleTurnStore } from './store/drizzle-store.ts';
import { type SessionSettings, configuredSettings } from './settings.ts';

/** What the session manager needs of a runtime. */
export type SessionRuntime = Pick<Runtime, 'config' | 'registry' | 'executor' | 'builder' | 'intentAdvisor' | 'logger' | 'limits'> & Partial<Pick<Runtime, 'critic'>>;

export interface Sessions {
  readonly manager: DbSessionManager;
  readonly database: Database;
  readonly blobs: BlobStore;
  /** Stops running turns, then closes the database. */
  close(): Promise<void>;
}

export interface OpenSessionsOptions {
  /** An already opened database (tests share one); otherwise the configured one is opened and owned. */
  readonly database?: Database;
  readonly blobs?: BlobStore;
  readonly settings?: Partial<SessionSettings>;
}

export async function openSessions(rt: SessionRuntime, options: OpenSessionsOptions = {}): Promise<Sessions> {
  const { config } = rt;
  const owned = !options.database;
  const database =
    options.database ?? (await openDatabase({ dataDir: config.dataDir, logger: rt.logger, ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}) }));
  const blobs = options.blobs ?? new DiskBlobStore(join(config.dataDir, 'blobs'));
  let unclaim: (() => Promise<void>) | undefined;
  try {
    // Before start-up recovery, which would mark another live process's turns interrupted.
    unclaim = await database.claimTurns();
    const manager = await DbSessionManager.start({
      store: new DrizzleTurnStore(database.db, { databaseOutlivesProcess: database.kind === 'postgres' }),
      blobs,
      builder: rt.builder,
      executor: rt.executor,
      registry: rt.registry,
      limits: rt.limits,
      logger: rt.logger,
      ...(rt.intentAdvisor ? { intentAdvisor: rt.intentAdvisor } : {}),
      ...(rt.critic ? { critic: rt.critic } : {}),
      settings: { ...configuredSettings(config), ...options.settings },
    });
    return {
      manager,
      database,
      blobs,
      async close() {
        await manager.close();
        await unclaim?.();
        if (owned) await database.close();
      },
    };
  } catch (err) {
    await unclaim?.();
    if (owned) await database.close();
    throw err;
  }
}

export type { BlobStore } from './blob-store.ts';
export { DiskBlobStore, MemoryBlobStore } from './blob-store.ts';
export type { Database } from './database.ts';
export { openDatabase } from './database.ts';
export { DbSessionManager } from './manager.ts';
export { DrizzleTurnStore } from './store/drizzle-store.ts';
export { MemoryTurnStore } from './store/memory-store.ts';
export type { TurnStore } from './store/turn-store.ts';
export type { SessionSettings } from './settings.ts';
export type * from './types.ts';
