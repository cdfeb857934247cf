/**
 * Order within a conversation: the arrival gate (messages of one conversation
 * key are classified and admitted one at a time, in arrival order), then one
 * chain of jobs per conversation, so at most one turn runs in it and state
 * changes apply in the order messages arrived; and cancellation of those jobs.
 */

/** A job queued or running in a conversation's chain. */
export interface Job {
  readonly controller: AbortController;
  /** The turn it runs, when it runs one: the Cancel button of that turn's status message stops it alone. */
  readonly turnId?: number;
}

interface Chain {
  tail: Promise<unknown>;
  readonly jobs: Set<Job>;
}

export interface ConversationQueueHooks {
  /** A conversation got its first queued job. */
  readonly onBusy?: (conversationId: number) => void;
  /** A conversation's last job settled: it holds nothing any more. */
  readonly onIdle?: (conversationId: number) => void;
}

export class ConversationQueue {
  readonly #chains = new Map<number, Chain>();
  /** Per conversation key: the tail of messages still being classified and admitted. */
  readonly #arrivals = new Map<string, Promise<unknown>>();
  readonly #hooks: ConversationQueueHooks;

  constructor(hooks: ConversationQueueHooks = {}) {
    this.#hooks = hooks;
  }

  /**
   * Runs `work` once every earlier message of `key` has been admitted. `work` calls `admitted` as soon as its job is
   * queued (the next message may then be classified); it is called for it when `work` settles otherwise.
   */
  async arrive<T>(key: string, work: (admitted: () => void) => Promise<T>): Promise<T> {
    const previous = this.#arrivals.get(key) ?? Promise.resolve();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const tail = previous.then(() => gate);
    this.#arrivals.set(key, tail);
    await previous;
    let released = false;
    const admitted = (): void => {
      if (released) return;
      released = true;
      open();
      if (this.#arrivals.get(key) === tail) this.#arrivals.delete(key);
    };
    try {
      return await work(admitted);
    } finally {
      admitted();
    }
  }

  /** Runs `work` after everything earlier in the conversation; cancelling aborts `job.controller`. */
  enqueue<T>(conversationId: number, work: (job: Job) => Promise<T>, job: Job = { controller: new AbortController() }): Promise<T> {
    let chain = this.#chains.get(conversationId);
    if (!chain) {
      chain = { tail: Promise.resolve(), jobs: new Set() };
      this.#chains.set(conversationId, chain);
      this.#hooks.onBusy?.(conversationId);
    }
    const conv = chain;
    conv.jobs.add(job);
    const run = conv.tail.then(() => work(job));
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    conv.tail = settled;
    void settled.then(() => {
      conv.jobs.delete(job);
      if (conv.jobs.size === 0 && this.#chains.get(conversationId) === conv) {
        this.#chains.delete(conversationId);
        this.#hooks.onIdle?.(conversationId);
      }
    });
    return run;
  }

  /** Jobs queued or running in the conversation. */
  pending(conversationId: number): number {
    return this.#chains.get(conversationId)?.jobs.size ?? 0;
  }

  isBusy(conversationId: number): boolean {
    return this.#chains.has(conversationId);
  }

  /**
   * Aborts the job running `turnId` (the others go on), or, without one, every job of the conversation.
   * Returns how many were aborted.
   */
  cancel(conversationId: number, turnId?: number): number {
    const jobs = [...(this.#chains.get(conversationId)?.jobs ?? [])].filter((j) => turnId === undefined || j.turnId === turnId);
    for (const job of jobs) job.controller.abort();
    return jobs.length;
  }

  /** Aborts every job and waits for every chain to settle. */
  async close(): Promise<void> {
    const tails: Promise<unknown>[] = [];
    for (const chain of this.#chains.values()) {
      for (const job of chain.jobs) job.controller.abort();
      tails.push(chain.tail);
    }
    await Promise.all(tails);
  }
}
