/**
 * One process at a time on a PGlite directory: PGlite has no lock of its own across processes, and two
 * writers corrupt its files.
 *
 * The lock is an advisory flock(2) on <dir>/lego-edit.lock, which the kernel drops when its holder dies, however
 * it dies: a pid file cannot tell a live holder from a dead one across restarts (a bot that is PID 1 in its
 * container finds its own pid in the file left by the one killed before it). Node has no flock, and native addons
 * cannot be built at install, so util-linux `flock(1)` holds it: a child that locks the file and then runs `cat`
 * on a pipe from this process. When this process ends, even by SIGKILL, the kernel closes the pipe, `cat` sees
 * end-of-file and exits, and the lock goes with it.
 *
 * Where `flock` is not installed, a pid file stands in, with a warning: it cannot be as sure.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { LegoEditError, errorMessage } from '../engine/errors.ts';

export const LOCK_FILE = 'lego-edit.lock';
/** What earlier versions locked with; removed once the real lock is held. */
export const PID_FILE = 'lego-edit.pid';

/** flock's exit status when the lock is held elsewhere (`--conflict-exit-code`): EX_TEMPFAIL, distinct from its own failures. */
const HELD_ELSEWHERE = 75;
/** What the child prints once it holds the lock. */
const LOCKED = 'locked';

export interface DirectoryLockOptions {
  /** Told when flock(1) is missing and a pid file stands in, and when a held lock is lost. */
  readonly logger?: Logger | undefined;
  /** The flock(1) program; a test names a missing one to exercise the pid-file fallback. */
  readonly flock?: string | undefined;
}

/** Directories this process holds, so a second opener in the same process is told it is this one. */
const heldHere = new Set<string>();

export class DirectoryBusyError extends LegoEditError {
  constructor(readonly dir: string, readonly holder: number | undefined) {
    const who = holder === undefined ? '' : ` (pid ${holder}${holder === process.pid && heldHere.has(dir) ? ', this one' : ''})`;
    super(
      'database-busy',
      `The database in ${dir} is in use by another lego-edit process${who}. Stop it first; to run several processes, use PostgreSQL (DATABASE_URL).`,
    );
  }
}

/** The pid a holder wrote into the file, when it is a plausible one. */
async function readHolder(path: string): Promise<number | undefined> {
  const n = Number((await readFile(path, 'utf8').catch(() => '')).trim());
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** Locks `dir` for this process's life; the returned function gives the lock up. Throws `database-busy` while another process holds it. */
export async function lockDirectory(dir: string, options: DirectoryLockOptions = {}): Promise<() => Promise<void>> {
  const held = await flockDirectory(dir, options);
  if (held !== 'no-flock') return held;
  options.logger?.warn(
    `flock(1) (util-linux) is not installed, so a pid file locks ${dir}: it cannot always tell a killed process from a live one. Install util-linux for a lock the system releases when a process dies.`,
  );
  return pidFileLock(dir);
}

function flockDirectory(dir: string, options: DirectoryLockOptions): Promise<(() => Promise<void>) | 'no-flock'> {
  const path = join(dir, LOCK_FILE);
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      // detached: its own process group, so a Ctrl-C meant for the chat (SIGINT to the terminal's foreground group) does not end the lock.
      child = spawn(options.flock ?? 'flock', ['--nonblock', '--exclusive', '--conflict-exit-code', String(HELD_ELSEWHERE), path, 'sh', '-c', `echo ${LOCKED}; exec cat >/dev/null`], {
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
      });
    } catch (err) {
      reject(err);
      return;
    }
    let out = '';
    let err = '';
    let locked = false;
    let released = false;
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (locked || !out.includes(LOCKED)) return;
      locked = true;
      // Nothing more is read from it, and neither it nor the pipes may keep this process alive.
      child.stdout!.destroy();
      child.stderr!.destroy();
      (child.stdin as unknown as Socket).unref();
      child.unref();
      heldHere.add(dir);
      void (async () => {
        // For the message a second opener gets; the lock is the flock, not this content.
        await writeFile(path, String(process.pid)).catch(() => undefined);
        await rm(join(dir, PID_FILE), { force: true }).catch(() => undefined);
        resolve(release);
      })();
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdin!.on('error', () => {});
    const exited = new Promise<void>((done) => child.once('close', () => done()));
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      heldHere.delete(dir);
      // Referenced again while it ends, so this process waits for the lock to be gone.
      child.ref();
      child.stdin!.end();
      const gone = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2_000).unref())]);
      if (!gone) {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // Already gone.
        }
        await exited;
      }
    };
    child.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') resolve('no-flock');
      else reject(new LegoEditError('database-busy', `Could not lock the database in ${dir}: ${errorMessage(e)}`, { cause: e }));
    });
    child.once('exit', (code, signal) => {
      if (locked) {
        if (!released) {
          heldHere.delete(dir);
          options.logger?.error({ dir, code, signal }, 'the lock on the database directory was lost (its flock process ended): another process could now open it');
        }
        return;
      }
      if (code === HELD_ELSEWHERE) {
        void readHolder(path).then((holder) => reject(new DirectoryBusyError(dir, holder)));
        return;
      }
      const why = err.trim().split('\n')[0] || (signal ? `flock was stopped by ${signal}` : `flock exited with status ${code}`);
      reject(new LegoEditError('database-busy', `Could not lock the database in ${dir}: ${why}`));
    });
  });
}

/** Whether a process with this id is running (signal 0 checks without sending anything). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The fallback: a pid file created exclusively. A file naming a process that is not running, or naming this
 * process when this process does not hold it (a restarted PID 1 finds its own pid), is stale and taken over.
 */
async function pidFileLock(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, PID_FILE);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const handle = await open(path, 'wx');
      // Before the pid is written, so another opener in this process that reads it knows it is held.
      heldHere.add(dir);
      try {
        await handle.writeFile(String(process.pid));
      } catch (e) {
        heldHere.delete(dir);
        await rm(path, { force: true });
        throw e;
      } finally {
        await handle.close();
      }
      return async () => {
        heldHere.delete(dir);
        await rm(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const found = await inspect(path);
      if (!found) continue;
      if (!found.stale) throw new DirectoryBusyError(dir, found.holder);
      await takeOver(path, found.ino, dir);
    }
  }
  throw new DirectoryBusyError(dir, (await inspect(path))?.holder);
}

/** Who a pid file names, and whether it is stale; undefined when there is no file. */
async function inspect(path: string): Promise<{ ino: number; holder: number | undefined; stale: boolean } | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const st = await handle.stat();
    const n = Number((await handle.readFile('utf8')).trim());
    const holder = Number.isSafeInteger(n) && n > 0 ? n : undefined;
    // A file without a pid is being written this instant by another starter, unless it is old.
    if (holder === undefined) return { ino: st.ino, holder, stale: Date.now() - st.mtimeMs > 5_000 };
    const live = holder === process.pid ? heldHere.has(dirname(path)) : isRunning(holder);
    return { ino: st.ino, holder, stale: !live };
  } finally {
    await handle.close();
  }
}

/**
 * Removes the stale pid file, so that the next exclusive create decides who holds the directory. Removing is not
 * atomic with the judgement that the file is stale (another starter could judge the same file and remove a new
 * holder's), so takeovers take turns through a directory created exclusively; one left by a starter killed
 * mid-takeover is ignored after a few seconds.
 */
async function takeOver(path: string, staleIno: number, dir: string): Promise<void> {
  const turn = `${path}.takeover`;
  try {
    await mkdir(turn);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const age = await stat(turn).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > 5_000) await rm(turn, { recursive: true, force: true });
    throw new DirectoryBusyError(dir, (await inspect(path))?.holder);
  }
  try {
    // Judged again in turn: only a takeover removes a stale file, so the same file still here is still stale.
    const now = await inspect(path);
    if (now?.ino === staleIno && now.stale) await rm(path, { force: true });
  } finally {
    await rm(turn, { recursive: true, force: true });
  }
}
