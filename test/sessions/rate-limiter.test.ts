/** RateLimiter: per user over all their conversations, turns pending at once and turns started per minute. */
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/sessions/rate-limiter.ts';

const ann = { platform: 'test', userId: 'ann' };
const bob = { platform: 'test', userId: 'bob' };

describe('RateLimiter', () => {
  it('refuses a turn past the pending limit until one is released', () => {
    const limiter = new RateLimiter({ maxPendingPerUser: 2, turnsPerMinute: 100 }, () => 0);
    expect(limiter.admit(ann)).toBeUndefined();
    expect(limiter.admit(ann)).toBeUndefined();
    expect(limiter.admit(ann)).toBe('You already have 2 edits waiting or running (the limit is 2). Wait for them to finish, or cancel them.');
    // Another user, or the same id on another platform, has limits of their own.
    expect(limiter.admit(bob)).toBeUndefined();
    expect(limiter.admit({ platform: 'other', userId: 'ann' })).toBeUndefined();
    limiter.release(ann);
    expect(limiter.admit(ann)).toBeUndefined();
  });

  it('refuses a turn past the per-minute limit and says how long to wait', () => {
    let now = 1_000_000;
    const limiter = new RateLimiter({ maxPendingPerUser: 100, turnsPerMinute: 3 }, () => now);
    for (let i = 0; i < 3; i++) {
      expect(limiter.admit(ann)).toBeUndefined();
      limiter.release(ann);
      now += 10_000;
    }
    // The first start was 30 s ago: 30 s to go.
    expect(limiter.admit(ann)).toBe('That is more than 3 edits in a minute. Please try again in 30 s.');
    now += 30_000;
    expect(limiter.admit(ann)).toBeUndefined();
  });

  it('forgets a user with nothing pending and no start in the last minute', () => {
    let now = 0;
    const limiter = new RateLimiter({ maxPendingPerUser: 5, turnsPerMinute: 5 }, () => now);
    limiter.admit(ann);
    limiter.release(ann);
    expect(limiter.tracked).toBe(1);
    now = 60_000;
    limiter.admit(bob);
    limiter.release(bob);
    limiter.admit(ann);
    limiter.release(ann);
    now = 130_000;
    limiter.release(bob);
    limiter.release(ann);
    expect(limiter.tracked).toBe(0);
  });
});
