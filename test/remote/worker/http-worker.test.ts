import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelledError } from '../../../src/engine/errors.ts';
import { HttpTransport } from '../../../src/remote/client/http-client.ts';
import { type HttpWorkerServer, createHttpWorkerServer } from '../../../src/remote/worker/http-worker-server.ts';
import { PayloadTooLargeError, RemoteBrickError, UnknownRemoteBrickError, WorkerAuthError, WorkerUnavailableError } from '../../../src/remote/protocol/errors.ts';
import { encodeValues, packFrame } from '../../../src/remote/protocol/wire.ts';
import { type ImageData, type MaskData, makeImage, makeMask } from '../../../src/engine/values.ts';
import { defineBrick, port } from '../../../src/engine/brick.ts';
import { solidImage } from '../../support/test-bricks.ts';
import { Executor } from '../../../src/engine/executor.ts';
import { BrickRegistry } from '../../../src/engine/registry.ts';
import { parseWorkflow } from '../../../src/engine/workflow/parse.ts';
import { remoteBrick } from '../../../src/remote/client/transport.ts';
import { INVERT_MASK, REFUSE, SLEEP, SLOW_INVERT, WARN_INVERT } from '../fixtures/test-bricks.ts';
import { testLogger } from '../support.ts';

const TOKEN = 'test-secret-token-1234';

/** Paints its output white when the caller asked for a fresh sample, black otherwise. */
const SAMPLER = defineBrick({
  name: 'SAMPLER',
  kind: 'edit',
  description: 'shows ctx.resample',
  inputs: { image: port.image() },
  outputs: { image: port.image() },
  version: '1',
  run: async ({ image: img }, ctx) => ({ image: makeImage(img.width, img.height, 3, new Uint8Array(img.width * img.height * 3).fill(ctx.resample ? 255 : 0)) }),
});
const image = solidImage(16, 12, [10, 200, 30]);

describe('HTTP worker API', () => {
  let server: HttpWorkerServer;
  let url: string;
  const transport = (token = TOKEN, maxPayloadBytes = 1 << 20) =>
    new HttpTransport({ url, token, maxPayloadBytes, encoding: 'png', logger: testLogger, retries: 0, connectTimeoutMs: 5_000 });

  beforeAll(async () => {
    server = createHttpWorkerServer({ bricks: [SLOW_INVERT, SLEEP, REFUSE, INVERT_MASK, WARN_INVERT, SAMPLER], token: TOKEN, maxPayloadBytes: 64 * 1024, jobTimeoutMs: 5_000, encoding: 'png', logger: testLogger });
    url = await server.listen(0);
  });
  afterAll(() => server.close());

  it('runs a brick and streams its progress back', async () => {
    const progress: number[] = [];
    const out = await transport().call('SLOW-INVERT', { image, ms: 40 }, { signal: AbortSignal.timeout(5_000), onProgress: (p) => progress.push(p.fraction ?? -1) });
    const img = out.image as typeof image;
    expect([img.width, img.height, img.channels]).toEqual([16, 12, 3]);
    expect([...img.data.slice(0, 3)]).toEqual([245, 55, 225]);
    expect(progress).toEqual([0.25, 0.5, 0.75, 1]);
  });

  it('tells the worker’s brick when the user asked for a fresh sample ("try again")', async () => {
    const brick = remoteBrick(SAMPLER, transport());
    const ctx = { signal: AbortSignal.timeout(5_000), logger: testLogger, progress: () => {} };
    const again = (await brick.run({ image } as never, { ...ctx, resample: true })) as unknown as { image: ImageData };
    const same = (await brick.run({ image } as never, ctx)) as unknown as { image: ImageData };
    expect([again.image.data[0], same.image.data[0]]).toEqual([255, 0]);
  });

  it.each(['png', 'raw'] as const)('carries masks both ways losslessly as %s', async (encoding) => {
    const mask = makeMask(16, 12, Uint8Array.from({ length: 16 * 12 }, (_, i) => (i * 37) % 256));
    const t = new HttpTransport({ url, token: TOKEN, maxPayloadBytes: 1 << 20, encoding, logger: testLogger, retries: 0 });
    const out = (await t.call('INVERT-MASK', { image, mask }, { signal: AbortSignal.timeout(5_000) })).mask as MaskData;
    expect([out.kind, out.width, out.height]).toEqual(['mask', 16, 12]);
    expect([...out.data]).toEqual([...mask.data].map((v) => 255 - v));
  });

  it('brings the brick’s warnings back with its outputs, into the run outcome', async () => {
    const executor = new Executor(new BrickRegistry([remoteBrick(WARN_INVERT, transport())]), { cacheBytes: 0 });
    const workflow = parseWorkflow(JSON.stringify({ pipeline: [{ step: 1, model: 'WARN-INVERT', input: { image: 'init[image]' }, output: {} }, { result: '[step1[image]]' }] }));
    const out = await executor.run(workflow, { image });
    expect(out.status).toBe('ok');
    if (out.status !== 'ok') return;
    expect(out.warnings.map((w) => w.message)).toEqual(['Step 1 (WARN-INVERT): inverted the colours; this is only a test']);
    expect([...(out.results[0] as typeof image).data.slice(0, 3)]).toEqual([245, 55, 225]);
  });

  it('lists the bricks it serves, to authenticated callers only', async () => {
    const served = await transport().served();
    expect(served.map((s) => s.name)).toEqual(['SLOW-INVERT', 'SLEEP', 'REFUSE', 'INVERT-MASK', 'WARN-INVERT', 'SAMPLER']);
    await expect(transport('wrong').served()).rejects.toBeInstanceOf(WorkerAuthError);
  });

  it('rejects a run without a token or with a wrong one (401), before reading any payload', async () => {
    const noAuth = await fetch(`${url}/v1/bricks/SLEEP/run`, { method: 'POST', body: 'x' });
    expect(noAuth.status).toBe(401);
    expect(noAuth.headers.get('www-authenticate')).toBe('Bearer');
    await expect(transport('not-the-token').call('SLEEP', { image }, { signal: AbortSignal.timeout(5_000) })).rejects.toBeInstanceOf(WorkerAuthError);
  });

  it('refuses an oversized payload with 413', async () => {
    const big = solidImage(200, 200, [1, 2, 3]);
    const { header, blobs } = await encodeValues({ image: big }, 'raw', { maxBytes: 1 << 30 });
    const res = await fetch(`${url}/v1/bricks/SLEEP/run`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: packFrame({ inputs: header }, blobs) });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { code: string }).code).toBe('payload-too-large');
    // The client refuses before sending when its own cap is smaller.
    await expect(transport(TOKEN, 1000).call('SLEEP', { image: big }, { signal: AbortSignal.timeout(5_000) })).rejects.toBeInstanceOf(PayloadTooLargeError);
  });

  it('answers 404 for a brick it does not serve', async () => {
    await expect(transport().call('FLUX-FILL', { image }, { signal: AbortSignal.timeout(5_000) })).rejects.toBeInstanceOf(UnknownRemoteBrickError);
  });

  it('rejects a payload whose bytes do not match their sha256', async () => {
    const { header, blobs } = await encodeValues({ image }, 'raw', { maxBytes: 1 << 20 });
    const first = blobs[0]!;
    first[0] = first[0]! ^ 0xff;
    const res = await fetch(`${url}/v1/bricks/SLEEP/run`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: packFrame({ inputs: header }, blobs) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe('payload-integrity');
  });

  it('maps a brick failure to a typed, non-retryable error with the worker’s message', async () => {
    const err = await transport()
      .call('REFUSE', { image }, { signal: AbortSignal.timeout(5_000) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteBrickError);
    expect((err as RemoteBrickError).code).toBe('brick-input');
    expect((err as RemoteBrickError).retryable).toBe(false);
    expect((err as Error).message).toMatch(/not acceptable/);
  });

  it('cancels the brick on the worker when the caller aborts', async () => {
    const ac = new AbortController();
    const p = transport().call('SLOW-INVERT', { image, ms: 2_000 }, { signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    const t0 = performance.now();
    await expect(p).rejects.toBeInstanceOf(CancelledError);
    expect(performance.now() - t0).toBeLessThan(1_000);
  });

  it('reports an unreachable worker as a retryable WorkerUnavailableError', async () => {
    const t = new HttpTransport({ url: 'http://127.0.0.1:9', token: TOKEN, maxPayloadBytes: 1 << 20, encoding: 'png', logger: testLogger, retries: 0 });
    const err = await t.call('SLEEP', { image }, { signal: AbortSignal.timeout(5_000) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerUnavailableError);
    expect((err as WorkerUnavailableError).retryable).toBe(true);
  });
});
