import type { BackendStatus } from '../../src/engine/brick.ts';
import { NeedsGpuHostError } from '../../src/engine/errors.ts';

/**
 * The GPU-host line of a brick's backends. A brick declares it unconfigured
 * (bricks know nothing of transports); when a worker or queue is configured,
 * the remote wiring (src/remote/client/gpu-host.ts) swaps the line for the configured
 * host's live status through `gpuHostAs`, so `lego-edit bricks` shows where
 * the generative requests go and whether someone serves them right now.
 */
export const GPU_HOST = 'gpu-host';

const NOT_CONFIGURED = 'no GPU host configured (LEGO_EDIT_WORKER_URL or REDIS_URL)';

/** The unconfigured GPU-host line; `scope` says which requests need it ("generative styles"), none for a GPU-only brick. */
export function gpuHostBackend(scope?: string): BackendStatus {
  return { name: GPU_HOST, available: false, detail: scope ? `${scope}: ${NOT_CONFIGURED}` : NOT_CONFIGURED };
}

/** The unconfigured line of a GPU-only brick. Bricks that spread it with their own `scope: ` prefix keep working. */
export const GPU_HOST_MISSING: BackendStatus = gpuHostBackend();

/** Whether a backend line is the GPU-host placeholder. */
export function isGpuHostLine(s: BackendStatus): boolean {
  return s.name === GPU_HOST;
}

/** The GPU-host line as the configured host reports it (`host` is the transport's status line), keeping its scope. */
export function gpuHostAs(line: BackendStatus, host: BackendStatus): BackendStatus {
  // The scope is whatever precedes the unconfigured text; both forms above (and a spread with a prefix) produce it.
  const detail = line.detail ?? '';
  const scope = detail.endsWith(NOT_CONFIGURED) ? detail.slice(0, -NOT_CONFIGURED.length).replace(/:\s*$/, '') : '';
  return { name: host.name, available: host.available, detail: [scope, host.detail].filter(Boolean).join(': ') };
}

/** A request a CPU variant cannot do, in words for "… needs a GPU host" (`The "Ghibli" style (generative style transfer)`). */
export interface GpuOnly {
  readonly gpuOnly: string;
}

export function gpuOnly(what: string): GpuOnly {
  return { gpuOnly: what };
}

function isGpuOnly(v: unknown): v is GpuOnly {
  return typeof v === 'object' && v !== null && typeof (v as Partial<GpuOnly>).gpuOnly === 'string';
}

/** A CPU variant's reading of a request, for its `run`: what to do, or the NeedsGpuHostError of a request only a GPU host can do. */
export function orNeedsGpuHost<T>(brick: string, v: T | GpuOnly): T {
  if (isGpuOnly(v)) throw new NeedsGpuHostError(brick, v.gpuOnly);
  return v;
}

/** The same reading, for the brick's `gpuNeed`: why the request needs the GPU host, or undefined when the CPU variant can do it. */
export function gpuNeedOf(v: unknown): string | undefined {
  return isGpuOnly(v) ? v.gpuOnly : undefined;
}
