import { createWriteStream } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('Write every planned turn as JSON lines (instruction, workflow, feedback that followed, outcome), e.g. to fine-tune a Builder')
    .option('-o, --out <file>', 'write to a file instead of standard output')
    .action(async (opts: { out?: string }) => {
      const { openDatabase } = await import('../../sessions/database.ts');
      const { exportTurns } = await import('../../sessions/export.ts');
      const config = loadConfig();
      const database = await openDatabase({ dataDir: config.dataDir, ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}) });
      const out: NodeJS.WritableStream = opts.out ? createWriteStream(opts.out) : process.stdout;
      let closed = false;
      // `lego-edit export | head` closes the pipe early; that ends the export, it is not an error.
      out.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EPIPE') throw err;
        closed = true;
      });
      try {
        const n = await exportTurns(database.db, async (turn) => {
          if (closed) return;
          if (!out.write(`${JSON.stringify(turn)}\n`)) {
            await new Promise<void>((resolve) => {
              const done = (): void => {
                out.off('drain', done);
                out.off('error', done);
                resolve();
              };
              out.once('drain', done);
              out.once('error', done);
            });
          }
        });
        if (opts.out) {
          await new Promise<void>((resolve, reject) => {
            out.once('error', reject);
            out.end(() => resolve());
          });
          console.error(`wrote ${n} turns to ${opts.out}`);
        }
      } finally {
        await database.close();
      }
    });
}
