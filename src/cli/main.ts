/**
 * The `lego-edit` command line: one file per command under commands/. A command
 * file imports what its action needs inside the action, so `--help` and every
 * other command load only commander, the config table and their own modules.
 */
import { Command } from 'commander';
import { configHelp, defaultDataDir } from '../config.ts';
import { LegoEditError } from '../engine/errors.ts';
import { storageFailure } from '../sessions/storage-errors.ts';
import { registerBricks } from './commands/bricks.ts';
import { registerChat } from './commands/chat.ts';
import { registerEdit } from './commands/edit.ts';
import { registerExport } from './commands/export.ts';
import { registerRun } from './commands/run.ts';
import { registerServe } from './commands/serve.ts';
import { registerValidate } from './commands/validate.ts';
import { registerWorker } from './commands/worker.ts';
import { CliError } from './errors.ts';

const COMMANDS: ReadonlyArray<(program: Command) => void> = [registerEdit, registerRun, registerValidate, registerBricks, registerWorker, registerChat, registerExport, registerServe];

export function buildProgram(): Command {
  const program = new Command('lego-edit')
    .description('Instruction-based image editing: plan an edit as a graph of bricks, then run it.')
    .showHelpAfterError()
    .addHelpText(
      'after',
      `\nConfiguration (environment variables, or the same keys in $LEGO_EDIT_CONFIG or <data dir>/config.yaml):\n${configHelp()}\n\nData directory: ${process.env.LEGO_EDIT_DATA_DIR || defaultDataDir()}`,
    );
  for (const register of COMMANDS) register(program);
  return program;
}

export async function main(argv = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (raw) {
    // A full disk or damaged database met anywhere is said in one sentence, not as a stack.
    const err = raw instanceof CliError ? raw : storageFailure(raw);
    if (err) {
      console.error(`error: ${err instanceof LegoEditError ? err.userMessage : err.message}`);
      process.exitCode = err instanceof LegoEditError && err.code === 'plan-refused' ? 3 : 1;
      return;
    }
    throw raw;
  }
}
