/**
 * Per-user limits over all of a user's conversations on a platform: turns
 * queued or running at once, and turns started in any 60 seconds.
 */
import type { ConversationKey } from './types.ts';

export interface RateLimits {
  /** Turns one user may have queued or running at once. */
  readonly maxPendingPerUser: number;
  /** Turns one user may start in any 60 seconds. */
  readonly turnsPerMinute: number;
}

interface UserLoad {
  pending: number;
  starts: number[];
}

const WINDOW_MS = 60_000;

export class RateLimiter {
  readonly #limits: RateLimits;
  readonly #now: () => number;
  readonly #users = new Map<string, UserLoad>();

  /** `now`: a milliseconds clock (tests move it). */
  constructor(limits: RateLimits, now: () => number = Date.now) {
    this.#limits = limits;
    this.#now = now;
  }

  /** Counts a turn for the user, or refuses it over their limits with a message saying which and when to try again. */
  admit(key: Pick<ConversationKey, 'platform' | 'userId'>): string | undefined {
    const k = userKey(key);
    let load = this.#users.get(k);
    if (!load) {
      load = { pending: 0, starts: [] };
      this.#users.set(k, load);
    }
    const now = this.#now();
    load.starts = load.starts.filter((t) => now - t < WINDOW_MS);
    const { maxPendingPerUser, turnsPerMinute } = this.#limits;
    if (load.pending >= maxPendingPerUser) {
      return `You already have ${load.pending} edits waiting or running (the limit is ${maxPendingPerUser}). Wait for them to finish, or cancel them.`;
    }
    if (load.starts.length >= turnsPerMinute) {
      const wait = Math.ceil((WINDOW_MS - (now - load.starts[0]!)) / 1000);
      return `That is more than ${turnsPerMinute} edits in a minute. Please try again in ${wait} s.`;
    }
    load.pending++;
    load.starts.push(now);
    return undefined;
  }

  /** A counted turn finished (or never started): it no longer counts as pending. */
  release(key: Pick<ConversationKey, 'platform' | 'userId'>): void {
    const k = userKey(key);
    const load = this.#users.get(k);
    if (!load) return;
    load.pending = Math.max(0, load.pending - 1);
    // Users with nothing pending and no recent start hold no memory.
    if (load.pending === 0 && load.starts.every((t) => this.#now() - t >= WINDOW_MS)) this.#users.delete(k);
  }

  /** Users with something counted: for tests that check nothing is held for idle users. */
  get tracked(): number {
    return this.#users.size;
  }
}

function userKey(key: Pick<ConversationKey, 'platform' | 'userId'>): string {
  return `${key.platform}\u0000${key.userId}`;
}
