/** What the Executor reports about a single step: its failure, an empty mask, a brick's warning. */
import { BrickUnavailableError, LegoEditError, PlanFixableError, errorMessage } from './errors.ts';
import type { BrickKind } from './brick.ts';
import type { Source } from './workflow/types.ts';
import { refText } from './workflow/types.ts';

/** A step failed; names the step, brick, a summary of its inputs and the cause. */
export class StepFailedError extends LegoEditError {
  constructor(
    readonly step: number,
    readonly brick: string,
    readonly inputs: Readonly<Record<string, string>>,
    cause: unknown,
  ) {
    const summary = Object.entries(inputs)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    super(
      cause instanceof LegoEditError ? cause.code : 'step-failed',
      `Step ${step} (${brick}) failed: ${errorMessage(cause)}${summary ? ` [inputs: ${summary}]` : ''}`,
      { cause, retryable: cause instanceof LegoEditError && cause.retryable, planFixable: cause instanceof LegoEditError && cause.planFixable },
    );
  }

  override get userMessage(): string {
    const cause = this.cause;
    // A tool missing on this host is not about the step: its message says what the user can do.
    if (cause instanceof BrickUnavailableError) return cause.userMessage;
    return cause instanceof LegoEditError ? `Step ${this.step} (${this.brick}): ${cause.userMessage}` : this.message;
  }
}

/** The step about to use a mask, for saying what an empty one would do to it. */
export interface MaskUser {
  readonly step: number;
  readonly brick: string;
  readonly kind: BrickKind;
}

/**
 * A mask that a step would use is empty: a distinct outcome, so nothing edits
 * an empty region in silence. It names where the mask came from — the step
 * that produced it, or the user's `init[mask]`.
 */
export class EmptyMaskError extends PlanFixableError {
  private constructor(
    /** The empty mask: `stepN[mask]`, or `init[mask]` for the user's own. */
    readonly source: Source,
    /** The brick of the step that produced it; undefined for the user's mask. */
    readonly brick: string | undefined,
    message: string,
  ) {
    super('empty-mask', message);
  }

  /** The step whose output is empty; undefined when it is the user's own mask. */
  get step(): number | undefined {
    return this.source.kind === 'step' ? this.source.step : undefined;
  }

  /**
   * A predict brick segmented nothing. `prompt` is the raw text it looked for;
   * `consequence` says what that empties ("the edit would change nothing").
   */
  static foundNothing(step: number, brick: string, output: string, prompt: string | undefined, consequence: string): EmptyMaskError {
    const what = prompt ? ` for "${prompt}"` : '';
    return new EmptyMaskError({ kind: 'step', step, output }, brick, `Step ${step} (${brick}) found nothing${what}: its ${output} is empty, so ${consequence}.`);
  }

  /** A mask given to `user` is empty: from the user, or from an earlier step that is not a segmenter. */
  static givenEmpty(source: Source, producerBrick: string | undefined, user: MaskUser): EmptyMaskError {
    const origin = source.kind === 'init' ? `The mask you gave (${refText(source)}) is empty` : `Step ${source.step} (${producerBrick}) produced an empty mask (${refText(source)})`;
    const effect = user.kind === 'predict' ? 'would find nothing' : 'would change nothing';
    return new EmptyMaskError(source, producerBrick, `${origin}, so step ${user.step} (${user.brick}) ${effect}.`);
  }
}

/** Something a brick told the user about its result (a fallback stood in for the real thing); the run still succeeded. */
export class BrickWarning extends LegoEditError {
  constructor(
    readonly step: number,
    readonly brick: string,
    /** The brick's own words. */
    readonly detail: string,
  ) {
    super('brick-warning', `Step ${step} (${brick}): ${detail}`);
  }
}

/** Why a successful run's result may not be what the user meant. */
export type RunWarning = EmptyMaskError | BrickWarning;
