import type { Command } from 'commander';
import { serialiseWorkflow, summariseWorkflow } from '../../engine/workflow/serialise.ts';
import { createRuntime } from '../../runtime.ts';
import { isPlanFixable, type PlanRequest } from '../../builder/builder.ts';
import type { RunOutcome } from '../../engine/executor.ts';
import { readRunInputs, reportOutcome, runWithProgress } from '../shared.ts';

export function registerEdit(program: Command): void {
  program
    .command('edit')
    .description('Edit an image from a plain-English instruction (the main job)')
    .argument('<image>', 'input image (JPEG, PNG, WebP…)')
    .argument('<instruction>', 'what to change, e.g. "make it black and white"')
    .requiredOption('-o, --out <file>', 'where to write the result (more results get -2, -3… suffixes)')
    .option('--mask <file>', 'a mask of the region to edit (white = edit)')
    .option('--reference <file>', 'a second photo, e.g. of something to paste in ("add this next to the dog")')
    .option('--show-plan', 'print the workflow before running it')
    .action(async (imagePath: string, instruction: string, opts: { out: string; mask?: string; reference?: string; showPlan?: boolean }) => {
      const rt = createRuntime();
      const inputs = await readRunInputs(rt, imagePath, opts);
      const request: PlanRequest = {
        image: inputs.image,
        instruction,
        hasMask: inputs.mask !== undefined,
        hasReference: inputs.reference !== undefined,
        available: await rt.registry.available(),
      };
      let plan = await rt.builder.plan(request);
      for (let repairs = 0; ; repairs++) {
        const which = plan.builder === 'offline' ? 'offline' : `MLLM (${plan.builder})`;
        const corrections = (plan.attempts?.length ?? 1) - 1;
        console.log(`planned with the ${which} Builder${corrections > 0 ? ` after ${corrections} correction${corrections > 1 ? 's' : ''}` : ''}: ${summariseWorkflow(plan.workflow)}`);
        if (opts.showPlan) {
          if (plan.reasoning) console.log(`reasoning: ${plan.reasoning}`);
          console.log(serialiseWorkflow(plan.workflow));
        }
        const outcome = await runWithProgress(rt, plan.workflow, inputs);
        const fixable = outcome.status === 'failed' && isPlanFixable(outcome.error) && rt.builder.repairAfterFailure && repairs < rt.config.builderMaxRepairs;
        if (!fixable) return reportOutcome(outcome, opts.out);
        const error = (outcome as Extract<RunOutcome, { status: 'failed' }>).error;
        console.log(`${error.userMessage} Re-planning…`);
        const failed = { instruction, workflow: plan.workflow, status: 'failed' as const, trace: outcome.trace, error: error.message, errorCode: error.code };
        try {
          plan = await rt.builder.repairAfterFailure!(request, failed);
        } catch {
          // Nothing else to try: the run's own error says more than the refusal to re-plan.
          return reportOutcome(outcome, opts.out);
        }
      }
    });
}
