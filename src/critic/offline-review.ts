/** The offline checks as a judge: a verdict for the turn, and the problem to re-plan for when a check failed. */
import type { BrickRegistry } from '../engine/registry.ts';
import { checkInputOf, type FinishedRun } from './check-input.ts';
import { CheckFailedError } from './errors.ts';
import { offlineChecks } from './offline-checks.ts';
import type { Review } from './types.ts';

export function offlineReview(run: FinishedRun, registry: BrickRegistry, attempt: number): Review {
  const started = performance.now();
  const input = checkInputOf(run, registry);
  if (!input) return { verdicts: [{ by: 'offline', verdict: 'unchecked', reason: 'the run made no picture to compare', attempt }] };
  const findings = offlineChecks(input);
  const latencyMs = Math.round((performance.now() - started) * 10) / 10;
  if (!findings.length) return { verdicts: [{ by: 'offline', verdict: 'done', reason: 'the masks and the change look plausible', findings, latencyMs, attempt }] };
  // The strongest finding speaks for the turn; the others are kept with it.
  const worst = [...findings].sort((a, b) => b.score - a.score)[0]!;
  const node = run.workflow.nodes.find((n) => n.step === worst.step);
  const problem = new CheckFailedError(worst.detail, node ? { step: node.step, brick: node.brick } : undefined);
  return { verdicts: [{ by: 'offline', verdict: 'wrong', reason: worst.detail, findings, latencyMs, attempt }], problem };
}
