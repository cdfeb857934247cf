import { PlanFixableError } from '../engine/errors.ts';

/**
 * A finished run that the critic judged wrong (an offline check failed, or the MLLM critic said
 * "wrong"): the pipeline sends it to the Builder's repair path once. Worded "Step N (BRICK) …" when
 * a step is to blame, which is how the offline repair tells which brick to plan without.
 */
export class CheckFailedError extends PlanFixableError {
  constructor(
    readonly reason: string,
    readonly blame?: { readonly step: number; readonly brick: string },
  ) {
    super('check-failed', blame ? `Step ${blame.step} (${blame.brick}) failed the check after the run: ${reason}` : `The result failed the check after the run: ${reason}`);
  }

  override get userMessage(): string {
    return `I checked the result: ${this.reason}.`;
  }
}
