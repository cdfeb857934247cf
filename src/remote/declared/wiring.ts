/**
 * From configuration to registered bricks: picks the transport (HTTP worker
 * or queue), lets every built-in with a GPU-host backend send what its local
 * variant cannot do to that transport, and registers the bricks a manifest
 * declares.
 */
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Logger } from 'pino';
import { modelsDirOf } from '../../../bricks/environment.ts';
import type { AnyBrick, BackendStatus } from '../../engine/brick.ts';
import { BrickUnavailableError } from '../../engine/errors.ts';
import type { BrickRegistry } from '../../engine/registry.ts';
import type { Config } from '../../config.ts';
import { comfyuiBrick } from './comfyui.ts';
import { fitsBuiltin, offersGpuHost, parseGpuRoutes, routeOf, withGenerativeBackend, withGpuHost } from '../client/gpu-host.ts';
import { HttpTransport } from '../client/http-client.ts';
import { type BrickDeclaration, JsonFiles, ManifestError, declaredShape, loadManifest, loadTemplate } from './manifest.ts';
import { onnxBrick } from './onnx-brick.ts';
import { QueueTransport } from '../client/queue-client.ts';
import { type BrickTransport, remoteBrick } from '../client/transport.ts';

/** The subset of configuration remote execution reads (tests build it by hand). */
export type RemoteConfig = Pick<
  Config,
  | 'workerUrl'
  | 'workerToken'
  | 'redisUrl'
  | 'comfyuiUrl'
  | 'bricksManifest'
  | 'gpuRoutes'
  | 'remoteTransport'
  | 'queuePrefix'
  | 'queueAttempts'
  | 'queueNoWorkerMs'
  | 'remoteJobTimeoutMs'
  | 'remoteMaxBytes'
  | 'remoteEncoding'
  | 'modelsDir'
  | 'dataDir'
  | 'maxImagePixels'
>;

export interface RemoteWiring {
  /** The configured transport, if any. */
  readonly transport: BrickTransport | undefined;
  /** Built-ins that send the requests their local variant cannot do (all of them, for the GPU-only ones) to the transport. */
  readonly remoteBricks: readonly string[];
  /** Bricks the manifest declared. */
  readonly declaredBricks: readonly string[];
  /** Closes queue connections; safe to call more than once. */
  close(): Promise<void>;
}

export function httpTransportFrom(cfg: RemoteConfig, logger: Logger, url = cfg.workerUrl): HttpTransport | undefined {
  if (!url || !cfg.workerToken) return undefined;
  return new HttpTransport({ url, token: cfg.workerToken, maxPayloadBytes: cfg.remoteMaxBytes, maxPixels: cfg.maxImagePixels, encoding: cfg.remoteEncoding, logger });
}

export function queueTransportFrom(cfg: RemoteConfig, logger: Logger): QueueTransport | undefined {
  if (!cfg.redisUrl) return undefined;
  return new QueueTransport({
    redisUrl: cfg.redisUrl,
    prefix: cfg.queuePrefix,
    attempts: cfg.queueAttempts,
    backoffMs: 500,
    noWorkerTimeoutMs: cfg.queueNoWorkerMs,
    maxPayloadBytes: cfg.remoteMaxBytes,
    maxPixels: cfg.maxImagePixels,
    blobTtlS: Math.ceil((cfg.remoteJobTimeoutMs * (cfg.queueAttempts + 1)) / 1000) + 600,
    encoding: cfg.remoteEncoding,
    logger,
  });
}

/** HTTP when a worker URL is set (or asked for), else the queue when Redis is configured. */
export function transportFrom(cfg: RemoteConfig, logger: Logger): BrickTransport | undefined {
  const choice = cfg.remoteTransport ?? (cfg.workerUrl ? 'http' : cfg.redisUrl ? 'queue' : undefined);
  if (choice === 'http') return httpTransportFrom(cfg, logger);
  if (choice === 'queue') return queueTransportFrom(cfg, logger);
  return undefined;
}

/** A declared brick whose backend is not configured: listed, with the reason, but refuses to run. */
function unconfigured(shape: Omit<AnyBrick, 'run' | 'backends'>, backend: string, why: string): AnyBrick {
  const status: BackendStatus = { name: backend, available: false, detail: why };
  return {
    ...shape,
    backends: () => [status],
    run: async () => {
      throw new BrickUnavailableError(shape.name, why, 'See docs/remote.md.');
    },
  };
}

export interface DeclaredOptions {
  /** A worker serves only what runs where it is (ComfyUI, ONNX), never what it would forward. */
  readonly role: 'bot' | 'worker';
  readonly transport?: BrickTransport | undefined;
  readonly logger: Logger;
}

/** Bricks from a manifest file, ready to register. */
export function declaredBricks(file: string, cfg: RemoteConfig, opts: DeclaredOptions, json = new JsonFiles()): AnyBrick[] {
  const manifest = loadManifest(file, json);
  const out: AnyBrick[] = [];
  const extra: BrickTransport[] = [];
  for (const d of manifest.bricks) {
    const b = buildDeclared(d, file, cfg, opts, extra, json);
    if (b) out.push(b);
  }
  return out;
}

function buildDeclared(d: BrickDeclaration, file: string, cfg: RemoteConfig, opts: DeclaredOptions, extra: BrickTransport[], json: JsonFiles): AnyBrick | undefined {
  const shape = declaredShape(d);
  const be = d.backend;
  switch (be.type) {
    case 'http': {
      if (opts.role === 'worker') return undefined;
      const t = be.url ? httpTransportFrom(cfg, opts.logger, be.url) : opts.transport?.kind === 'http' ? opts.transport : httpTransportFrom(cfg, opts.logger);
      if (!t) {
        // A URL without the token is a half-done configuration, not an absent one: name the missing half.
        const why = (be.url ?? cfg.workerUrl) ? 'the worker URL is set but LEGO_EDIT_WORKER_TOKEN is not' : 'no HTTP worker configured (LEGO_EDIT_WORKER_URL and LEGO_EDIT_WORKER_TOKEN)';
        return unconfigured(shape, 'http-worker', why);
      }
      if (t !== opts.transport) extra.push(t);
      return remoteBrick(shape, t);
    }
    case 'queue': {
      if (opts.role === 'worker') return undefined;
      const t = opts.transport?.kind === 'queue' ? opts.transport : undefined;
      if (!t) return unconfigured(shape, 'queue-worker', 'no brick queue configured (REDIS_URL, LEGO_EDIT_REMOTE_TRANSPORT=queue)');
      return remoteBrick(shape, t);
    }
    case 'comfyui': {
      const url = be.url ?? cfg.comfyuiUrl;
      if (!url) return unconfigured(shape, 'comfyui', 'no ComfyUI server configured (COMFYUI_URL or backend.url)');
      const template = typeof be.workflow === 'string' ? loadTemplate(file, be.workflow, json) : be.workflow;
      // The template's content is part of what the brick computes: a changed file must not reuse cached results.
      const version = `${shape.version}.${createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 8)}`;
      return comfyuiBrick({ ...shape, version }, { url, template, outputs: be.outputs, timeoutMs: be.timeoutMs, ...(be.derived ? { derived: be.derived } : {}) });
    }
    case 'onnx': {
      const modelPath = isAbsolute(be.model) ? be.model : join(modelsDirOf(cfg), be.model);
      return onnxBrick(
        shape,
        {
          modelPath,
          ...(be.size ? { size: be.size } : {}),
          inputs: be.inputs,
          outputs: be.outputs,
          ...(be.compositeInside ? { compositeInside: be.compositeInside } : {}),
        },
        opts.logger,
      );
    }
  }
}

/**
 * The manifest files LEGO_EDIT_BRICKS names: one file, a comma-separated list,
 * or a directory (its *.yaml, *.yml and *.json files that declare `bricks`, so
 * the workflows beside them are not read as manifests).
 */
export function manifestFiles(setting: string, json = new JsonFiles()): string[] {
  const files: string[] = [];
  for (const entry of setting.split(',').map((s) => s.trim()).filter(Boolean)) {
    let isDir = false;
    try {
      isDir = statSync(entry).isDirectory();
    } catch {
      // A missing path is reported by loadManifest, with its name.
    }
    if (!isDir) {
      files.push(entry);
      continue;
    }
    for (const name of readdirSync(entry).sort()) {
      const path = join(entry, name);
      if (/\.ya?ml$/i.test(name)) files.push(path);
      else if (/\.json$/i.test(name) && declaresBricks(path, json)) files.push(path);
    }
  }
  return files;
}

function declaresBricks(path: string, json: JsonFiles): boolean {
  try {
    const v = json.read(path);
    return typeof v === 'object' && v !== null && Array.isArray((v as { bricks?: unknown }).bricks);
  } catch {
    return false;
  }
}

/** Bricks from every manifest LEGO_EDIT_BRICKS names; a name declared twice across them is an error naming both files. */
export function declaredFromSetting(setting: string, cfg: RemoteConfig, opts: DeclaredOptions): AnyBrick[] {
  const seen = new Map<string, string>();
  const out: AnyBrick[] = [];
  const json = new JsonFiles();
  for (const file of manifestFiles(setting, json)) {
    for (const b of declaredBricks(file, cfg, opts, json)) {
      const before = seen.get(b.name);
      if (before) throw new ManifestError(file, [`${b.name} is also declared in ${before}`]);
      seen.set(b.name, file);
      out.push(b);
    }
  }
  return out;
}

/**
 * Registers what configuration asks for into `registry`. A manifest brick
 * named like a built-in with a CPU variant serves what that variant cannot do
 * (the CPU keeps "sepia"; ComfyUI gets "Ghibli"); other manifest bricks are
 * registered as they are. Built-ins with a GPU-host line that no manifest
 * serves send what they cannot do to the transport, when one is configured.
 */
export function wireRemoteBricks(registry: BrickRegistry, cfg: RemoteConfig, logger: Logger): RemoteWiring {
  const transport = transportFrom(cfg, logger);
  const routes = parseGpuRoutes(cfg.gpuRoutes);
  const builtins = new Map(registry.list().map((b) => [b.name.toUpperCase(), b]));
  const declared: string[] = [];
  if (cfg.bricksManifest) {
    for (const b of declaredFromSetting(cfg.bricksManifest, cfg, { role: 'bot', transport, logger })) {
      const base = builtins.get(b.name.toUpperCase());
      if (base && offersGpuHost(base) && fitsBuiltin(base, b)) {
        registry.register(withGenerativeBackend(base, b, routeOf(base, routes)));
      } else {
        if (base) logger.warn({ brick: b.name }, 'the manifest brick replaces the built-in of the same name (its ports differ, or the built-in has no GPU-host line)');
        registry.register(b);
      }
      declared.push(b.name);
    }
  }
  const remote: string[] = [];
  if (transport) {
    for (const b of builtins.values()) {
      // A built-in a manifest serves (or replaces) is no longer the registered brick of its name.
      if (!offersGpuHost(b) || registry.get(b.name) !== b) continue;
      registry.register(withGpuHost(b, transport, routeOf(b, routes)));
      remote.push(b.name);
    }
  }
  return {
    transport,
    remoteBricks: remote,
    declaredBricks: declared,
    close: async () => {
      await transport?.close();
    },
  };
}
