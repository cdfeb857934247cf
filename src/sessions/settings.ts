/** What a session manager may do for each user and keep for each conversation, and how much it caches. */

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

export const DEFAULT_SETTINGS: SessionSettings = {
  maxPendingPerUser: 10,
  turnsPerMinute: 30,
  maxImagesPerConversation: 200,
  maxBlobBytes: 5 * 1024 ** 3,
  undoDepth: 20,
  historyTurns: 8,
  pruneEvery: 10,
  cachedConversations: 5_000,
  decodedCacheBytes: 64 * 1024 * 1024,
  runRepairs: 2,
  adviceTimeoutMs: 10_000,
};
