/**
 * The real session manager for adapter tests: PGlite in a temp data directory,
 * the offline Builder (or one given), real CPU bricks. Shared by the Telegram
 * and Discord end-to-end tests and the adapter benchmark.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Builder } from '../../../src/builder/builder.ts';
import { loadConfig } from '../../../src/config.ts';
import { silentLogger } from '../../../src/logger.ts';
import { builtinBricks } from '../../../bricks/index.ts';
import { MllmBuilder } from '../../../src/builder/mllm-builder.ts';
import { OfflineBuilder } from '../../../src/builder/offline-builder.ts';
import { Executor } from '../../../src/engine/executor.ts';
import { BrickRegistry } from '../../../src/engine/registry.ts';
import type { Workflow } from '../../../src/engine/workflow/types.ts';
import type { Runtime } from '../../../src/runtime.ts';
import { openSessions, type Sessions, type SessionSettings } from '../../../src/sessions/index.ts';

export interface BotSessions {
  readonly rt: Runtime;
  readonly sessions: Sessions;
  readonly dir: string;
  close(): Promise<void>;
}

export async function openBotSessions(options: { builder?: (registry: BrickRegistry) => Builder; env?: Record<string, string>; settings?: Partial<SessionSettings> } = {}): Promise<BotSessions> {
  const dir = await mkdtemp(join(tmpdir(), 'lego-adapter-'));
  const config = { ...loadConfig({ LEGO_EDIT_DATA_DIR: dir, LEGO_EDIT_CONFIG: '', ...options.env }), dataDir: dir };
  // Built from parts rather than createRuntime(): remote wiring (GPU hosts, queues) has no place in adapter tests.
  const registry = new BrickRegistry(builtinBricks());
  const rt = {
    config,
    registry,
    executor: new Executor(registry, { logger: silentLogger }),
    builder: options.builder?.(registry) ?? new OfflineBuilder(registry),
    logger: silentLogger,
    limits: { maxBytes: config.maxImageBytes, maxPixels: config.maxImagePixels },
  } as Runtime;
  const sessions = await openSessions(rt, { settings: { turnsPerMinute: 10_000, ...options.settings } });
  return {
    rt,
    sessions,
    dir,
    async close() {
      await sessions.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** An http://127.0.0.1 URL nothing listens on (a port just bound and released). */
export async function deadEndpoint(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/v1`;
}

/** The MLLM Builder pointed at an endpoint that is down, failing fast. */
export async function unreachableBuilder(): Promise<(registry: BrickRegistry) => Builder> {
  const baseURL = await deadEndpoint();
  return (registry) => new MllmBuilder({ registry, model: 'planner-under-test', baseURL, maxRetries: 0, timeoutMs: 2000 });
}

/** A colourful test photo: a red→blue gradient with a green square, as PNG or JPEG. */
export async function colourPhoto(width = 64, height = 48, format: 'png' | 'jpeg' = 'png'): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const inSquare = x > width / 4 && x < width / 2 && y > height / 4 && y < (3 * height) / 4;
      data[i] = inSquare ? 30 : Math.round((255 * x) / width);
      data[i + 1] = inSquare ? 200 : 60;
      data[i + 2] = inSquare ? 40 : Math.round((255 * (width - x)) / width);
    }
  const s = sharp(data, { raw: { width, height, channels: 3 } });
  return format === 'png' ? s.png().toBuffer() : s.jpeg({ quality: 95 }).toBuffer();
}

/** Whether an encoded image is grey: every pixel's channels within `tolerance` of each other. */
export async function isGrayscale(bytes: Uint8Array, tolerance = 2): Promise<boolean> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  for (let i = 0; i < data.length; i += info.channels) {
    if (Math.abs(data[i]! - data[i + 1]!) > tolerance || Math.abs(data[i + 1]! - data[i + 2]!) > tolerance) return false;
  }
  return true;
}

export async function meanBrightness(bytes: Uint8Array): Promise<number> {
  const stats = await sharp(bytes).removeAlpha().stats();
  return stats.channels.reduce((s, c) => s + c.mean, 0) / stats.channels.length;
}

export { changeByHalf, checkerPhoto, productShare, productShot, rightHalfMask } from '../../support/pixels.ts';

/** The offline Builder, except that a Van Gogh style is planned as FLUX-STYLE, which raises NeedsGpuHostError on a CPU-only host. */
export function gpuStyleBuilder(registry: BrickRegistry): Builder {
  const offline = new OfflineBuilder(registry);
  const image = { kind: 'ref', source: { kind: 'init', name: 'image' } } as const;
  const workflow: Workflow = {
    process: 'Van Gogh style',
    nodes: [{ step: 1, brick: 'FLUX-STYLE', inputs: { image, prompt: { kind: 'literal', value: 'a photo' }, style: { kind: 'literal', value: 'Van Gogh' } }, outputs: ['image'] }],
    results: [{ kind: 'step', step: 1, output: 'image' }],
  };
  return {
    name: 'gpu-style',
    plan: async (request) => (/van gogh/i.test(request.instruction) ? { workflow, builder: 'gpu-style' } : offline.plan(request)),
  };
}

/** The offline Builder after a pause that honours cancellation, so a turn is still running when something happens to it. */
export function slowBuilder(ms: number): (registry: BrickRegistry) => Builder {
  return (registry) => {
    const offline = new OfflineBuilder(registry);
    return {
      name: 'slow-offline',
      async plan(request) {
        await delay(ms, undefined, request.signal ? { signal: request.signal } : {});
        return offline.plan(request);
      },
    };
  };
}
