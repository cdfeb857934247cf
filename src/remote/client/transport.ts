/**
 * One call signature for running a brick elsewhere, whatever carries it (an
 * HTTP worker, a BullMQ queue). A remote brick is an ordinary brick whose `run`
 * goes through a transport, so the executor's cache, timeouts and progress
 * events work across the boundary unchanged.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AnyBrick, BackendStatus, BrickKind, BrickProgress, PortSpec } from '../../engine/brick.ts';
import { port } from '../../engine/brick.ts';
import type { Value, ValueType } from '../../engine/values.ts';
import { errorMessage } from '../../engine/errors.ts';

/** Interactive turns go before batch work (evaluations, benchmarks) on a shared queue. */
export type CallPriority = 'interactive' | 'batch';

export interface CallOptions {
  readonly signal: AbortSignal;
  readonly onProgress?: (p: BrickProgress) => void;
  /** Called with each warning the brick gave on the worker, once its outputs arrive. */
  readonly onWarning?: (message: string) => void;
  readonly priority?: CallPriority;
  /** The user asked for another sample ("try again"): the worker's brick draws a fresh seed. */
  readonly resample?: boolean;
}

/** What a worker says it serves. */
export interface ServedBrick {
  readonly name: string;
  readonly version: string;
  /** e.g. "in-process", "onnx:lama.onnx (cpu)", "comfyui". */
  readonly backend: string;
}

export interface BrickTransport {
  /** "http" or "queue", for status lines. */
  readonly kind: string;
  /** Where it sends work, without credentials. */
  readonly target: string;
  call(brick: string, inputs: Record<string, Value | null>, options: CallOptions): Promise<Record<string, Value>>;
  /** The bricks someone serves right now (HTTP: the worker's list; queue: bricks with a live worker). */
  served(signal?: AbortSignal): Promise<ServedBrick[]>;
  close(): Promise<void>;
}

const priorityScope = new AsyncLocalStorage<CallPriority>();

/** Runs `fn` with every remote call it makes marked as batch (or interactive) work. */
export function withCallPriority<T>(priority: CallPriority, fn: () => T): T {
  return priorityScope.run(priority, fn);
}

export function currentCallPriority(): CallPriority {
  return priorityScope.getStore() ?? 'interactive';
}

/** Warnings as a worker sent them: strings only, a bounded number of bounded length, whatever arrived. */
export function receivedWarnings(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value
    .filter((w): w is string => typeof w === 'string' && w.trim() !== '')
    .slice(0, 20)
    .map((w) => (w.length > 500 ? `${w.slice(0, 499)}…` : w));
}

/** A brick's declaration as plain data, as a worker lists it and a manifest declares it. */
export interface BrickSpec {
  readonly name: string;
  readonly kind: BrickKind;
  readonly description: string;
  readonly constraint?: string;
  readonly version: string;
  readonly inputs: Record<string, PortSpecData>;
  readonly outputs: Record<string, PortSpecData>;
}

export interface PortSpecData {
  readonly type: ValueType;
  readonly description?: string;
  readonly optional?: boolean;
  readonly default?: string | number;
  readonly oneOf?: readonly string[];
  readonly min?: number;
  readonly max?: number;
}

/** Builds a port (with its literal schema) from plain data. */
export function portFromData(d: PortSpecData): PortSpec {
  const common = { ...(d.description !== undefined ? { description: d.description } : {}), ...(d.optional !== undefined ? { optional: d.optional } : {}) };
  switch (d.type) {
    case 'Image':
      return port.image(common);
    case 'Mask':
      return port.mask(common);
    case 'Str':
      return port.str({ ...common, ...(typeof d.default === 'string' ? { default: d.default } : {}), ...(d.oneOf ? { oneOf: d.oneOf } : {}) });
    case 'Float':
      return port.float({
        ...common,
        ...(typeof d.default === 'number' ? { default: d.default } : {}),
        ...(d.min !== undefined ? { min: d.min } : {}),
        ...(d.max !== undefined ? { max: d.max } : {}),
      });
  }
}

export function specOf(brick: AnyBrick): BrickSpec {
  const ports = (ps: Record<string, PortSpec>): Record<string, PortSpecData> =>
    Object.fromEntries(
      Object.entries(ps).map(([k, p]) => [
        k,
        {
          type: p.type,
          ...(p.description !== undefined ? { description: p.description } : {}),
          ...(p.optional !== undefined ? { optional: p.optional } : {}),
          ...(p.default !== undefined ? { default: p.default } : {}),
        },
      ]),
    );
  return {
    name: brick.name,
    kind: brick.kind,
    description: brick.description,
    ...(brick.constraint !== undefined ? { constraint: brick.constraint } : {}),
    version: brick.version,
    inputs: ports(brick.inputs),
    outputs: ports(brick.outputs),
  };
}

/** How long a backend status answer is reused, so listing bricks per turn does not hit the worker each time. */
const STATUS_TTL_MS = 5_000;
const STATUS_TIMEOUT_MS = 2_000;

/** Served-brick lists per transport, shared by all the bricks going through it. */
const servedCache = new WeakMap<BrickTransport, { at: number; value: Promise<ServedBrick[] | Error> }>();

function servedNow(transport: BrickTransport): Promise<ServedBrick[] | Error> {
  const hit = servedCache.get(transport);
  if (hit && performance.now() - hit.at < STATUS_TTL_MS) return hit.value;
  const value = transport.served(AbortSignal.timeout(STATUS_TIMEOUT_MS)).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
  servedCache.set(transport, { at: performance.now(), value });
  return value;
}

/**
 * A brick that runs through `transport`. `shape` supplies the declaration
 * (a built-in brick it stands in for, or a manifest entry); its `run` is not used.
 */
export function remoteBrick(shape: Omit<AnyBrick, 'run' | 'backends'>, transport: BrickTransport): AnyBrick {
  const backendName = `${transport.kind}-worker`;
  return {
    name: shape.name,
    kind: shape.kind,
    description: shape.description,
    inputs: shape.inputs,
    outputs: shape.outputs,
    ...(shape.constraint !== undefined ? { constraint: shape.constraint } : {}),
    version: shape.version,
    async backends(): Promise<BackendStatus[]> {
      const served = await servedNow(transport);
      if (served instanceof Error) return [{ name: backendName, available: false, detail: `${transport.target}: ${errorMessage(served)}` }];
      const mine = served.find((s) => s.name.toUpperCase() === shape.name.toUpperCase());
      return [
        mine
          ? { name: backendName, available: true, detail: `${transport.target} (${mine.backend})` }
          : { name: backendName, available: false, detail: `no worker at ${transport.target} serves ${shape.name} now` },
      ];
    },
    run: async (inputs, ctx) => {
      // Outputs come back as the worker's brick made them, at the input's size: the worker fits them (see full-size.ts).
      return (await transport.call(shape.name, inputs as Record<string, Value | null>, {
        signal: ctx.signal,
        onProgress: ctx.progress,
        ...(ctx.warn ? { onWarning: ctx.warn } : {}),
        priority: currentCallPriority(),
        ...(ctx.resample ? { resample: true } : {}),
      })) as Awaited<ReturnType<AnyBrick['run']>>;
    },
  };
}
