/** Spawning worker processes for remote tests, and closing everything they open. */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';

// Not from ../support/shared.ts: that imports vitest, and the remote bench spawns workers through this module too.
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export const testLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
export const TEST_BRICKS_MODULE = join(repoRoot, 'test/remote/fixtures/test-bricks.ts');
const ENTRY = join(repoRoot, 'test/remote/fixtures/worker-process.ts');

export interface WorkerProcess {
  readonly proc: ChildProcess;
  readonly ready: { pid: number; http: string | null; queue: boolean; bricks: string[] };
  readonly output: () => string;
  /** SIGTERM (graceful) or SIGKILL; resolves when the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function uniquePrefix(name: string): string {
  return `lego-test-${name}-${process.pid}-${Date.now().toString(36)}`;
}

export async function spawnWorker(args: string[], env: Record<string, string>, timeoutMs = 40_000): Promise<WorkerProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', ENTRY, 'worker', ...args], {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const ready = await new Promise<WorkerProcess['ready']>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`worker did not start within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const check = (): void => {
      const m = /^ready (.*)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(JSON.parse(m[1]!) as WorkerProcess['ready']);
      }
    };
    proc.stdout!.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited (${code}) before it was ready:\n${out}`));
    });
  });
  return {
    proc,
    ready,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}
