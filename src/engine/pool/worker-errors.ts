/**
 * Errors across the thread boundary. Structured cloning keeps an Error's
 * message but drops its class and fields, and the pipeline decides what to do
 * next from both (`planFixable`, `instanceof NeedsGpuHostError`), so a pooled
 * brick's error must come back as the same class with the same fields as if
 * the brick had thrown it on the main thread.
 */
import * as engineErrors from '../errors.ts';
import { LegoEditError, errorMessage } from '../errors.ts';
import * as stepErrors from '../step-errors.ts';

/** An error as it crosses from a worker: its class name, message, stack and own fields. */
export interface SerialisedError {
  readonly className: string;
  readonly message: string;
  readonly stack?: string;
  /** Own enumerable fields that survive structured cloning (code, brick, reason, …). */
  readonly fields: Record<string, unknown>;
  /** A LegoEditError's user-facing text, which a subclass may compute. */
  readonly userMessage?: string;
  /** Whether the worker's state may be broken (a WebAssembly abort): the worker then exits and a fresh one replaces it. */
  readonly poisoned: boolean;
}

/** A pooled brick's worker died or was left unusable mid-step; the step fails, the pool replaces the worker. */
export class BrickWorkerCrashedError extends LegoEditError {
  constructor(
    readonly brick: string,
    readonly detail: string,
    options: { cause?: unknown } = {},
  ) {
    super('brick-worker-crashed', `${brick} crashed in its worker thread (${detail}); that step failed and a fresh worker replaced it.`, {
      ...options,
      retryable: true,
    });
  }
}

type ErrorClass = abstract new (...args: never[]) => Error;

/** Classes an error may be restored as: the engine's own, and the built-in ones a brick's code can throw. */
const CLASSES: ReadonlyMap<string, ErrorClass> = new Map<string, ErrorClass>([
  ...(Object.entries({ ...engineErrors, ...stepErrors }) as [string, unknown][]).filter(
    (e): e is [string, ErrorClass] => typeof e[1] === 'function' && e[1].prototype instanceof Error,
  ),
  ['LegoEditError', LegoEditError],
  ['BrickWorkerCrashedError', BrickWorkerCrashedError],
  ['Error', Error],
  ['TypeError', TypeError],
  ['RangeError', RangeError],
  ['SyntaxError', SyntaxError],
  ['ReferenceError', ReferenceError],
]);

function cloneable(v: unknown): boolean {
  if (v === null || ['string', 'number', 'boolean', 'undefined'].includes(typeof v)) return true;
  return Array.isArray(v) && v.every((x) => x === null || ['string', 'number', 'boolean'].includes(typeof x));
}

/** In the worker: what to send back for `err`. */
export function serialiseError(err: unknown): SerialisedError {
  if (!(err instanceof Error)) return { className: 'Error', message: errorMessage(err), fields: {}, poisoned: false };
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(err)) if (cloneable(v)) fields[k] = v;
  // LegoEditError's code is set in its constructor; NeedsGpuHostError redefines it as non-enumerable.
  if (err instanceof LegoEditError) Object.assign(fields, { code: err.code, retryable: err.retryable, planFixable: err.planFixable });
  return {
    className: err.constructor.name,
    message: err.message,
    ...(err.stack ? { stack: err.stack } : {}),
    fields,
    ...(err instanceof LegoEditError ? { userMessage: err.userMessage } : {}),
    // WebAssembly.RuntimeError: a trap or an Emscripten abort().
    poisoned: err.name === 'RuntimeError',
  };
}

/**
 * On the main thread: the error as the brick threw it. A class this side does
 * not know (a module brick's own error) comes back as a LegoEditError with the
 * same code and decisions when it was one, else as a plain Error; the Executor
 * wraps either in StepFailedError, as it does for a brick on the main thread.
 */
export function restoreError(brick: string, e: SerialisedError): Error {
  if (e.poisoned) return new BrickWorkerCrashedError(brick, `a WebAssembly abort: ${e.message}`);
  const known = CLASSES.get(e.className);
  const cls = known ?? ('code' in e.fields && isCode(e.fields.code) ? LegoEditError : Error);
  const err = Object.create(cls.prototype as object) as Error;
  Object.defineProperty(err, 'message', { value: e.message, writable: true, configurable: true });
  Object.defineProperty(err, 'stack', { value: e.stack ?? `${e.className}: ${e.message}`, writable: true, configurable: true });
  Object.assign(err, e.fields);
  if (!known) Object.defineProperty(err, 'name', { value: e.className, configurable: true });
  if (!known && e.userMessage !== undefined) Object.defineProperty(err, 'userMessage', { value: e.userMessage, configurable: true });
  return err;
}

function isCode(v: unknown): boolean {
  return typeof v === 'string' && v.length > 0;
}
