/**
 * One thread of the brick pool (piscina runs this module's default export per
 * task). The thread builds the built-in bricks once, from the same environment
 * as the main thread, and keeps them: a brick's models load on its first call
 * in this thread and stay loaded for the thread's life.
 */
import { setPriority } from 'node:os';
import { pathToFileURL } from 'node:url';
import { threadId } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol, workerData } from 'piscina';
import type { Logger } from 'pino';
import { builtinBricks } from '../../../bricks/index.ts';
import { warmModels } from '../../../bricks/models/warm.ts';
import { createLogger } from '../../logger.ts';
import type { AnyBrick } from '../brick.ts';
import type { Value } from '../values.ts';
import { type PoolTask, type PoolWorkerData, type TaskReply, type WorkerMessage, outputTransfers } from './protocol.ts';
import { serialiseError } from './worker-errors.ts';

const data = workerData as PoolWorkerData;

/**
 * How much lower than the main thread these threads run (a Unix nice value). With every core busy on bricks the
 * kernel shared each core evenly, so the event loop waited its turn behind them and every chat's reply with it;
 * lowered, the threads still get every core the main thread leaves idle. Linux keeps a nice value per thread;
 * elsewhere it would lower the whole process, so there the threads are left as they are.
 */
const NICENESS = 10;
if (process.platform === 'linux') {
  try {
    setPriority(NICENESS);
  } catch {
    // Only a sandbox that forbids setpriority refuses this; the threads then run as before.
  }
}
let bricks: Promise<Map<string, AnyBrick>> | undefined;
let logger: Logger | undefined;
/** Set by a WebAssembly abort: the thread is about to exit and begins nothing more. */
let poisoned = false;

function threadLogger(): Logger {
  logger ??= createLogger(data.logLevel);
  return logger;
}

async function loadBricks(): Promise<Map<string, AnyBrick>> {
  const list = builtinBricks({ ...(data.modelsDir ? { modelsDir: data.modelsDir } : {}), logger: threadLogger() });
  for (const path of data.modules) {
    const mod = (await import(pathToFileURL(path).href)) as { bricks?: AnyBrick[] };
    list.push(...(mod.bricks ?? []));
  }
  return new Map(list.map((b) => [b.name, b]));
}

async function runBrick(task: Extract<PoolTask, { type: 'run' }>): Promise<TaskReply> {
  const send = (m: WorkerMessage): void => task.port.postMessage(m);
  // A task that reaches this thread between its abort and its exit never starts: the pool sees no 'started' and gives it to another thread.
  if (poisoned) return new Promise<never>(() => {});
  send({ type: 'started' });
  try {
    bricks ??= loadBricks();
    const brick = (await bricks).get(task.brick);
    if (!brick) throw new Error(`the pool's threads have no brick named ${task.brick}`);
    // Cancellation stops this thread from outside (the pool terminates it), so this signal only has to exist.
    const signal = new AbortController().signal;
    const warnings: string[] = [];
    const outputs = (await brick.run(task.inputs as never, {
      signal,
      logger: threadLogger().child({ brick: brick.name, thread: threadId }),
      progress: (p) => send({ type: 'progress', ...p }),
      // Warnings travel with the reply: a message on the port could arrive after it.
      warn: (message) => void warnings.push(message),
      ...(task.resample ? { resample: true } : {}),
    })) as Record<string, Value | null | undefined>;
    const leave = new Set(task.leave);
    return { ok: true, outputs: leave.size ? Object.fromEntries(Object.entries(outputs).filter(([name]) => !leave.has(name))) : outputs, warnings };
  } catch (err) {
    const error = serialiseError(err);
    // A WebAssembly abort leaves the module's memory in an unknown state: reply, then let a fresh thread take over.
    if (error.poisoned) {
      poisoned = true;
      setImmediate(() => process.exit(1));
    }
    return { ok: false, error };
  } finally {
    task.port.close();
  }
}

/** The task entry point: run a brick, or load the models ahead of the first edit. */
export default async function handle(task: PoolTask): Promise<unknown> {
  if (task.type === 'warm') {
    await warmModels();
    const { heapUsed, external } = process.memoryUsage();
    return { ok: true, heapUsed, external };
  }
  const reply = await runBrick(task);
  if (!reply.ok) return reply;
  // Output pixels move to the main thread without a copy.
  const transfers = outputTransfers(reply.outputs);
  if (transfers.length === 0) return reply;
  return move({
    get [transferableSymbol]() {
      return transfers;
    },
    get [valueSymbol]() {
      return reply;
    },
  });
}
