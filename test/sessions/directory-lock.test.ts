/**
 * The lock on a PGlite data directory, in the ways bots really start and die: killed as PID 1 of a container and
 * started again, many started at one instant over a lock left by a killed one, and without flock(1).
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LOCK_FILE, PID_FILE, lockDirectory } from '../../src/sessions/directory-lock.ts';
import { repoRoot } from '../support/shared.ts';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 60_000 });

const FIXTURE = join(repoRoot, 'test/sessions/fixtures/lock-child.ts');
const NO_FLOCK = '/nonexistent/flock';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lego-lock-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

/** A pid that no process has now: one that just exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
}

/** Leaves what a SIGKILLed holder leaves: the lock file with its pid, and an old version's pid file. */
async function leaveStaleLock(dbDir: string, pid: number): Promise<void> {
  await mkdir(dbDir, { recursive: true });
  await writeFile(join(dbDir, LOCK_FILE), String(pid));
  await writeFile(join(dbDir, PID_FILE), String(pid));
}

interface Child {
  readonly proc: ChildProcessWithoutNullStreams;
  /** Resolves with the first line matching the pattern. */
  line(pattern: RegExp): Promise<string>;
  readonly exited: Promise<number | null>;
}

function child(command: string[], env: Record<string, string>): Child {
  const proc = spawn(command[0]!, command.slice(1), { cwd: repoRoot, env: { ...process.env, LOG_LEVEL: 'silent', ...env }, stdio: 'pipe' });
  let out = '';
  const waiters: Array<{ pattern: RegExp; resolve: (l: string) => void }> = [];
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  proc.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of [...waiters]) {
      const m = out.split('\n').find((l) => w.pattern.test(l));
      if (m !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return {
    proc,
    exited,
    line: (pattern) =>
      new Promise((resolve, reject) => {
        const m = out.split('\n').find((l) => pattern.test(l));
        if (m !== undefined) return resolve(m);
        waiters.push({ pattern, resolve });
        void exited.then((code) => reject(new Error(`child exited (${code}) without printing ${pattern}:\n${out}\n${err}`)));
      }),
  };
}

const lockChild = (env: Record<string, string>): Child => child([process.execPath, '--import', 'tsx', FIXTURE], { LOCK_DATA_DIR: dir, ...env });

describe('the data directory lock', () => {
  it('is refused to a second opener while held, naming the holder, and is free again once given up', async () => {
    const dbDir = join(dir, 'db');
    await mkdir(dbDir);
    const release = await lockDirectory(dbDir);
    const refused = (await lockDirectory(dbDir).then(() => new Error('locked twice'), (e: unknown) => e)) as Error & { code?: string };
    expect(refused.code).toBe('database-busy');
    expect(refused.message).toBe(
      `The database in ${dbDir} is in use by another lego-edit process (pid ${process.pid}, this one). Stop it first; to run several processes, use PostgreSQL (DATABASE_URL).`,
    );
    await release();
    const again = await lockDirectory(dbDir);
    await again();
  });

  it('is released by the system when its holder is killed: a SIGKILLed holder never blocks the next start', async () => {
    await leaveStaleLock(join(dir, 'db'), deadPid());
    const first = lockChild({});
    await first.line(/^WON/);
    const refused = lockChild({});
    expect(await refused.line(/^REFUSED/)).toMatch(new RegExp(`^REFUSED database-busy The database in .* is in use by another lego-edit process \\(pid ${first.proc.pid}\\)\\.`));
    first.proc.kill('SIGKILL');
    await first.exited;
    const next = lockChild({});
    expect(await next.line(/^(WON|REFUSED|FAILED)/)).toMatch(/^WON/);
    next.proc.stdin.end('close\n');
    expect(await next.line(/^(CLOSED|FAILED)/)).toBe('CLOSED');
    // The old version's pid file is gone once the real lock is held.
    expect(existsSync(join(dir, 'db', PID_FILE))).toBe(false);
  });

  const unshareWorks = spawnSync('unshare', ['-fp', '--mount-proc', 'true']).status === 0;
  if (!unshareWorks) console.warn('SKIPPING the PID-namespace restart test: `unshare -fp --mount-proc` is not permitted here (the simulated-pid tests still run)');
  it.skipIf(!unshareWorks)('lets `lego-edit chat` start again as PID 1 of a fresh PID namespace after the one before it was SIGKILLed, 3 times', async () => {
    const env = { LEGO_EDIT_DATA_DIR: dir};
    for (let restart = 0; restart < 4; restart++) {
      const chat = child(['unshare', '-fp', '--mount-proc', process.execPath, join(repoRoot, 'bin/lego-edit.js'), 'chat'], env);
      const started = await chat.line(/^(Data directory:|error:)/);
      expect(started, `start ${restart + 1}`).toMatch(/^Data directory:/);
      // The chat is PID 1 inside: kill it from outside, as `docker kill` does (a PID 1 ignores a SIGKILL from its own namespace).
      const pid1 = Number((await readFile(`/proc/${chat.proc.pid}/task/${chat.proc.pid}/children`, 'utf8')).trim().split(/\s+/)[0]);
      expect(pid1).toBeGreaterThan(1);
      process.kill(pid1, 'SIGKILL');
      await chat.exited;
    }
    expect(await readFile(join(dir, 'db', LOCK_FILE), 'utf8')).toBe('1');
  });

  it('gives exactly one of 40 processes started at one instant over a stale lock the lock, and each of the others one clear sentence', async () => {
    await leaveStaleLock(join(dir, 'db'), deadPid());
    const children = Array.from({ length: 40 }, () => lockChild({ LOCK_WAIT_GO: '1', LOCK_ONLY: '1' }));
    await Promise.all(children.map((c) => c.line(/^READY/)));
    for (const c of children) c.proc.stdin.write('go\n');
    const outcomes = await Promise.all(children.map((c) => c.line(/^(WON|REFUSED|FAILED)/)));
    const won = outcomes.filter((o) => o.startsWith('WON'));
    expect(won).toHaveLength(1);
    for (const o of outcomes.filter((x) => !x.startsWith('WON'))) {
      expect(o).toMatch(/^REFUSED database-busy The database in \S+ is in use by another lego-edit process( \(pid \d+\))?\. Stop it first; to run several processes, use PostgreSQL \(DATABASE_URL\)\.$/);
    }
    for (const c of children) c.proc.stdin.end('close\n');
    await Promise.all(children.map((c) => c.exited));
  });

  it('lets exactly one of 40 openers in one process hold it, in each of 10 rounds', async () => {
    const dbDir = join(dir, 'db');
    await leaveStaleLock(dbDir, deadPid());
    for (let round = 0; round < 10; round++) {
      const results = await Promise.allSettled(Array.from({ length: 40 }, () => lockDirectory(dbDir)));
      const held = results.filter((r) => r.status === 'fulfilled');
      expect(held, `round ${round + 1}`).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect((r.reason as { code?: string }).code).toBe('database-busy');
      await (held[0] as PromiseFulfilledResult<() => Promise<void>>).value();
    }
  });
});

describe('the data directory lock without flock(1)', () => {
  it('falls back to a pid file, with a warning, and takes over the file a killed PID 1 left with its own pid', async () => {
    const dbDir = join(dir, 'db');
    await mkdir(dbDir);
    // A restarted PID 1 finds its own pid in the file the killed one left.
    await writeFile(join(dbDir, PID_FILE), String(process.pid));
    const warnings: string[] = [];
    const logger = { warn: (m: string) => void warnings.push(m), error: () => {} } as unknown as Logger;
    const release = await lockDirectory(dbDir, { flock: NO_FLOCK, logger });
    expect(warnings).toEqual([expect.stringMatching(/^flock\(1\) \(util-linux\) is not installed, so a pid file locks .*Install util-linux/)]);
    expect(await readFile(join(dbDir, PID_FILE), 'utf8')).toBe(String(process.pid));
    const refused = (await lockDirectory(dbDir, { flock: NO_FLOCK }).then(() => new Error('locked twice'), (e: unknown) => e)) as Error;
    expect(refused.message).toContain(`(pid ${process.pid}, this one)`);
    await release();
    expect(existsSync(join(dbDir, PID_FILE))).toBe(false);
  });

  it('gives exactly one of 40 processes started at one instant over a stale pid file the lock', async () => {
    await mkdir(join(dir, 'db'));
    await writeFile(join(dir, 'db', PID_FILE), String(deadPid()));
    const children = Array.from({ length: 40 }, () => lockChild({ LOCK_WAIT_GO: '1', LOCK_ONLY: '1', LOCK_FLOCK: NO_FLOCK }));
    await Promise.all(children.map((c) => c.line(/^READY/)));
    for (const c of children) c.proc.stdin.write('go\n');
    const outcomes = await Promise.all(children.map((c) => c.line(/^(WON|REFUSED|FAILED)/)));
    expect(outcomes.filter((o) => o.startsWith('WON'))).toHaveLength(1);
    for (const o of outcomes.filter((x) => !x.startsWith('WON'))) expect(o).toMatch(/^REFUSED database-busy The database in \S+ is in use by another lego-edit process/);
    for (const c of children) c.proc.stdin.end('close\n');
    await Promise.all(children.map((c) => c.exited));
  });
});
