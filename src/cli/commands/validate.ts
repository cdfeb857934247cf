import type { Command } from 'commander';

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('Check a workflow file; prints only the problems (exit code 1 when there are any)')
    .argument('<workflow>')
    .option('--mask', 'the run will have a user mask (init[mask])')
    .action(async (workflowPath: string, opts: { mask?: boolean }) => {
      const { formatIssues, validateWorkflow } = await import('../../engine/workflow/validate.ts');
      const { createRuntime } = await import('../../runtime.ts');
      const { loadWorkflow } = await import('../shared.ts');
      const rt = createRuntime();
      const provided = new Set(['image', ...(opts.mask ? ['mask'] : [])]);
      const result = validateWorkflow(await loadWorkflow(workflowPath), rt.registry, { provided });
      if (!result.ok) {
        console.log(formatIssues(result.issues));
        process.exitCode = 1;
      }
    });
}
