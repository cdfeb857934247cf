/**
 * Typed failures of remote brick execution. Each says whether trying again may
 * help (as BullMQ's UnrecoverableError does for jobs), so the queue retries
 * only what can succeed on another attempt or another host.
 */
import { CancelledError, LegoEditError, PlanFixableError, errorMessage } from '../../engine/errors.ts';
import { isErrorCode } from '../../engine/error-codes.ts';

/** What travels across the wire for an error: enough to rebuild a typed error on the other side. */
export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
  /** Whether a different plan can avoid it (a brick that cannot run there, input it refused); absent reads as no. */
  readonly planFixable?: boolean;
}

/** A brick failed on the worker; carries the worker's code and its decisions: retry, or re-plan. */
export class RemoteBrickError extends LegoEditError {
  constructor(readonly brick: string, wire: WireError) {
    // A code this side does not know (another version's worker) still fails the step, as a generic remote failure.
    super(isErrorCode(wire.code) ? wire.code : 'remote-brick-failed', wire.message, { retryable: wire.retryable, planFixable: wire.planFixable ?? false });
  }
}

/** No worker could be reached, or none serves the brick right now. */
export class WorkerUnavailableError extends LegoEditError {
  constructor(message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super('worker-unavailable', message, { retryable: options.retryable ?? true, cause: options.cause });
  }
}

/** The worker refused our credentials; retrying with the same token cannot help. */
export class WorkerAuthError extends LegoEditError {
  constructor(message = 'The GPU worker refused the request: LEGO_EDIT_WORKER_TOKEN does not match the worker’s token.') {
    super('worker-auth', message);
  }

  override get userMessage(): string {
    return 'I cannot reach the computer that runs this edit because of a setup problem on my side. Please try again later.';
  }
}

/** A payload exceeded the configured cap. */
export class PayloadTooLargeError extends LegoEditError {
  constructor(readonly bytes: number, readonly limit: number) {
    super('payload-too-large', `The remote payload is ${bytes} bytes; the limit is ${limit} (LEGO_EDIT_REMOTE_MAX_BYTES).`);
  }
}

/** A payload's bytes do not match its declared sha256: corrupted in transit or in the blob store. */
export class PayloadIntegrityError extends LegoEditError {
  constructor(what: string) {
    super('payload-integrity', `Remote payload ${what} failed its sha256 check.`, { retryable: true });
  }
}

/** Malformed request or response (wrong types, missing ports, bad framing). */
export class WireFormatError extends LegoEditError {
  constructor(message: string) {
    super('wire-format', message);
  }
}

/** Redis (the queue) cannot be reached. */
export class QueueUnavailableError extends LegoEditError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('queue-unavailable', message, { retryable: true, cause: options.cause });
  }
}

/** A brick the far side does not serve. */
export class UnknownRemoteBrickError extends PlanFixableError {
  constructor(readonly brick: string, where: string) {
    super('unknown-brick', `${where} does not serve the brick ${brick}.`);
  }
}

export function toWireError(err: unknown): WireError {
  if (err instanceof LegoEditError) return { code: err.code, message: err.message, retryable: err.retryable, ...(err.planFixable ? { planFixable: true } : {}) };
  if (err instanceof Error && err.name === 'AbortError') return { code: 'cancelled', message: 'Cancelled.', retryable: false };
  // Unknown exceptions (driver hiccups, out of memory on a busy GPU) are often transient on another attempt.
  return { code: 'remote-brick-failed', message: errorMessage(err), retryable: true };
}

export function fromWireError(brick: string, wire: WireError): LegoEditError {
  if (wire.code === 'cancelled') return new CancelledError(wire.message);
  return new RemoteBrickError(brick, wire);
}

export function isWireError(v: unknown): v is WireError {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as WireError).code === 'string' &&
    typeof (v as WireError).message === 'string' &&
    typeof (v as WireError).retryable === 'boolean'
  );
}
