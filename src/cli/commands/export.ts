import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('Write every planned turn as JSON lines (instruction, workflow, feedback that followed, outcome), e.g. to fine-tune a Builder')
    .option('-o, --out <file>', 'write to a file instead of standard output (written whole or not at all)')
    .action(async (opts: { out?: string }) => {
      const { openDatabase } = await import('../../sessions/database.ts');
      const { exportTurns } = await import('../../sessions/export.ts');
      const { checkTables } = await import('../../sessions/integrity.ts');
      const { StorageError } = await import('../../sessions/storage-errors.ts');
      const config = loadConfig();
      const database = await openDatabase({ dataDir: config.dataDir, ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}) });
      // A damaged table can read as a shorter one: half the history exported as if it were all of it is worse than none.
      // The embedded database checked its tables as it opened; PostgreSQL is checked here.
      const problems = !config.databaseUrl ? [] : await checkTables(database.db).catch(async (err: unknown) => {
        await database.close();
        throw err;
      });
      if (problems.length) {
        await database.close();
        throw new StorageError(
          'database-damaged',
          `Nothing exported: the database at ${database.location} is damaged (${problems.join('; ')}). Restore it from a backup, then export again.`,
        );
      }
      // To a temporary name beside the file, renamed once complete: a failed export leaves no partial file.
      const partial = opts.out ? join(dirname(opts.out), `.${basename(opts.out)}.${process.pid}.partial`) : undefined;
      const out: NodeJS.WritableStream = partial ? createWriteStream(partial) : process.stdout;
      let closed = false;
      let failed: Error | undefined;
      // `lego-edit export | head` closes the pipe early; that ends the export, it is not an error.
      out.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EPIPE') closed = true;
        else failed ??= err;
      });
      try {
        const n = await exportTurns(database.db, async (turn) => {
          if (failed) throw failed;
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
        if (failed) throw failed;
        if (opts.out && partial) {
          await new Promise<void>((resolve, reject) => {
            out.once('error', reject);
            out.end(() => resolve());
          });
          await rename(partial, opts.out);
          console.error(`wrote ${n} turns to ${opts.out}`);
        }
      } catch (err) {
        if (partial) {
          (out as NodeJS.WritableStream & { destroy?: () => void }).destroy?.();
          await rm(partial, { force: true });
        }
        throw err;
      } finally {
        await database.close();
      }
    });
}
