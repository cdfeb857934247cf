/**
 * Errors carry what failed and what to do next, in the manner of grammY's
 * GrammyError (call + payload) and BullMQ's UnrecoverableError (retry or not).
 */

/** Base for every error this project raises on purpose. `userMessage` is safe to show in chat. */
export class LegoEditError extends Error {
  readonly code: string;
  /** Whether trying the same thing again might succeed. */
  readonly retryable: boolean;

  constructor(code: string, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }

  get userMessage(): string {
    return this.message;
  }
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
export class BrickUnavailableError extends LegoEditError {
  constructor(
    readonly brick: string,
    readonly reason: string,
    readonly howToEnable: string,
  ) {
    super('brick-unavailable', `${brick} cannot run here: ${reason}. ${howToEnable}`);
  }
}

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
export class BrickInputError extends LegoEditError {
  constructor(readonly brick: string, message: string) {
    super('brick-input', `${brick}: ${message}`);
  }
}

/**
 * A brick returned without an output that the workflow goes on to use (INVERSE
 * given masks returns no image). The plan asked for something these inputs do
 * not give, so a revised plan can fix it.
 */
export class MissingOutputError extends LegoEditError {
  constructor(
    readonly brick: string,
    readonly output: string,
    /** Who needed it: `step 2 (GRAYSCALE)`, `the result`. */
    readonly neededBy: readonly string[],
  ) {
    super('missing-output', `${brick} returned no "${output}" output (needed by ${neededBy.join(', ')}).`);
  }
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

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
