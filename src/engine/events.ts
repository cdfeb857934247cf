import type { LegoEditError } from './errors.ts';

/** What the Executor reports while it runs, for progress messages in chat and the CLI. */
export type ExecutorEvent =
  | { readonly type: 'validated'; readonly steps: number }
  | { readonly type: 'step-started'; readonly step: number; readonly brick: string; readonly seq: number }
  | { readonly type: 'step-progress'; readonly step: number; readonly brick: string; readonly fraction?: number; readonly message?: string }
  | {
      readonly type: 'step-finished';
      readonly step: number;
      readonly brick: string;
      readonly seq: number;
      readonly durationMs: number;
      readonly cache: 'hit' | 'miss';
      /** Mask outputs of a predict brick that came back empty. */
      readonly emptyMasks: readonly string[];
    }
  | { readonly type: 'step-failed'; readonly step: number; readonly brick: string; readonly error: LegoEditError }
  | { readonly type: 'done'; readonly status: 'ok' | 'failed' | 'cancelled'; readonly durationMs: number };

export type ExecutorEventListener = (event: ExecutorEvent) => void;
