/**
 * The critic: judges a finished run before it is sent. The offline checks
 * always run (src/critic/offline-checks.ts); the MLLM critic runs after them
 * when one is configured (CRITIC_MODEL), and only when they passed: a result
 * the offline checks already found wrong needs no model to say so.
 */
import type { PlanRequest, Plan } from '../builder/builder.ts';
import type { RunOutcome, RunInputs } from '../engine/executor.ts';
import type { BrickRegistry } from '../engine/registry.ts';
import type { MaskData } from '../engine/values.ts';
import { checkInputOf } from './check-input.ts';
import { offlineReview } from './offline-review.ts';
import type { Review } from './types.ts';

/** What a judge sees of one run. */
export interface RunUnderReview {
  readonly request: PlanRequest;
  readonly plan: Plan;
  readonly inputs: RunInputs;
  readonly outcome: Extract<RunOutcome, { status: 'ok' }>;
  /** 0 for the first run of the request, 1 for the one re-planned after a failed check. */
  readonly attempt: number;
}

/** A model that judges a result (src/critic/mllm-critic.ts); never throws, says "unchecked" instead. */
export interface ModelCritic {
  /** `region`: where the plan meant to edit, for the overlay. */
  review(run: RunUnderReview, region?: MaskData): Promise<Review>;
}

export class Critic {
  readonly #registry: BrickRegistry;
  readonly #model: ModelCritic | undefined;

  constructor(registry: BrickRegistry, model?: ModelCritic) {
    this.#registry = registry;
    this.#model = model;
  }

  async review(run: RunUnderReview): Promise<Review> {
    const { outcome, plan, inputs } = run;
    const finished = { workflow: plan.workflow, before: inputs.image, ...(inputs.mask ? { userMask: inputs.mask } : {}), results: outcome.results, outputs: outcome.outputs ?? new Map() };
    const started = performance.now();
    const input = checkInputOf(finished, this.#registry);
    const offline = await offlineReview(plan.workflow, input, run.attempt, started);
    if (offline.problem || !this.#model) return offline;
    const judged = await this.#model.review(run, input?.editMask);
    return { verdicts: [...offline.verdicts, ...judged.verdicts], ...(judged.problem ? { problem: judged.problem } : {}) };
  }
}
