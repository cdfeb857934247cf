import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { createLogger } from '../../logger.ts';

interface WorkerOpts {
  listen?: string;
  queue?: boolean;
  bricks?: string;
  module?: string[];
  concurrency?: string;
  lockMs?: string;
  stalledMs?: string;
}

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('Serve bricks to bots: over HTTP (--listen), from the Redis brick queues (--queue), or both')
    .option('--listen <host:port>', 'serve the HTTP API here (needs LEGO_EDIT_WORKER_TOKEN); port 0 picks a free one')
    .option('--queue', 'consume brick jobs from the BullMQ queues on REDIS_URL')
    .option('--bricks <names>', 'comma-separated bricks to serve (default: every brick that works here)')
    .option('--module <file...>', 'also serve the bricks a module exports as `bricks`')
    .option('--concurrency <n>', 'queue jobs run at once per brick', '1')
    .option('--lock-ms <ms>', 'queue job lock; a dead worker’s job moves on after about this long (default LEGO_EDIT_QUEUE_LOCK_MS)')
    .option('--stalled-ms <ms>', 'how often to look for jobs of dead workers (default half the lock)')
    .action(async (opts: WorkerOpts) => {
      const config = loadConfig();
      const logger = createLogger(config.logLevel, 'service');
      const { startWorkerHost } = await import('../../remote/worker/worker-host.ts');
      const host = await startWorkerHost({
        config,
        logger,
        ...(opts.listen ? { listen: opts.listen } : {}),
        queue: Boolean(opts.queue),
        ...(opts.bricks ? { only: opts.bricks.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
        ...(opts.module ? { modules: opts.module } : {}),
        concurrency: Number(opts.concurrency ?? 1),
        ...(opts.lockMs ? { lockMs: Number(opts.lockMs) } : {}),
        ...(opts.stalledMs ? { stalledMs: Number(opts.stalledMs) } : {}),
      });
      for (const s of host.served) console.log(`serving ${s.name} v${s.version} via ${s.backend}`);
      if (host.httpUrl) console.log(`http ${host.httpUrl}`);
      if (host.queues.length) console.log(`queue ${config.queuePrefix} (${host.queues.length} queues)`);
      // One machine-readable line, last, for supervisors and tests.
      console.log(`ready ${JSON.stringify({ pid: process.pid, http: host.httpUrl ?? null, queue: host.queues.length > 0, bricks: host.served.map((s) => s.name) })}`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          resolve();
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
      // Running jobs finish (BullMQ waits for them); new ones go to other workers.
      await host.close();
    });
}
