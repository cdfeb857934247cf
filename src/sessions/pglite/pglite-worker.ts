/**
 * The thread PGlite runs in. PostgreSQL in WebAssembly executes every statement
 * synchronously in the thread that calls it, so on the main thread each query
 * stalled the event loop (chats, buttons, progress edits) for its whole length;
 * here only this thread waits. Requests are served in arrival order by PGlite's
 * own queue: a query outside an open transaction waits for it to end, as it did
 * in-process.
 */
import { parentPort } from 'node:worker_threads';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { serialiseError } from '../../engine/pool/worker-errors.ts';
import type { QueryOptions, Reply, Request } from './protocol.ts';

const port = parentPort!;
let db: PGlite | undefined;
let nextTx = 1;
/** Open transactions: their client, and how to end them (commit, or roll back by throwing `ROLLBACK`). */
const open = new Map<number, { readonly tx: Transaction; readonly end: (commit: boolean) => void; readonly done: Promise<unknown> }>();
const ROLLBACK = Symbol('rollback');

function database(): PGlite {
  if (!db) throw new Error('the embedded database is not open');
  return db;
}

function client(tx: number | undefined): Pick<Transaction, 'query' | 'exec'> {
  if (tx === undefined) return database();
  const t = open.get(tx);
  if (!t) throw new Error(`transaction ${tx} is not open`);
  return t.tx;
}

function parsers(options: QueryOptions): Record<number, (value: string) => string> | undefined {
  if (!options.keepText?.length) return undefined;
  return Object.fromEntries(options.keepText.map((oid) => [oid, (value: string) => value]));
}

/** Opens a transaction and resolves once it has begun; it stays open until an 'end' request. */
function begin(): Promise<number> {
  const id = nextTx++;
  return new Promise((resolve, reject) => {
    let end!: (commit: boolean) => void;
    const ended = new Promise<boolean>((r) => (end = r));
    let begun = false;
    const done = database().transaction(async (tx) => {
      open.set(id, { tx, end, done });
      begun = true;
      resolve(id);
      if (!(await ended)) throw ROLLBACK;
    });
    done.catch((err: unknown) => {
      if (!begun) reject(err);
    });
    done.finally(() => open.delete(id)).catch(() => undefined);
  });
}

async function end(id: number, commit: boolean): Promise<void> {
  const t = open.get(id);
  if (!t) throw new Error(`transaction ${id} is not open`);
  t.end(commit);
  try {
    await t.done;
  } catch (err) {
    if (err !== ROLLBACK) throw err;
  }
}

async function serve(req: Request): Promise<unknown> {
  switch (req.op) {
    case 'open':
      db = req.dataDir ? await PGlite.create(req.dataDir) : await PGlite.create();
      return undefined;
    case 'query': {
      const p = parsers(req.options);
      return client(req.tx).query(req.text, [...req.params], { ...(req.options.rowMode ? { rowMode: req.options.rowMode } : {}), ...(p ? { parsers: p } : {}) });
    }
    case 'exec':
      return client(req.tx).exec(req.text);
    case 'begin':
      return begin();
    case 'end':
      return end(req.tx, req.commit);
    case 'close':
      await db?.close();
      db = undefined;
      return undefined;
  }
}

port.on('message', (req: Request) => {
  serve(req).then(
    (value) => port.postMessage({ id: req.id, ok: true, value } satisfies Reply),
    (err: unknown) => port.postMessage({ id: req.id, ok: false, error: serialiseError(err) } satisfies Reply),
  );
});
