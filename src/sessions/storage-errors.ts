/**
 * What the data directory's failures mean to a user: a full disk, a damaged database, a damaged stored image.
 * Node, PGlite and PostgreSQL report them as errno codes, SQLSTATEs and messages wrapped in drizzle's
 * "Failed query: <SQL> params: <the user's text>"; these turn them into one sentence that says what to do,
 * and never carry the query or its parameters.
 */
import { LegoEditError } from '../engine/errors.ts';

export const DISK_FULL_TEXT = 'The disk holding the data directory is full: free some space there, then try again. Nothing half-written was kept.';

/** A failure of the disk or database under the data directory; its message is safe to show and to log. */
export class StorageError extends LegoEditError {}

/** A stored image whose bytes no longer match the hash they are stored under. */
export class DamagedImageError extends StorageError {
  constructor(readonly sha256: string, readonly path: string) {
    super('image-damaged', `The stored image ${path} is damaged: its bytes no longer match the hash it is stored under.`);
  }

  /** The operator's message names the file; the user is told what they can do. */
  override get userMessage(): string {
    return 'That image is damaged in storage, so I will not use it. Send the photo again to go on; the damaged copy is replaced.';
  }
}

interface Failure {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly cause?: unknown;
}

/** The error and its causes, outermost first (drizzle wraps the driver's error; PGlite's carries a SQLSTATE `code`). */
function* chain(err: unknown): Generator<Failure> {
  const seen = new Set<unknown>();
  for (let e = err; e && typeof e === 'object' && !seen.has(e); e = (e as Failure).cause) {
    seen.add(e);
    yield e as Failure;
  }
}

const DISK_FULL_ERRNO = new Set(['ENOSPC', 'EDQUOT']);
/** PostgreSQL's disk_full and its "insufficient resources" neighbours that mean the same to a user. */
const DISK_FULL_SQLSTATE = new Set(['53100']);
/** data_corrupted, index_corrupted. */
const DAMAGED_SQLSTATE = new Set(['XX001', 'XX002']);

/** The database server's own message, without drizzle's query and parameters around it. */
export function driverMessage(err: unknown): string {
  let last = '';
  for (const e of chain(err)) if (typeof e.message === 'string' && !e.message.startsWith('Failed query:')) return e.message;
  for (const e of chain(err)) if (typeof e.message === 'string') last = e.message;
  return last.startsWith('Failed query:') ? 'a database query failed' : last || String(err);
}

export function isDiskFull(err: unknown): boolean {
  for (const e of chain(err)) {
    if (typeof e.code === 'string' && (DISK_FULL_ERRNO.has(e.code) || DISK_FULL_SQLSTATE.has(e.code))) return true;
    if (typeof e.message === 'string' && /No space left on device|ENOSPC|disk quota exceeded/i.test(e.message) && !e.message.startsWith('Failed query:')) return true;
  }
  return false;
}

export function isDamage(err: unknown): boolean {
  for (const e of chain(err)) {
    if (typeof e.code === 'string' && DAMAGED_SQLSTATE.has(e.code)) return true;
  }
  return false;
}

/**
 * The user-facing error a storage failure stands for, or undefined when `err` is not one (a LegoEditError is
 * returned as it is). `database` names the database for the damaged case ("the database in /data/db").
 */
export function storageFailure(err: unknown, database = 'the database'): LegoEditError | undefined {
  if (err instanceof LegoEditError) return err;
  if (isDiskFull(err)) return new StorageError('disk-full', DISK_FULL_TEXT, { cause: err });
  if (isDamage(err)) {
    return new StorageError(
      'database-damaged',
      `${capitalise(database)} is damaged (${driverMessage(err)}). Stop the bot, then restore it from a backup, or move it aside to start with an empty history.`,
      { cause: err },
    );
  }
  return undefined;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
