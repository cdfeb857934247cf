/**
 * The brick contract. A brick is declared once (name, kind, ports, description,
 * constraint, version, run) and that one declaration drives validation, the
 * Builder's catalogue, the CLI listing and the executor, as a tool does in the
 * Vercel AI SDK.
 */
import { z } from 'zod';
import type { Logger } from 'pino';
import type { ImageData, MaskData, Value, ValueType } from './values.ts';

export type BrickKind = 'predict' | 'edit' | 'function';

/** Where a brick with a CPU variant and a GPU backend sends its requests (see `BrickDefinition.gpuRoute`). */
export type GpuRoute = 'gpu' | 'cpu-first' | 'cpu';

export interface PortSpec<T extends ValueType = ValueType> {
  readonly type: T;
  readonly description?: string;
  readonly optional?: boolean;
  /** Used when the input is not given. Only for Str and Float. */
  readonly default?: string | number;
  /** The only values a Str port takes (matched trimmed and case-insensitively). Shown in the catalogue. */
  readonly oneOf?: readonly string[];
  /** Inclusive bounds of a Float port. Shown in the catalogue. */
  readonly min?: number;
  readonly max?: number;
  /** Validates and coerces a literal given for this port (Str and Float only). */
  readonly schema?: z.ZodType<string | number>;
  /**
   * Mask ports only: an empty mask is a meaningful value here (mask algebra:
   * the box of nothing is nothing), so the Executor passes it on instead of
   * stopping; whoever edits with the result is the one told it is empty.
   */
  readonly acceptsEmpty?: boolean;
}

interface PortOptions {
  readonly description?: string;
  readonly optional?: boolean;
}

/**
 * Inputs that come in kinds, one kind per step: INVERSE subtracts masks or
 * images, never both. Ports in no kind are shared (RESIZE's ratio). The
 * validator refuses a step that gives ports of two kinds, and one that gives a
 * kind without the ports it `needs`.
 */
export interface InputKind {
  /** What the kind is, in the validator's words: "masks", "images". */
  readonly label: string;
  readonly ports: readonly string[];
  /** Ports this kind cannot do without. Default: all of `ports`. */
  readonly needs?: readonly string[];
}

/** A number as a Builder writes one in a string: "2", "-0.5", ".5", "1e-3". */
const NUMBER_TEXT = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** The longest text literal a Str port takes: prompts are phrases, and every brick's cost grows with them. */
export const MAX_TEXT_LENGTH = 2000;

/** Port builders: `port.float({ min: 0 })`, `port.image({ optional: true })`. Option literals are kept in the type. */
export const port = {
  image<const O extends PortOptions = PortOptions>(opts?: O): PortSpec<'Image'> & O {
    return { type: 'Image', ...(opts as O) };
  },
  mask<const O extends PortOptions & { acceptsEmpty?: boolean } = PortOptions>(opts?: O): PortSpec<'Mask'> & O {
    return { type: 'Mask', ...(opts as O) };
  },
  // The choices and bounds stay on the port as data as well as in its schema: the catalogue shows them to the Builder.
  str<const O extends PortOptions & { default?: string; oneOf?: readonly string[] } = PortOptions>(opts?: O): PortSpec<'Str'> & Omit<O, 'oneOf'> {
    const { oneOf } = (opts ?? {}) as O;
    const schema = oneOf
      ? z
          .string()
          .transform((s) => s.trim().toLowerCase())
          .pipe(z.enum(oneOf as unknown as [string, ...string[]], { message: `must be one of ${oneOf.map((o) => JSON.stringify(o)).join(', ')}` }))
      : z.string().max(MAX_TEXT_LENGTH, `must be at most ${MAX_TEXT_LENGTH} characters`);
    return { type: 'Str', ...(opts as O), schema };
  },
  float<const O extends PortOptions & { default?: number; min?: number; max?: number } = PortOptions>(
    opts?: O,
  ): PortSpec<'Float'> & Omit<O, 'min' | 'max'> {
    const { min, max } = (opts ?? {}) as O;
    // The messages name the declared range: they go back to the Builder for repair, and to the user.
    const range = min !== undefined && max !== undefined ? `between ${min} and ${max}` : min !== undefined ? `at least ${min}` : max !== undefined ? `at most ${max}` : 'a finite number';
    // Builders emit numbers as strings ("2.0"); coerce, but refuse "", "abc", NaN and infinities.
    const schema = z.unknown().transform((v, ctx) => {
      const n = typeof v === 'number' ? v : typeof v === 'string' && NUMBER_TEXT.test(v.trim()) ? Number(v.trim()) : undefined;
      if (n === undefined) {
        ctx.addIssue({ code: 'custom', message: 'not a number' });
        return z.NEVER;
      }
      if (!Number.isFinite(n) || (min !== undefined && n < min) || (max !== undefined && n > max)) {
        ctx.addIssue({ code: 'custom', message: `must be ${range}` });
        return z.NEVER;
      }
      return n;
    });
    return { type: 'Float', ...(opts as O), schema: schema as unknown as z.ZodType<number> };
  },
};

type PortValue<P extends PortSpec> = P['type'] extends 'Image'
  ? ImageData
  : P['type'] extends 'Mask'
    ? MaskData
    : P['type'] extends 'Str'
      ? string
      : number;

type IsOptional<P extends PortSpec> = P['optional'] extends true ? (P['default'] extends string | number ? false : true) : false;

export type InputValues<I extends Record<string, PortSpec>> = {
  [K in keyof I]: IsOptional<I[K]> extends true ? PortValue<I[K]> | null : PortValue<I[K]>;
};

/** Outputs marked optional may be left out (INVERSE returns a mask or an image, not both). */
export type OutputValues<O extends Record<string, PortSpec>> = { [K in keyof O as O[K]['optional'] extends true ? never : K]: PortValue<O[K]> } & {
  [K in keyof O as O[K]['optional'] extends true ? K : never]?: PortValue<O[K]>;
};

export interface BrickProgress {
  fraction?: number;
  message?: string;
}

export interface BrickContext {
  /** Aborted on cancellation or timeout; long work must check it. */
  readonly signal: AbortSignal;
  readonly progress: (p: BrickProgress) => void;
  readonly logger: Logger;
  /**
   * Tells the user something about this step's result they should know: a
   * fallback stood in for the real thing. The Executor adds it to the run's
   * warnings (shown in chat and by the CLI) and keeps it with cached outputs.
   * Absent when a brick is called directly, hence `ctx.warn?.(…)`.
   */
  readonly warn?: (message: string) => void;
  /**
   * The user asked for another sample of the same edit ("try again"): a brick
   * with randomness (a diffusion seed) draws fresh instead of reproducing its
   * last result. Absent or false: same inputs, same result.
   */
  readonly resample?: boolean;
  /**
   * Runs another brick as the Executor runs a step's brick (a CPU-heavy one in
   * the worker-thread pool), under this step's signal, progress and warnings.
   * A wrapper that stands in for a built-in (GPU routing) runs the built-in's
   * CPU variant through it, so choosing the CPU does not put TF.js or OpenCV
   * on the event loop. Absent when a brick is called directly.
   */
  readonly runBrick?: (brick: AnyBrick, inputs: Record<string, Value | null>) => Promise<Record<string, Value>>;
}

/** Where a brick's work can happen and whether that is possible right now. */
export interface BackendStatus {
  /** e.g. "sharp", "opencv-wasm", "onnx:lama.onnx", "gpu-host". */
  readonly name: string;
  readonly available: boolean;
  /** What it does or why it is missing. */
  readonly detail?: string;
}

export interface BrickDefinition<
  I extends Record<string, PortSpec> = Record<string, PortSpec>,
  O extends Record<string, PortSpec> = Record<string, PortSpec>,
> {
  readonly name: string;
  readonly kind: BrickKind;
  /** One line, shown in the catalogue: "Segmentation by object specified by prompt". */
  readonly description: string;
  readonly inputs: I;
  readonly outputs: O;
  /** Free text for the Builder: when to use it, what it cannot do. */
  readonly constraint?: string;
  /**
   * One kind of input per step (see InputKind). Giving none of the kinds is a
   * missing input, unless `kindOptional` (CMI-PRED without ratios only captions).
   */
  readonly inputKinds?: readonly InputKind[];
  readonly kindOptional?: boolean;
  /** Bumped when results change, so cached outputs of older versions are not reused. */
  readonly version: string;
  /**
   * CPU-heavy (model inference on wasm, OpenCV, pixel loops over the whole
   * image): the Executor runs it in the worker-thread pool, off the event loop.
   * Light bricks (a sharp call, a few lines of JS) stay on the main thread,
   * where a hop to a worker would cost more than the work.
   */
  readonly cpuHeavy?: boolean;
  /**
   * What the brick runs on right now, when that can change while the process
   * lives (a user model installed, a GPU host configured): e.g. a model file's
   * fingerprint. It joins the version in the executor's cache key, so two
   * backends never share cache entries. Omitted means one backend for the
   * process's lifetime, which the version covers.
   */
  readonly backendKey?: () => string;
  /**
   * Longest one run may take, when the brick knows better than the executor's
   * default step timeout (a manifest's `timeoutMs` for a slow GPU workflow).
   */
  readonly timeoutMs?: number;
  /**
   * For a brick with both a CPU variant and a GPU-host line: where its requests
   * go once a GPU backend is configured. "cpu-first" (the default): the CPU
   * variant does what it can and the GPU backend the rest; "gpu": every
   * request goes to the GPU backend (the CPU variant is a stand-in, as
   * FLUX-INPAINT's exemplar fill is for diffusion). LEGO_EDIT_GPU_ROUTES overrides it.
   */
  readonly gpuRoute?: GpuRoute;
  /**
   * For a brick with a CPU variant and a GPU-host line: what these inputs
   * would need the GPU host for ("The \"Ghibli\" style (generative style
   * transfer)"), or undefined when the CPU variant can do them. Asked before
   * anything runs, so a cpu-first route is an explicit decision the log can
   * state. The brick's own parser answers it, so it stays the one place that
   * knows what the CPU can do. Omitted: the CPU variant takes every request.
   */
  readonly gpuNeed?: (inputs: InputValues<I>) => string | undefined;
  /** Backends this brick can use, in order of preference. Omitted means always available in-process. */
  readonly backends?: () => Promise<readonly BackendStatus[]> | readonly BackendStatus[];
  readonly run: (inputs: InputValues<I>, ctx: BrickContext) => Promise<OutputValues<O>>;
}

/** A brick with its port types erased, as the registry and executor hold it. */
export type AnyBrick = BrickDefinition<Record<string, PortSpec>, Record<string, PortSpec>>;

/** Declare a brick; keeps the ports' literal types for `run`. */
export function defineBrick<I extends Record<string, PortSpec>, O extends Record<string, PortSpec>>(
  def: BrickDefinition<I, O>,
): AnyBrick {
  return def as unknown as AnyBrick;
}

/** The schema a literal for this port is checked with. */
export function literalSchema(spec: PortSpec): z.ZodType<string | number> | undefined {
  if (spec.schema) return spec.schema;
  if (spec.type === 'Str') return z.string().max(MAX_TEXT_LENGTH, `must be at most ${MAX_TEXT_LENGTH} characters`);
  if (spec.type === 'Float') return port.float().schema;
  return undefined;
}

/**
 * The port called `name`, looked up as an own property: names come from the
 * Builder, and `constructor` or `__proto__` must find nothing, not Object.prototype's members.
 */
export function portOf(ports: Readonly<Record<string, PortSpec>>, name: string): PortSpec | undefined {
  return Object.hasOwn(ports, name) ? ports[name] : undefined;
}

export function isRequired(spec: PortSpec): boolean {
  return !spec.optional && spec.default === undefined;
}
