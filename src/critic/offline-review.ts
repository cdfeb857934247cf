/** The offline checks as a judge: a verdict for the turn, and the problem to re-plan for when a check failed. */
import type { Workflow } from '../engine/workflow/types.ts';
import { CheckFailedError } from './errors.ts';
import { offlineChecksSliced } from './offline-checks.ts';
import type { CheckInput, Review } from './types.ts';

/** `input` is the run's check input (checkInputOf), made by the caller, who also hands it to the model critic; `started` is when making it began. */
export async function offlineReview(workflow: Workflow, input: CheckInput | undefined, attempt: number, started: number): Promise<Review> {
  if (!input) return { verdicts: [{ by: 'offline', verdict: 'unchecked', reason: 'the run made no picture to compare', attempt }] };
  // In slices: the event loop (other chats) runs between them.
  const findings = await offlineChecksSliced(input);
  const latencyMs = Math.round((performance.now() - started) * 10) / 10;
  if (!findings.length) return { verdicts: [{ by: 'offline', verdict: 'done', reason: 'the masks and the change look plausible', findings, latencyMs, attempt }] };
  // The strongest finding speaks for the turn; the others are kept with it.
  const worst = [...findings].sort((a, b) => b.score - a.score)[0]!;
  const node = workflow.nodes.find((n) => n.step === worst.step);
  const problem = new CheckFailedError(worst.detail, node ? { step: node.step, brick: node.brick } : undefined);
  return { verdicts: [{ by: 'offline', verdict: 'wrong', reason: worst.detail, findings, latencyMs, attempt }], problem };
}
