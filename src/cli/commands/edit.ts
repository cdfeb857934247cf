import type { Command } from 'commander';
import { serialiseWorkflow, summariseWorkflow } from '../../engine/workflow/serialise.ts';
import { runPipeline } from '../../pipeline/index.ts';
import { createRuntime } from '../../runtime.ts';
import { CliError, readRunInputs, reportOutcome, runWithProgress } from '../shared.ts';

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
      const request = {
        image: inputs.image,
        instruction,
        hasMask: inputs.mask !== undefined,
        hasReference: inputs.reference !== undefined,
        available: await rt.registry.available(),
      };
      const result = await runPipeline({
        builder: rt.builder,
        request,
        maxRepairs: rt.config.runRepairs,
        logger: rt.logger,
        run: (plan) => runWithProgress(rt, plan.workflow, inputs),
        onPlanned: (plan) => {
          const which = plan.builder === 'offline' ? 'offline' : `MLLM (${plan.builder})`;
          const corrections = (plan.attempts?.length ?? 1) - 1;
          console.log(`planned with the ${which} Builder${corrections > 0 ? ` after ${corrections} correction${corrections > 1 ? 's' : ''}` : ''}: ${summariseWorkflow(plan.workflow)}`);
          if (opts.showPlan) {
            if (plan.reasoning) console.log(`reasoning: ${plan.reasoning}`);
            console.log(serialiseWorkflow(plan.workflow));
          }
        },
        onRepairing: (error) => console.log(`${error.userMessage} Re-planning…`),
        review: (plan, outcome, attempt) => rt.critic.review({ request, plan, inputs, outcome, attempt }),
      });
      if (result.status === 'ran' && result.review?.note) console.log(result.review.note);
      if (result.status === 'plan-failed') throw result.error;
      if (result.status === 'rejected') throw result.error;
      if (result.status === 'cancelled') throw new CliError('Cancelled.');
      return reportOutcome(result.outcome, opts.out);
    });
}
