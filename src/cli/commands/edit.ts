import type { Command } from 'commander';
import { serialiseWorkflow, summariseWorkflow } from '../../engine/workflow/serialise.ts';
import { createRuntime } from '../../runtime.ts';
import { readRunInputs, runInputsAndReport } from '../shared.ts';

export function registerEdit(program: Command): void {
  program
    .command('edit')
    .description('Edit an image from a plain-English instruction (the main job)')
    .argument('<image>', 'input image (JPEG, PNG, WebP…)')
    .argument('<instruction>', 'what to change, e.g. "make it black and white"')
    .requiredOption('-o, --out <file>', 'where to write the result (more results get -2, -3… suffixes)')
    .option('--mask <file>', 'a mask of the region to edit (white = edit)')
    .option('--show-plan', 'print the workflow before running it')
    .action(async (imagePath: string, instruction: string, opts: { out: string; mask?: string; showPlan?: boolean }) => {
      const rt = createRuntime();
      const inputs = await readRunInputs(rt, imagePath, opts.mask);
      const plan = await rt.builder.plan({ image: inputs.image, instruction, hasMask: inputs.mask !== undefined, available: await rt.registry.available() });
      const which = plan.builder === 'offline' ? 'offline' : `MLLM (${plan.builder})`;
      const repairs = (plan.attempts?.length ?? 1) - 1;
      console.log(`planned with the ${which} Builder${repairs > 0 ? ` after ${repairs} correction${repairs > 1 ? 's' : ''}` : ''}: ${summariseWorkflow(plan.workflow)}`);
      if (opts.showPlan) {
        if (plan.reasoning) console.log(`reasoning: ${plan.reasoning}`);
        console.log(serialiseWorkflow(plan.workflow));
      }
      await runInputsAndReport(rt, plan.workflow, inputs, opts.out);
    });
}
