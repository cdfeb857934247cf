import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BrickPool } from '../../../src/engine/pool/brick-pool.ts';
import { silentLogger } from '../../../src/logger.ts';
import { runServedBrick } from '../../../src/remote/worker/brick-runner.ts';
import { WHERE } from '../../engine/pool/pool-bricks.ts';
import { solidImage } from '../../support/test-bricks.ts';

const pool = new BrickPool({ bricks: [WHERE], threads: 1, modules: [fileURLToPath(new URL('../../engine/pool/pool-bricks.ts', import.meta.url))] });
afterAll(() => pool.close());

const serve = (withPool: boolean) =>
  runServedBrick(WHERE, { image: solidImage(4, 4, [1, 2, 3]) }, { signal: new AbortController().signal, onProgress: () => {}, logger: silentLogger, timeoutMs: 60_000, ...(withPool ? { pool } : {}) });

describe('runServedBrick', () => {
  it("runs a CPU-heavy brick in the worker's pool thread, as the bot's Executor does", async () => {
    expect((await serve(true)).outputs.thread).not.toBe(0);
  });

  it('runs it on the main thread when the worker has no pool', async () => {
    expect((await serve(false)).outputs.thread).toBe(0);
  });
});
