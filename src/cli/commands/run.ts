import type { Command } from 'commander';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('Run a Lego-Edit workflow JSON file')
    .argument('<workflow>', 'workflow JSON (Builder output; code fences and <think> traces are fine)')
    .requiredOption('--image <file>', 'the input image, init[image]')
    .option('--mask <file>', 'the input mask, init[mask]')
    .option('--reference <file>', 'a second photo, init[reference]')
    .requiredOption('-o, --out <file>', 'where to write the result')
    .action(async (workflowPath: string, opts: { image: string; mask?: string; reference?: string; out: string }) => {
      const { createRuntime } = await import('../../runtime.ts');
      const { loadWorkflow, runAndReport } = await import('../shared.ts');
      const rt = createRuntime({ oneShot: true });
      try {
        await runAndReport(rt, await loadWorkflow(workflowPath), opts.image, opts, opts.out);
      } finally {
        await rt.pool?.close();
      }
    });
}
