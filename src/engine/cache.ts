import { LRUCache } from 'lru-cache';
import type { Value } from './values.ts';
import { valueBytes } from './values.ts';

export type StepOutputs = Readonly<Record<string, Value>>;

/** What one run of a step leaves behind: its outputs and what its brick warned about them. */
export interface CachedStep {
  readonly outputs: StepOutputs;
  /** Kept so a cache hit warns as the original run did. */
  readonly warnings: readonly string[];
  /** Outputs the run did not read, left in the pool's thread: a later run that reads one runs the step again. */
  readonly left?: readonly string[];
}

/**
 * Step outputs by content key, bounded by bytes, least recently used out first.
 * Values are shared between runs, so bricks must treat their inputs as read-only.
 */
export class OutputCache {
  readonly #lru: LRUCache<string, CachedStep>;
  hits = 0;
  misses = 0;

  constructor(maxBytes = 512 * 1024 * 1024) {
    this.#lru = new LRUCache<string, CachedStep>({
      maxSize: Math.max(1, maxBytes),
      sizeCalculation: ({ outputs }) => Math.max(1, Object.values(outputs).reduce<number>((n, v) => n + valueBytes(v), 0)),
    });
  }

  get(key: string): CachedStep | undefined {
    const v = this.#lru.get(key);
    if (v) this.hits++;
    else this.misses++;
    return v;
  }

  set(key: string, step: CachedStep): void {
    this.#lru.set(key, step);
  }

  get size(): number {
    return this.#lru.size;
  }

  get bytes(): number {
    return this.#lru.calculatedSize;
  }

  clear(): void {
    this.#lru.clear();
  }
}
