/** The Builder turns an image and an instruction (plus conversation context) into a Lego-Edit workflow. */
import { type ErrorCode, LegoEditError } from '../engine/errors.ts';
import type { ImageData } from '../engine/values.ts';
import type { StepTrace } from '../engine/executor.ts';
import type { Workflow } from '../engine/workflow/types.ts';

/** A standing constraint from user feedback, e.g. "don't use RES before INPAINT". */
export interface Rule {
  /** forbid: never use `brick`; forbid-before: `brick`'s output must not feed `before` (directly or transitively); require/prefer: use `brick`. */
  readonly kind: 'forbid' | 'forbid-before' | 'require' | 'prefer';
  readonly brick: string;
  readonly before?: string;
  /** What the user wrote. */
  readonly text: string;
  /** For `require`: the job it applies to ("segmentation"); the workflow then may not do that job with another brick. */
  readonly purpose?: string;
  /** The bricks `brick` stood for when parsed (a family such as INPAINT names several); checks re-resolve against the registry. */
  readonly bricks?: readonly string[];
  /** Likewise for `before`. */
  readonly beforeBricks?: readonly string[];
}

/** An earlier turn of the conversation, as context for planning. */
export interface PriorTurn {
  readonly instruction: string;
  readonly workflow?: Workflow;
  readonly status: 'done' | 'failed' | 'cancelled' | 'interrupted';
  readonly trace?: readonly StepTrace[];
  readonly error?: string;
  /** The failure's `LegoEditError` code ("empty-mask", "needs-gpu-host" …) when the caller has it; Builders otherwise read `error` and `trace`. */
  readonly errorCode?: ErrorCode;
}

/** Tokens one model call, or a whole plan, consumed. */
export interface TokenUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/** One call to the planner and what became of its workflow. */
export interface PlanAttempt {
  readonly raw?: string;
  readonly workflow?: Workflow;
  /** Validation or rule problems sent back for self-repair; empty when accepted. */
  readonly problems: readonly string[];
  readonly latencyMs?: number;
  /** This call's tokens, as the endpoint reported them; `Plan.usage` is the sum over the attempts. */
  readonly usage?: TokenUsage;
}

export interface PlanRequest {
  readonly image: ImageData;
  readonly instruction: string;
  /** Whether the user supplied a mask (`init[mask]` may be used). */
  readonly hasMask?: boolean;
  /** Whether the user supplied a second photo (`init[reference]` may be used), e.g. of something to paste in. */
  readonly hasReference?: boolean;
  /** Bricks that can run right now; plans use only these where they can. */
  readonly available: ReadonlySet<string>;
  readonly signal?: AbortSignal;
  /** Earlier turns of this conversation, oldest first. */
  readonly history?: readonly PriorTurn[];
  /** Feedback on this earlier turn: plan a revised workflow for the same source image. */
  readonly revise?: { readonly turn: PriorTurn; readonly feedback: string };
  /** Standing rules every accepted workflow must satisfy. */
  readonly rules?: readonly Rule[];
}

export interface Plan {
  readonly workflow: Workflow;
  /** The Builder's reasoning trace (`<think>` of an MLLM, or the offline planner's explanation). */
  readonly reasoning?: string;
  /** Which Builder made it: "offline" or the model name. */
  readonly builder: string;
  readonly attempts?: readonly PlanAttempt[];
  /** Tokens over all attempts of this plan; each attempt has its own in `attempts[i].usage`. */
  readonly usage?: TokenUsage;
  readonly latencyMs?: number;
  /** The workflow is the one already run, to be run again without reusing cached step outputs ("try again"). */
  readonly rerun?: boolean;
}

export interface Builder {
  readonly name: string;
  plan(request: PlanRequest): Promise<Plan>;
  /**
   * A corrected plan after `failed` (its workflow, trace and error) failed at run time in a way
   * the plan can fix (see `isPlanFixable`). Callers stop after the configured number of repairs.
   * Optional: a Builder without it leaves such failures to the user.
   *
   * The contract, the same for every caller (session manager, CLI, a script):
   * - `request` is the request the failed plan was made for (same image, instruction, rules,
   *   `available`); a `revise` in it is ignored, the failed workflow is what gets repaired.
   * - `failed` has `status: 'failed'`, the `workflow` that ran, and `error` (the run's error
   *   message), ideally with the executor's `trace` and the error's code in `errorCode`.
   * - It is stateless: each call derives the next thing to try from `failed` alone, so calling it
   *   again with the repaired plan's own failure walks on through the alternatives.
   * - It returns a plan whose workflow differs from `failed.workflow`, validates and keeps the
   *   rules, with `reasoning` saying what changed and why; or it throws `PlanRefusedError`
   *   saying why there is nothing else to try (the caller then reports the run's own error).
   */
  repairAfterFailure?(request: PlanRequest, failed: PriorTurn): Promise<Plan>;
}

/** Run-time failures a different plan can avoid: a property of the error's class (see PlanFixableError). */
export { isPlanFixable } from '../engine/errors.ts';

/** The Builder understood the request but cannot plan it; the message says why and what it can do instead. */
export class PlanRefusedError extends LegoEditError {
  constructor(
    message: string,
    readonly suggestions: readonly string[] = [],
  ) {
    super('plan-refused', suggestions.length ? `${message} I can, for example: ${suggestions.join('; ')}.` : message);
  }
}
