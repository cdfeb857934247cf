/**
 * ConversationQueue: messages of one conversation are admitted in arrival
 * order, its jobs run one at a time in the order queued, other conversations
 * run alongside, and cancellation aborts exactly the jobs it names.
 */
import { describe, expect, it } from 'vitest';
import { ConversationQueue, type Job } from '../../src/sessions/queue.ts';

/** A promise settled from outside. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('ConversationQueue', () => {
  it('runs one conversation’s jobs one at a time, in the order they were queued', async () => {
    const q = new ConversationQueue();
    const log: string[] = [];
    const gates = [deferred(), deferred(), deferred()];
    const runs = gates.map((g, i) =>
      q.enqueue(1, async () => {
        log.push(`start ${i}`);
        await g.promise;
        log.push(`end ${i}`);
        return i;
      }),
    );
    await new Promise((r) => setTimeout(r, 5));
    expect(log).toEqual(['start 0']);
    expect(q.pending(1)).toBe(3);
    // Finishing them out of order changes nothing: the second starts only after the first ends.
    gates[2]!.resolve();
    gates[1]!.resolve();
    await new Promise((r) => setTimeout(r, 5));
    expect(log).toEqual(['start 0']);
    gates[0]!.resolve();
    expect(await Promise.all(runs)).toEqual([0, 1, 2]);
    expect(log).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
  });

  it('lets another conversation’s job run while one conversation is busy', async () => {
    const q = new ConversationQueue();
    const blocked = deferred();
    const first = q.enqueue(1, () => blocked.promise.then(() => 'one'));
    expect(await q.enqueue(2, async () => 'two')).toBe('two');
    blocked.resolve();
    expect(await first).toBe('one');
  });

  it('a failed job does not stop the ones behind it', async () => {
    const q = new ConversationQueue();
    const failed = q.enqueue(1, async () => {
      throw new Error('boom');
    });
    const next = q.enqueue(1, async () => 'next');
    await expect(failed).rejects.toThrow('boom');
    expect(await next).toBe('next');
  });

  it('admits messages of one key in arrival order, each after the one before is admitted', async () => {
    const q = new ConversationQueue();
    const log: string[] = [];
    const slow = deferred();
    const a = q.arrive('k', async (admitted) => {
      log.push('a classified');
      await slow.promise;
      admitted();
      log.push('a admitted');
    });
    const b = q.arrive('k', async () => void log.push('b classified'));
    const other = q.arrive('other', async () => void log.push('other classified'));
    await other;
    expect(log).toEqual(['a classified', 'other classified']);
    slow.resolve();
    await Promise.all([a, b]);
    expect(log).toEqual(['a classified', 'other classified', 'a admitted', 'b classified']);
  });

  it('cancels one turn’s job by its turn id and lets the others run', async () => {
    const q = new ConversationQueue();
    const gate = deferred();
    const seen: Array<[number | undefined, boolean]> = [];
    const job = (turnId: number): Job => ({ controller: new AbortController(), turnId });
    const work = async (j: Job): Promise<void> => {
      await gate.promise;
      seen.push([j.turnId, j.controller.signal.aborted]);
    };
    const runs = [q.enqueue(1, work, job(7)), q.enqueue(1, work, job(8)), q.enqueue(1, work, job(9))];
    expect(q.cancel(1, 8)).toBe(1);
    expect(q.cancel(1, 42)).toBe(0);
    gate.resolve();
    await Promise.all(runs);
    expect(seen).toEqual([
      [7, false],
      [8, true],
      [9, false],
    ]);
  });

  it('cancels every job of a conversation, and only of that one', async () => {
    const q = new ConversationQueue();
    const gate = deferred();
    const signals: AbortSignal[] = [];
    const work = async (j: Job): Promise<void> => {
      signals.push(j.controller.signal);
      await gate.promise;
    };
    const runs = [q.enqueue(1, work), q.enqueue(1, work), q.enqueue(2, work)];
    expect(q.cancel(1)).toBe(2);
    expect(q.cancel(3)).toBe(0);
    gate.resolve();
    await Promise.all(runs);
    expect(signals.map((s) => s.aborted).sort()).toEqual([false, true, true]);
  });

  it('says when a conversation becomes busy and idle, and holds nothing once idle', async () => {
    const events: string[] = [];
    const q = new ConversationQueue({ onBusy: (id) => events.push(`busy ${id}`), onIdle: (id) => events.push(`idle ${id}`) });
    const gate = deferred();
    const a = q.enqueue(5, () => gate.promise);
    const b = q.enqueue(5, async () => undefined);
    expect(q.isBusy(5)).toBe(true);
    gate.resolve();
    await Promise.all([a, b]);
    await new Promise((r) => setTimeout(r, 0));
    expect(events).toEqual(['busy 5', 'idle 5']);
    expect([q.isBusy(5), q.pending(5)]).toEqual([false, 0]);
  });

  it('close aborts every job and waits for them to settle', async () => {
    const q = new ConversationQueue();
    let finished = 0;
    const work = (j: Job): Promise<void> =>
      new Promise((resolve) => {
        const stop = (): void => {
          finished++;
          resolve();
        };
        // A job may start only after close() aborted it.
        if (j.controller.signal.aborted) stop();
        else j.controller.signal.addEventListener('abort', stop);
      });
    void q.enqueue(1, work);
    void q.enqueue(2, work);
    await q.close();
    expect(finished).toBe(2);
  });
});
