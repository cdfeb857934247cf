import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { defineBrick, port } from '../../../src/engine/brick.ts';
import { BrickPool } from '../../../src/engine/pool/brick-pool.ts';
import type { ImageData } from '../../../src/engine/values.ts';
import { silentLogger } from '../../../src/logger.ts';
import { withGpuHost } from '../../../src/remote/client/gpu-host.ts';
import type { BrickTransport } from '../../../src/remote/client/transport.ts';
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

  it("runs the CPU variant of a built-in wrapped for GPU routing in the worker's pool thread too", async () => {
    const unused: BrickTransport = {
      kind: 'http',
      target: 'test',
      call: async () => {
        throw new Error('the GPU host was called');
      },
      served: async () => [],
      close: async () => {},
    };
    const wrapped = withGpuHost(WHERE, unused, 'cpu');
    const served = await runServedBrick(wrapped, { image: solidImage(4, 4, [1, 2, 3]) }, { signal: new AbortController().signal, onProgress: () => {}, logger: silentLogger, timeoutMs: 60_000, pool });
    expect(served.outputs.thread).not.toBe(0);
  });

  it('runs it on the main thread when the worker has no pool', async () => {
    expect((await serve(false)).outputs.thread).toBe(0);
  });

  it('fails a served brick that returns a malformed image as its own brick-output error, naming the output and what is wrong', async () => {
    // An image whose pixel buffer is short by a row: the old type-only check let it through to the encoder.
    const short = defineBrick({
      name: 'SHORT',
      kind: 'edit',
      description: 'returns a short image',
      version: '1',
      inputs: { image: port.image() },
      outputs: { image: port.image() },
      run: async ({ image }) => ({ image: { ...image, data: image.data.subarray(image.width * image.channels) } as ImageData }),
    });
    const served = runServedBrick(short, { image: solidImage(4, 4, [1, 2, 3]) }, { signal: new AbortController().signal, onProgress: () => {}, logger: silentLogger, timeoutMs: 60_000 });
    await expect(served).rejects.toMatchObject({ code: 'brick-output', message: 'SHORT returned a bad "image" output: 36 bytes of pixels for 4x4x3 (48).' });
  });
});
