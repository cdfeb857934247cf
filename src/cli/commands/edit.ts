import type { Command } from 'commander';
import type { Runtime } from '../../runtime.ts';
import { CliError } from '../errors.ts';

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
    .action(async (imagePath: string, instruction: string, opts: EditOptions) => {
      const { createRuntime } = await import('../../runtime.ts');
      const rt = createRuntime({ oneShot: true });
      // With threads configured: most edits find an object first, and its models load in a thread while the photo is read and the edit planned.
      rt.pool?.warm().catch(() => undefined);
      try {
        await edit(rt, imagePath, instruction, opts);
      } finally {
        await rt.pool?.close();
      }
    });
}

interface EditOptions {
  out: string;
  mask?: string;
  reference?: string;
  showPlan?: boolean;
}

async function edit(rt: Runtime, imagePath: string, instruction: string, opts: EditOptions): Promise<void> {
  const { serialiseWorkflow, summariseWorkflow } = await import('../../engine/workflow/serialise.ts');
  const { runPipeline } = await import('../../pipeline/index.ts');
  const { readRunInputs, reportOutcome, runWithProgress } = await import('../shared.ts');
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
}
