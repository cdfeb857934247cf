/** What a session manager may do for each user and keep for each conversation, and how much it caches. */
import { type Config, configDefaults } from '../config.ts';

export interface SessionSettings {
  /** Turns one user may have queued or running at once, over all their conversations. */
  readonly maxPendingPerUser: number;
  /** Turns one user may start in any 60 seconds. */
  readonly turnsPerMinute: number;
  readonly maxImagesPerConversation: number;
  readonly maxBlobBytes: number;
  readonly undoDepth: number;
  /** Earlier turns given to the Builder as context. */
  readonly historyTurns: number;
  /** Check a conversation's image count every this many turns (the limit may be passed by this many meanwhile). */
  readonly pruneEvery: number;
  /** Conversations whose state stays cached in memory. */
  readonly cachedConversations: number;
  /** Decoded current images kept in memory, in bytes, so follow-ups skip a decode. */
  readonly decodedCacheBytes: number;
  /** New plans asked of the Builder after a run fails in a way a plan can fix (an empty mask, a brick that cannot run here): RUN_REPAIRS. */
  readonly runRepairs: number;
  /** How long the intent advisor (a model) may take before its answer is ignored and the deterministic one stands. */
  readonly adviceTimeoutMs: number;
}

/** The settings a deployment configures (src/config.ts), and the config field each comes from. */
export function configuredSettings(
  config: Pick<Config, 'maxPendingPerUser' | 'turnsPerMinute' | 'maxImagesPerConversation' | 'maxBlobBytes' | 'undoDepth' | 'intentTimeoutMs' | 'runRepairs'>,
): Pick<SessionSettings, 'maxPendingPerUser' | 'turnsPerMinute' | 'maxImagesPerConversation' | 'maxBlobBytes' | 'undoDepth' | 'adviceTimeoutMs' | 'runRepairs'> {
  return {
    maxPendingPerUser: config.maxPendingPerUser,
    turnsPerMinute: config.turnsPerMinute,
    maxImagesPerConversation: config.maxImagesPerConversation,
    maxBlobBytes: config.maxBlobBytes,
    undoDepth: config.undoDepth,
    adviceTimeoutMs: config.intentTimeoutMs,
    runRepairs: config.runRepairs,
  };
}

/** The config table's defaults for what a deployment configures; the rest is tuning no setting reaches. */
export const DEFAULT_SETTINGS: SessionSettings = {
  ...configuredSettings(configDefaults()),
  historyTurns: 8,
  pruneEvery: 10,
  cachedConversations: 5_000,
  decodedCacheBytes: 64 * 1024 * 1024,
};
