/** Bookkeeping common to the adapters: turns in flight (for graceful shutdown) and latency marks (for the benchmark). */

export class TurnTracker {
  readonly #running = new Set<Promise<unknown>>();

  get size(): number {
    return this.#running.size;
  }

  track(work: Promise<unknown>): void {
    this.#running.add(work);
    void work.finally(() => this.#running.delete(work));
  }

  /** Resolves when every tracked turn has settled, or after `timeoutMs`; returns how many were still running. */
  async drain(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.#running.size && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.#running]), new Promise((r) => (timer = setTimeout(r, Math.max(0, deadline - Date.now()))))]);
      clearTimeout(timer);
    }
    return this.#running.size;
  }
}

/**
 * The adapter layer's own latency: from a platform update arriving to the
 * session-manager call, and from a result event to the platform upload being issued.
 */
export class AdapterTimings {
  readonly receivedToHandleMs: number[] = [];
  /** The same, split: messages carrying images (download included) and text-only ones. */
  readonly receivedToHandleWithImagesMs: number[] = [];
  readonly receivedToHandleTextMs: number[] = [];
  readonly resultToRequestMs: number[] = [];
  /** When each turn's result event arrived (performance.now()), for correlating with a server's receipt time. */
  readonly resultAt = new Map<number, number>();
  readonly #pending = new Map<number, number>();

  mark(id: string | number, what: 'handle' | 'result' | 'sent', at: number, receivedAt?: number, withImages = false): void {
    if (what === 'handle' && receivedAt !== undefined) {
      this.receivedToHandleMs.push(at - receivedAt);
      (withImages ? this.receivedToHandleWithImagesMs : this.receivedToHandleTextMs).push(at - receivedAt);
    }
    else if (what === 'result' && typeof id === 'number') {
      this.#pending.set(id, at);
      this.resultAt.set(id, at);
    } else if (what === 'sent' && typeof id === 'number') {
      const start = this.#pending.get(id);
      if (start !== undefined) {
        this.resultToRequestMs.push(at - start);
        this.#pending.delete(id);
      }
    }
  }
}

export function percentile(values: readonly number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
