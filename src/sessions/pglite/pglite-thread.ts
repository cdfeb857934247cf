/**
 * PGlite in a worker thread, behind the part of PGlite's client interface that
 * drizzle and the session code use (`query`, `exec`, `transaction`, `close`).
 * PGlite runs each statement synchronously in WebAssembly; in the main thread
 * that stalled the event loop for every query of every turn (tens of
 * milliseconds at a time while 4 edits ran, `npm run bench -- pool`). Here the
 * main thread only sends the statement and waits.
 *
 * Nothing about durability changes: the same PGlite writes the same directory
 * from its thread, and the process dies as a whole, so a killed bot leaves the
 * files as an in-process PGlite would.
 */
import { Worker } from 'node:worker_threads';
import type { Results } from '@electric-sql/pglite';
import type { SerialisedError } from '../../engine/pool/worker-errors.ts';
import type { QueryOptions, Reply, Request } from './protocol.ts';

type Op = Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never;

/** A query's options as drizzle gives them: parsers may only keep a type's text (see QueryOptions.keepText). */
export interface ClientQueryOptions {
  readonly rowMode?: 'array' | 'object';
  readonly parsers?: Record<number, unknown>;
}

/** What a transaction's callback gets: queries that run inside it. */
export interface ThreadTransaction {
  query<T>(text: string, params?: readonly unknown[], options?: ClientQueryOptions): Promise<Results<T>>;
  exec(text: string): Promise<Results[]>;
}

function workerEntry(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('./tsx-pglite-worker.mjs', here) : new URL('./pglite-worker.js', here);
}

/** An error from the thread as PGlite threw it: the message, stack and fields (a SQLSTATE `code`, an errno) that storage-errors.ts reads. */
function restore(e: SerialisedError): Error {
  const err = new Error(e.message);
  Object.assign(err, e.fields);
  Object.defineProperty(err, 'name', { value: e.className, configurable: true, writable: true });
  if (e.stack) err.stack = e.stack;
  return err;
}

function queryOptions(options: ClientQueryOptions | undefined): QueryOptions {
  const keepText = options?.parsers ? Object.keys(options.parsers).map(Number) : [];
  return { ...(options?.rowMode ? { rowMode: options.rowMode } : {}), ...(keepText.length ? { keepText } : {}) };
}

export class PGliteThread {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  #nextId = 1;
  /** Why the thread is gone, once it is: every later request fails with it. */
  #gone: Error | undefined;

  private constructor() {
    this.#worker = new Worker(workerEntry());
    // The thread keeps the process alive only while a request waits on it, as an in-process PGlite does.
    this.#worker.unref();
    this.#worker.on('message', (reply: Reply) => {
      const w = this.#waiting.get(reply.id);
      if (!w) return;
      this.#settled(reply.id);
      if (reply.ok) w.resolve(reply.value);
      else w.reject(restore(reply.error));
    });
    const fail = (err: Error): void => {
      this.#gone ??= err;
      for (const [id, w] of this.#waiting) {
        this.#settled(id);
        w.reject(err);
      }
    };
    this.#worker.on('error', (err) => fail(new Error(`the embedded database's thread failed: ${err.message}`, { cause: err })));
    this.#worker.on('exit', (code) => fail(new Error(`the embedded database's thread stopped (exit code ${code})`)));
  }

  /** Starts the thread and opens PGlite on `dataDir` (in memory when undefined). */
  static async open(dataDir: string | undefined): Promise<PGliteThread> {
    const thread = new PGliteThread();
    try {
      await thread.#send({ op: 'open', dataDir });
    } catch (err) {
      await thread.#worker.terminate();
      throw err;
    }
    return thread;
  }

  #settled(id: number): void {
    this.#waiting.delete(id);
    if (this.#waiting.size === 0) this.#worker.unref();
  }

  #send(op: Op): Promise<unknown> {
    if (this.#gone) return Promise.reject(this.#gone);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      if (this.#waiting.size === 0) this.#worker.ref();
      this.#waiting.set(id, { resolve, reject });
      this.#worker.postMessage({ id, ...op });
    });
  }

  query<T>(text: string, params: readonly unknown[] = [], options?: ClientQueryOptions, tx?: number): Promise<Results<T>> {
    return this.#send({ op: 'query', text, params, options: queryOptions(options), tx }) as Promise<Results<T>>;
  }

  exec(text: string, tx?: number): Promise<Results[]> {
    return this.#send({ op: 'exec', text, tx }) as Promise<Results[]>;
  }

  /** Runs `fn` in a transaction: committed when it resolves, rolled back when it throws. Other queries wait until it ends. */
  async transaction<T>(fn: (tx: ThreadTransaction) => Promise<T>): Promise<T> {
    const id = (await this.#send({ op: 'begin' })) as number;
    let result: T;
    try {
      result = await fn({ query: (text, params, options) => this.query(text, params, options, id), exec: (text) => this.exec(text, id) });
    } catch (err) {
      await this.#send({ op: 'end', tx: id, commit: false }).catch(() => undefined);
      throw err;
    }
    await this.#send({ op: 'end', tx: id, commit: true });
    return result;
  }

  async close(): Promise<void> {
    try {
      if (!this.#gone) await this.#send({ op: 'close' });
    } finally {
      this.#gone ??= new Error('the embedded database is closed');
      await this.#worker.terminate();
    }
  }
}
