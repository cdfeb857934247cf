/**
 * Errors carry what failed and what to do next, in the manner of grammY's
 * GrammyError (call + payload) and BullMQ's UnrecoverableError (retry or not).
 * What to do next is a property of the class: `retryable` (the same thing
 * again may work) and `planFixable` (a different plan may work; see
 * PlanFixableError), never a list of codes kept elsewhere.
 */
import type { ErrorCode } from './error-codes.ts';

export type { ErrorCode } from './error-codes.ts';

export interface LegoEditErrorOptions {
  readonly cause?: unknown;
  readonly retryable?: boolean;
  readonly planFixable?: boolean;
}

/** Base for every error this project raises on purpose. `userMessage` is safe to show in chat. */
export class LegoEditError extends Error {
  readonly code: ErrorCode;
  /** Whether trying the same thing again might succeed. */
  readonly retryable: boolean;
  /** Whether a different plan might succeed where this one failed at run time: the pipeline then asks the Builder to repair it. */
  readonly planFixable: boolean;

  constructor(code: ErrorCode, message: string, options: LegoEditErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.planFixable = options.planFixable ?? false;
  }

  get userMessage(): string {
    return this.message;
  }
}

/**
 * A run-time failure that a different plan can avoid: nothing found, a brick
 * that cannot run here or refused its input, a missing output. The plan → run →
 * repair pipeline sends exactly these back to the Builder (like BullMQ's
 * UnrecoverableError, the class says what to do next).
 */
export class PlanFixableError extends LegoEditError {
  constructor(code: ErrorCode, message: string, options: Omit<LegoEditErrorOptions, 'planFixable'> = {}) {
    super(code, message, { ...options, planFixable: true });
  }
}

/** Whether `err` is a failure a different plan can avoid. */
export function isPlanFixable(err: unknown): boolean {
  return err instanceof LegoEditError && err.planFixable;
}

/** The user's image cannot be decoded. */
export class UnreadableImageError extends LegoEditError {
  constructor(detail: string, options: { cause?: unknown } = {}) {
    super('unreadable-image', `That file is not an image I can read (${detail}).`, options);
  }
}

/** The image exceeds the configured pixel or byte limit. */
export class ImageTooLargeError extends LegoEditError {
  constructor(readonly actual: string, readonly limit: string) {
    super('image-too-large', `That image is too large (${actual}); the limit is ${limit}.`);
  }
}

/** A brick cannot run on this host: its model needs a GPU host or a model file that is not installed. */
export class BrickUnavailableError extends PlanFixableError {
  constructor(
    readonly brick: string,
    readonly reason: string,
    readonly howToEnable: string,
  ) {
    super('brick-unavailable', `${brick} cannot run here: ${reason}. ${howToEnable}`);
  }

  /** The operator's hint (which setting enables it) is in `message`, for the log and `lego-edit bricks`; chat users get what they can ask for instead. */
  override get userMessage(): string {
    return `I can't make that edit here: it needs a tool this bot has not been set up with. ${ASK_INSTEAD}`;
  }
}

/** What a user can ask for when an edit needs something this host lacks: edits every host can run. */
export const ASK_INSTEAD = 'You can ask for something else, for example "make it black and white" or "make it brighter".';

/** A generative brick that only runs on a configured GPU host. */
export class NeedsGpuHostError extends BrickUnavailableError {
  constructor(brick: string, what: string) {
    super(
      brick,
      `${what} needs a GPU host`,
      'Configure one with LEGO_EDIT_WORKER_URL (HTTP worker) or REDIS_URL (queue workers); see the README, "GPU hosts".',
    );
    Object.defineProperty(this, 'code', { value: 'needs-gpu-host' });
  }
}

/** A brick received input it cannot work with (wrong size, bad literal the schema let through). */
export class BrickInputError extends PlanFixableError {
  constructor(readonly brick: string, message: string) {
    super('brick-input', `${brick}: ${message}`);
  }
}

/**
 * A brick returned without an output that the workflow goes on to use (INVERSE
 * given masks returns no image). The plan asked for something these inputs do
 * not give, so a revised plan can fix it.
 */
export class MissingOutputError extends PlanFixableError {
  constructor(
    readonly brick: string,
    readonly output: string,
    /** Who needed it: `step 2 (GRAYSCALE)`, `the result`. */
    readonly neededBy: readonly string[],
  ) {
    super('missing-output', `${brick} returned no "${output}" output (needed by ${neededBy.join(', ')}).`);
  }
}

/**
 * A brick returned something its declaration does not allow: a required output
 * missing, a value of the wrong type, or pixels that do not match their size.
 * Raised by the Executor at the step that returned it, so no later step or
 * encoder meets the bad value.
 */
export class BrickOutputError extends LegoEditError {
  constructor(readonly brick: string, readonly output: string, readonly problem: string) {
    super('brick-output', `${brick} returned a bad "${output}" output: ${problem}.`);
  }
}

/**
 * The last guard: a brick (or a library under it) threw something that is not
 * one of our errors. The Executor wraps it here, logs the original with its
 * stack, and shows only the message, naming the brick.
 */
export class BrickFailedError extends LegoEditError {
  constructor(readonly brick: string, cause: unknown) {
    // The message is the library's own words; the StepFailedError around it names the step and brick.
    super('step-failed', strayDetail(cause), { cause });
  }

  override get userMessage(): string {
    return `it failed unexpectedly (${this.message})`;
  }
}

/** What a stray thrown value says, whatever it is: an Error's message, or the value itself (Emscripten modules throw numbers). */
function strayDetail(cause: unknown): string {
  if (cause instanceof Error) return cause.message || cause.name;
  const text = typeof cause === 'string' ? cause : `${typeof cause} ${String(cause)}`;
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

/** The operation was cancelled by the user or a shutdown. */
export class CancelledError extends LegoEditError {
  constructor(message = 'Cancelled.') {
    super('cancelled', message);
  }
}

/** A step took longer than its allowed time. */
export class StepTimeoutError extends LegoEditError {
  constructor(readonly step: number, readonly brick: string, readonly timeoutMs: number) {
    super('step-timeout', `Step ${step} (${brick}) took longer than ${timeoutMs} ms and was stopped.`, { retryable: true });
  }
}

/**
 * An error's message for people and logs. A query error from drizzle ("Failed query: <SQL> params: <values>")
 * gives its driver's message instead: the parameters are the user's own text.
 */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    if (isQueryError(err)) return err.cause ? errorMessage(err.cause) : 'a database query failed';
    return err.message;
  }
  return String(err);
}

/** drizzle's DrizzleQueryError, recognised by its message so that the engine need not load drizzle. */
export function isQueryError(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('Failed query:');
}
