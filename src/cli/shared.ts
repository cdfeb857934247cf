/** What the CLI commands share: reading inputs, running a workflow, reporting the outcome. */
import { readFile } from 'node:fs/promises';
import { errorMessage } from '../engine/errors.ts';
import { CliError } from './errors.ts';
import type { RunInputs, RunOutcome } from '../engine/executor.ts';
import { decodeImage, decodeMask } from '../engine/image-io.ts';
import { parseWorkflow } from '../engine/workflow/parse.ts';
import type { Workflow } from '../engine/workflow/types.ts';
import type { Runtime } from '../runtime.ts';
import { writeResults } from './outputs.ts';
import { progressPrinter, timingTable } from './progress.ts';

export { CliError } from './errors.ts';

export async function readInput(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new CliError(`Cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
}

export async function loadWorkflow(path: string): Promise<Workflow> {
  return parseWorkflow((await readInput(path, 'workflow')).toString('utf8'));
}

/** Decodes the user's image and, when given, mask: once, for planning and running alike. */
/** The files a run is given: the image, and optionally a mask (`init[mask]`) and a reference photo (`init[reference]`). */
export interface InputPaths {
  readonly mask?: string | undefined;
  readonly reference?: string | undefined;
}

export async function readRunInputs(rt: Runtime, imagePath: string, paths: InputPaths = {}): Promise<RunInputs> {
  const image = await decodeImage(await readInput(imagePath, 'image'), rt.limits);
  const mask = paths.mask ? await decodeMask(await readInput(paths.mask, 'mask'), rt.limits) : undefined;
  const reference = paths.reference ? await decodeImage(await readInput(paths.reference, 'reference'), rt.limits) : undefined;
  return { image, ...(mask ? { mask } : {}), ...(reference ? { reference } : {}) };
}

/** Runs a workflow on image files, prints the timing table and writes the results. */
export async function runAndReport(rt: Runtime, wf: Workflow, imagePath: string, paths: InputPaths, out: string): Promise<void> {
  await runInputsAndReport(rt, wf, await readRunInputs(rt, imagePath, paths), out);
}

/** Runs a workflow on decoded inputs, prints the timing table and writes the results. */
export async function runInputsAndReport(rt: Runtime, wf: Workflow, inputs: RunInputs, out: string): Promise<void> {
  await reportOutcome(await runWithProgress(rt, wf, inputs), out);
}

/** Runs a workflow with a progress line per step (on a terminal), Ctrl-C to cancel, and prints the timing table. */
export async function runWithProgress(rt: Runtime, wf: Workflow, inputs: RunInputs): Promise<RunOutcome> {
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once('SIGINT', onSigint);
  let outcome: RunOutcome;
  try {
    outcome = await rt.executor.run(wf, inputs, { signal: controller.signal, onEvent: progressPrinter() });
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (outcome.trace.length) console.log(timingTable(outcome.trace, outcome.durationMs));
  return outcome;
}

/** Writes the results of a finished run, or throws its failure for main() to print. */
export async function reportOutcome(outcome: RunOutcome, out: string): Promise<void> {
  if (outcome.status === 'cancelled') throw new CliError('Cancelled.');
  if (outcome.status === 'failed') throw outcome.error;
  for (const w of outcome.warnings) console.error(`warning: ${w.message}`);
  const { files, texts } = await writeResults(outcome.results, out);
  for (const t of texts) console.log(`result: ${t}`);
  for (const f of files) console.log(`wrote ${f}`);
}
