/**
 * PostgreSQL and Redis run on 127.0.0.1 here and in CI. Tests that need them skip
 * with a visible message where they are absent, unless REQUIRE_SERVICES=1
 * (set by .ci/run), which turns the absence into a failure.
 */
import { Socket } from 'node:net';
import { describe } from 'vitest';

export const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

function reachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('error', () => done(false));
    s.connect(port, host, () => done(true));
  });
}

type Describe = typeof describe | typeof describe.skip;

async function gate(name: string, host: string, port: number): Promise<Describe> {
  if (await reachable(host, port)) return describe;
  if (process.env.REQUIRE_SERVICES === '1') throw new Error(`${name} at ${host}:${port} is required (REQUIRE_SERVICES=1) but not reachable`);
  console.warn(`SKIPPING ${name} tests: nothing listens on ${host}:${port}`);
  return describe.skip;
}

/** `describe` for PostgreSQL-backed tests (top-level await in the test file). */
export const describeWithPostgres = (): Promise<Describe> => gate('PostgreSQL', '127.0.0.1', 5432);
/** `describe` for Redis-backed tests. */
export const describeWithRedis = (): Promise<Describe> => gate('Redis', '127.0.0.1', 6379);
