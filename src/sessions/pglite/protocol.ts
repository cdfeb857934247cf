/** What the main thread and the PGlite thread send each other. */
import type { SerialisedError } from '../../engine/pool/worker-errors.ts';

export interface QueryOptions {
  readonly rowMode?: 'array' | 'object';
  /**
   * Type OIDs whose values come back as PostgreSQL's text, unparsed. drizzle asks this (as identity parsers) for
   * dates, times and intervals; functions cannot cross threads, so only that one kind of parser is offered.
   */
  readonly keepText?: readonly number[];
}

export type Request =
  | { readonly id: number; readonly op: 'open'; readonly dataDir?: string | undefined }
  | { readonly id: number; readonly op: 'query'; readonly text: string; readonly params: readonly unknown[]; readonly options: QueryOptions; readonly tx?: number | undefined }
  | { readonly id: number; readonly op: 'exec'; readonly text: string; readonly tx?: number | undefined }
  /** Starts a transaction; the reply's value is its number, which later queries name. */
  | { readonly id: number; readonly op: 'begin' }
  | { readonly id: number; readonly op: 'end'; readonly tx: number; readonly commit: boolean }
  | { readonly id: number; readonly op: 'close' };

export type Reply = { readonly id: number; readonly ok: true; readonly value: unknown } | { readonly id: number; readonly ok: false; readonly error: SerialisedError };
