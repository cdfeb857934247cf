/**
 * Remote execution figures. "transport": queue throughput with 1, 2 and 4
 * worker processes serving a brick with a fixed simulated 200 ms compute (a
 * sleep, so it scales past this machine's cores), and the per-call transport
 * overhead for a 1024×1024 photo over HTTP and over the queue (p50 of
 * sequential calls to a brick that does no work); loopback only, needs Redis
 * on 127.0.0.1:6379. "onnx": one declared ONNX brick (a generated stack of
 * convolutions at 512×512) timed with whichever execution provider loads, and
 * on a host where that is CUDA, again pinned to CPU for the comparison.
 * "comfyui": the overhead of one ComfyUI call through the fake ComfyUI at
 * 1024×1024 with a mask (upload of image and mask, prompt, websocket,
 * history, view, resize and composite), as the call's p50 minus the time the
 * fake spends executing (its stand-in for generation). With
 * LEGO_BENCH_BASELINE=<another checkout> the ComfyUI client of that checkout
 * runs too, call for call in turn with this one in the same process, so both
 * see the same load: a before/after on a busy machine.
 * LEGO_BENCH_REMOTE=onnx (or transport, comfyui) runs one part only.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Socket } from 'node:net';
import { pino } from 'pino';
import sharp from 'sharp';
import { port } from '../src/engine/brick.ts';
import { makeImage, makeMask } from '../src/engine/values.ts';
import type { ImageData } from '../src/engine/values.ts';
import { HttpTransport } from '../src/remote/client/http-client.ts';
import { DEFAULT_PROVIDERS, type OnnxProvider } from '../bricks/models/onnx-session.ts';
import { onnxBrick } from '../src/remote/declared/onnx-brick.ts';
import { comfyuiBrick } from '../src/remote/declared/comfyui.ts';
import { startFakeComfyUI } from '../test/fakes/comfyui-server.ts';
import { QueueTransport } from '../src/remote/client/queue-client.ts';
import type { BrickTransport } from '../src/remote/client/transport.ts';
import type { PixelEncoding } from '../src/remote/protocol/wire.ts';
import { convGraph } from '../test/remote/fixtures/onnx-conv-graph.ts';
import { TEST_BRICKS_MODULE, type WorkerProcess, spawnWorker, uniquePrefix } from '../test/remote/support.ts';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const TOKEN = 'bench-token';
const COMPUTE_MS = 200;
const logger = pino({ level: 'silent' });

function redisUp(): Promise<boolean> {
  const u = new URL(REDIS_URL);
  return new Promise((resolve) => {
    const s = new Socket();
    s.setTimeout(1000, () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(false));
    s.connect(Number(u.port || 6379), u.hostname, () => (s.destroy(), resolve(true)));
  });
}

function queueClient(prefix: string, encoding: PixelEncoding = 'png'): QueueTransport {
  return new QueueTransport({ redisUrl: REDIS_URL, prefix, attempts: 2, backoffMs: 200, noWorkerTimeoutMs: 20_000, maxPayloadBytes: 64 << 20, blobTtlS: 600, encoding, pollMs: 500, logger });
}

async function photo(side: number): Promise<ImageData> {
  const { data, info } = await sharp(readFileSync(new URL('../examples/sample.jpg', import.meta.url)))
    .resize(side, side, { fit: 'fill' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return makeImage(info.width, info.height, 3, new Uint8Array(data));
}

function p50(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function throughput(t: BrickTransport, jobs: number): Promise<number> {
  const image = makeImage(64, 64, 3);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: jobs }, (_, i) => t.call('SLEEP', { image, ms: COMPUTE_MS, tag: i }, { signal: AbortSignal.timeout(120_000) })));
  return jobs / ((performance.now() - t0) / 1000);
}

async function overhead(t: BrickTransport, image: ImageData, calls: number): Promise<number> {
  const times: number[] = [];
  await t.call('SLEEP', { image, ms: 0 }, { signal: AbortSignal.timeout(30_000) }); // warm connections
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await t.call('SLEEP', { image, ms: 0, tag: i }, { signal: AbortSignal.timeout(30_000) });
    times.push(performance.now() - t0);
  }
  return p50(times);
}

const ONNX = { side: 512, channels: 32, layers: 4, runs: 5 } as const;

/** Loads the brick's model with `providers`, runs it once to settle, then times `ONNX.runs` runs of the whole brick. */
async function timeOnnxBrick(modelPath: string, image: ImageData, providers: readonly OnnxProvider[]): Promise<{ provider: string; loadMs: number; p50Ms: number }> {
  const brick = onnxBrick(
    { name: 'CONV-STACK', kind: 'edit', description: 'Convolution stack (bench)', inputs: { image: port.image() }, outputs: { image: port.image() }, version: '1' },
    { modelPath, inputs: { image: { tensor: 'image', preprocess: 'rgb-01' } }, outputs: { image: { tensor: 'output', postprocess: 'rgb-01' } }, providers },
    logger,
  );
  const t0 = performance.now();
  const provider = await brick.warm();
  const loadMs = performance.now() - t0;
  const ctx = { signal: AbortSignal.timeout(600_000), progress: () => {}, logger };
  await brick.run({ image } as never, ctx);
  const times: number[] = [];
  for (let i = 0; i < ONNX.runs; i++) {
    const t = performance.now();
    await brick.run({ image } as never, ctx);
    times.push(performance.now() - t);
  }
  return { provider, loadMs, p50Ms: p50(times) };
}

async function onnxFigures(): Promise<void> {
  const { side, channels, layers } = ONNX;
  const macs = side * side * 9 * (3 * channels + channels * channels * (layers - 2) + channels * 3);
  console.log(`ONNX brick: ${layers} 3×3 conv layers (${channels} channels) at ${side}×${side}, ${((2 * macs) / 1e9).toFixed(1)} GFLOP per run; whole brick incl. pre/post-processing, p50 of ${ONNX.runs} runs:`);
  const file = join(mkdtempSync(join(tmpdir(), 'lego-bench-onnx-')), 'conv-stack.onnx');
  writeFileSync(file, convGraph({ width: side, height: side, channels, layers }));
  const image = await photo(side);
  const line = (r: { provider: string; loadMs: number; p50Ms: number }): string => `${r.provider.toUpperCase().padEnd(4)}: ${r.p50Ms.toFixed(1)} ms per run (session load ${r.loadMs.toFixed(0)} ms)`;
  const first = await timeOnnxBrick(file, image, DEFAULT_PROVIDERS);
  console.log(`  ${line(first)}  <- the provider a declared ONNX brick gets here`);
  if (first.provider === 'cuda') {
    const cpu = await timeOnnxBrick(file, image, ['cpu']);
    console.log(`  ${line(cpu)}`);
    console.log(`  CUDA is ${(cpu.p50Ms / first.p50Ms).toFixed(1)}× faster than CPU`);
  } else {
    console.log('  CUDA: did not load here (no GPU, or onnxruntime-node installed without its CUDA provider; see docs/remote.md), so no CUDA figure');
  }
}

/** Which parts to run: LEGO_BENCH_REMOTE=onnx,transport (default both). */
function parts(): Set<string> {
  const asked = (process.env.LEGO_BENCH_REMOTE ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const known = ['transport', 'onnx', 'comfyui'];
  const unknown = asked.filter((p) => !known.includes(p));
  if (unknown.length) throw new Error(`LEGO_BENCH_REMOTE: unknown part ${unknown.join(', ')} (known: ${known.join(', ')})`);
  return new Set(asked.length ? asked : known);
}

export async function run(): Promise<void> {
  const selected = parts();
  if (selected.has('transport')) await transportFigures();
  if (selected.has('onnx')) await onnxFigures();
  if (selected.has('comfyui')) await comfyuiFigures();
}

async function comfyuiFigures(): Promise<void> {
  const comfy = await startFakeComfyUI({ stepMs: 0, historyDelayMs: 0 });
  try {
    const template = JSON.parse(readFileSync(new URL('../examples/comfyui-pack/current/flux-fill.api.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    const shape = { name: 'FLUX-FILL', kind: 'edit' as const, description: 'bench', version: '1', inputs: { image: port.image(), mask: port.mask(), prompt: port.str() }, outputs: { image: port.image() } };
    const backend = { url: comfy.url, template, outputs: { image: { node: '50' } }, timeoutMs: 60_000 };
    const clients: [string, typeof comfyuiBrick][] = [['this checkout', comfyuiBrick]];
    const baseline = process.env.LEGO_BENCH_BASELINE;
    if (baseline) {
      const mod = (await import(pathToFileURL(join(resolve(baseline), 'src/remote/declared/comfyui.ts')).href)) as { comfyuiBrick: typeof comfyuiBrick };
      clients.unshift([`baseline ${baseline}`, mod.comfyuiBrick]);
    }
    const bricks = clients.map(([name, make]) => ({ name, brick: make(shape, backend), totals: [] as number[], overheads: [] as number[] }));
    const image = await photo(1024);
    const mask = makeMask(1024, 1024);
    for (let y = 256; y < 768; y++) mask.data.fill(255, y * 1024 + 256, y * 1024 + 768);
    const calls = baseline ? 30 : 15;
    const ctx = { signal: AbortSignal.timeout(600_000), progress: () => {}, logger };
    for (const b of bricks) await b.brick.run({ image, mask, prompt: 'warm-up' } as never, ctx);
    const load = loadavg()[0]!;
    for (let i = 0; i < calls; i++) {
      // Alternating which goes first, so neither always follows the other's garbage.
      for (const b of i % 2 ? [...bricks].reverse() : bricks) {
        const t0 = performance.now();
        await b.brick.run({ image, mask, prompt: `call ${i}` } as never, ctx);
        const total = performance.now() - t0;
        b.totals.push(total);
        b.overheads.push(total - comfy.executeMs.at(-1)!);
      }
    }
    console.log(`ComfyUI call through the fake, 1024×1024 photo + mask (p50 of ${calls} sequential calls${baseline ? ' each, in turn' : ''}; load average ${load.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}):`);
    console.log(`  the fake's execution (its stand-in for generation, subtracted below) ${p50(comfy.executeMs.slice(bricks.length)).toFixed(1)} ms`);
    for (const b of bricks) {
      const o = p50(b.overheads);
      if (baseline) console.log(`  ${b.name}:`);
      console.log(`  whole call ${p50(b.totals).toFixed(1)} ms`);
      console.log(`  client overhead (upload, prompt, websocket, history, view, resize, composite): ${o.toFixed(1)} ms (target ≤ 40 ms: ${o <= 40 ? 'met' : 'NOT met'})`);
    }
    if (baseline) console.log(`  this checkout / baseline, client overhead p50: ${(p50(bricks[1]!.overheads) / p50(bricks[0]!.overheads)).toFixed(2)}`);
  } finally {
    await comfy.close();
  }
}

async function transportFigures(): Promise<void> {
  if (!(await redisUp())) {
    console.log(`SKIPPED: no Redis at ${REDIS_URL}`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'lego-bench-'));
  const prefix = uniquePrefix('bench');
  const env = { REDIS_URL, LEGO_EDIT_QUEUE_PREFIX: prefix, LEGO_EDIT_WORKER_TOKEN: TOKEN, LEGO_EDIT_DATA_DIR: dir, LOG_LEVEL: 'warn' };
  const args = ['--queue', '--module', TEST_BRICKS_MODULE, '--bricks', 'SLEEP'];
  const workers: WorkerProcess[] = [];
  const q = queueClient(prefix);
  try {
    console.log(`queue throughput, brick with ${COMPUTE_MS} ms simulated compute, 64×64 payload, all jobs enqueued at once:`);
    const rates = new Map<number, number>();
    for (const n of [1, 2, 4]) {
      while (workers.length < n) workers.push(await spawnWorker(workers.length === 0 ? [...args, '--listen', '127.0.0.1:0'] : args, env));
      const jobs = 8 * n + 8;
      await throughput(q, n); // every worker has its connections up
      const rate = await throughput(q, jobs);
      rates.set(n, rate);
      console.log(`  ${n} worker${n > 1 ? 's' : ' '}: ${rate.toFixed(2)} jobs/s (${jobs} jobs; ideal ${(n * 1000 / COMPUTE_MS).toFixed(1)})${n > 1 ? `  ×${(rate / rates.get(1)!).toFixed(2)} vs 1 worker` : ''}`);
    }
    const scale = rates.get(4)! / rates.get(1)!;
    console.log(`  4 workers / 1 worker = ${scale.toFixed(2)}× (target ≥ 3.5×: ${scale >= 3.5 ? 'met' : 'NOT met'})`);

    // Overhead: only the first worker listens on HTTP; stop the rest so queue calls go to the same process.
    await Promise.all(workers.splice(1).map((w) => w.stop()));
    const image = await photo(1024);
    const calls = 15;
    console.log(`transport overhead per call, 1024×1024 photo, brick does no work (p50 of ${calls} sequential calls):`);
    for (const encoding of ['png', 'raw'] as const) {
      const http = new HttpTransport({ url: workers[0]!.ready.http!, token: TOKEN, maxPayloadBytes: 64 << 20, encoding, logger });
      const queue = encoding === 'png' ? q : queueClient(prefix, encoding);
      const h = await overhead(http, image, calls);
      const qq = await overhead(queue, image, calls);
      console.log(`  ${encoding.padEnd(3)}: HTTP ${h.toFixed(1)} ms, queue ${qq.toFixed(1)} ms`);
      if (queue !== q) await queue.close();
    }
  } finally {
    await q.close();
    await Promise.all(workers.map((w) => w.stop()));
  }
}
