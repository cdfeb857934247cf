/**
 * The worker-thread pool CPU-heavy bricks run in (piscina, Node's standard
 * pool: a task queue, abort signals that terminate a busy thread, replacement
 * of threads that die, transfer lists). The event loop stays free for chats,
 * buttons and uploads while TF.js, OpenCV and the pixel loops run, and a
 * second core does work instead of idling.
 *
 * Each thread builds its own copy of the built-in bricks and loads their
 * models on first use (or on `warm()`), once for the thread's life.
 */
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { Piscina } from 'piscina';
import type { Logger } from 'pino';
import { silentLogger } from '../../logger.ts';
import type { AnyBrick, BrickContext } from '../brick.ts';
import { CancelledError, errorMessage } from '../errors.ts';
import type { Value } from '../values.ts';
import type { PoolTask, PoolWorkerData, TaskReply, WarmReply, WorkerMessage } from './protocol.ts';
import { BrickWorkerCrashedError, restoreError } from './worker-errors.ts';

export interface BrickPoolOptions {
  /** The CPU-heavy bricks the pool runs, as the main thread declares them; the threads build their own twins by name. */
  readonly bricks: readonly AnyBrick[];
  /** Threads (default: the machine's cores). */
  readonly threads?: number;
  /** User ONNX models, as the main thread's bricks see them. */
  readonly modelsDir?: string;
  /** Modules whose exported `bricks` the threads serve too (their CPU-heavy ones are listed in `bricks`). */
  readonly modules?: readonly string[];
  readonly logger?: Logger;
}

/** Where a thread starts: the compiled module when this file is compiled, else the TypeScript one through tsx. */
function workerEntry(): string {
  const here = import.meta.url;
  return (here.endsWith('.ts') ? new URL('./tsx-worker.mjs', here) : new URL('./brick-worker.js', here)).href;
}

export class BrickPool {
  readonly threads: number;
  readonly #served: ReadonlySet<AnyBrick>;
  readonly #data: PoolWorkerData;
  readonly #logger: Logger;
  #piscina: Piscina | undefined;
  #closed = false;

  constructor(options: BrickPoolOptions) {
    this.threads = Math.max(1, options.threads ?? availableParallelism());
    this.#served = new Set(options.bricks.filter((b) => b.cpuHeavy));
    this.#logger = options.logger ?? silentLogger;
    this.#data = {
      ...(options.modelsDir ? { modelsDir: options.modelsDir } : {}),
      logLevel: this.#logger.level,
      modules: (options.modules ?? []).map((m) => resolve(m)),
    };
  }

  /** Whether `brick` runs here: a CPU-heavy brick given to the pool (a remote stand-in under the same name is not). */
  serves(brick: AnyBrick): boolean {
    return !this.#closed && this.#served.has(brick);
  }

  /** Threads start on first use, so a command that runs no brick (--help, bricks, export) starts none. */
  #pool(): Piscina {
    if (this.#piscina) return this.#piscina;
    const pool = new Piscina({
      filename: workerEntry(),
      minThreads: this.threads,
      maxThreads: this.threads,
      concurrentTasksPerWorker: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      // Threads wait for tasks on their event loop, so timers and the exit after a wasm abort run between tasks.
      atomics: 'disabled',
      workerData: this.#data,
    });
    // A thread that dies between tasks is replaced by piscina; without a listener the 'error' event would end the process.
    pool.on('error', (err: unknown) => this.#logger.warn({ err }, 'a brick pool thread stopped between tasks; a fresh one replaces it'));
    this.#piscina = pool;
    return pool;
  }

  /**
   * Runs `brick` in a thread. The context's signal (cancellation, the step's
   * timeout) terminates the thread running it, so a brick stuck in wasm stops
   * at once; piscina starts a fresh thread in its place. Its warnings reach
   * `ctx.warn` and its progress `ctx.progress`, as if it ran here. Outputs named
   * in `leave` (nothing reads them) are not sent back.
   */
  run(brick: AnyBrick, inputs: Record<string, Value | null>, ctx: BrickContext, options: { readonly leave?: readonly string[] } = {}): Promise<Record<string, Value>> {
    return this.#run(brick, inputs, ctx, options.leave ?? [], true);
  }

  async #run(brick: AnyBrick, inputs: Record<string, Value | null>, ctx: BrickContext, leave: readonly string[], mayRetry: boolean): Promise<Record<string, Value>> {
    if (ctx.signal.aborted) throw new CancelledError();
    const { port1, port2 } = new MessageChannel();
    let started = false;
    const onMessage = (m: WorkerMessage): void => {
      if (m.type === 'started') {
        started = true;
        return;
      }
      const { type: _type, ...progress } = m;
      ctx.progress(progress);
    };
    // The reply comes on another channel and can overtake the last messages: take what is queued first.
    const drain = (): void => {
      for (let m = receiveMessageOnPort(port1); m; m = receiveMessageOnPort(port1)) onMessage(m.message as WorkerMessage);
    };
    port1.on('message', onMessage);
    port1.unref();
    const task: PoolTask = { type: 'run', brick: brick.name, inputs, port: port2, resample: ctx.resample === true, ...(leave.length ? { leave } : {}) };
    let reply: TaskReply;
    try {
      reply = (await this.#pool().run(task, { signal: ctx.signal, transferList: [port2] })) as TaskReply;
    } catch (err) {
      if (ctx.signal.aborted) throw new CancelledError();
      drain();
      // The thread ended before it began this brick (it was on its way out after a WebAssembly abort): nothing ran, so another thread may.
      if (!started && mayRetry) return this.#run(brick, inputs, ctx, leave, false);
      throw new BrickWorkerCrashedError(brick.name, errorMessage(err), { cause: err });
    } finally {
      drain();
      port1.close();
    }
    if (!reply.ok) throw restoreError(brick.name, reply.error);
    for (const w of reply.warnings) ctx.warn?.(w);
    const outputs: Record<string, Value> = {};
    for (const [k, v] of Object.entries(reply.outputs)) if (v !== undefined && v !== null) outputs[k] = v;
    return outputs;
  }

  /** Loads the common models in every thread, in the background of a connected bot; resolves with each thread's memory. */
  async warm(): Promise<WarmReply[]> {
    const pool = this.#pool();
    try {
      return (await Promise.all(Array.from({ length: this.threads }, () => pool.run({ type: 'warm' } satisfies PoolTask)))) as WarmReply[];
    } catch (err) {
      // Closing the pool (the user quit before the models finished loading) ends the warm-up; that is no failure.
      if (this.#closed) return [];
      throw err;
    }
  }

  /** Thread ids now running, for tests and the bench. */
  threadIds(): number[] {
    return this.#piscina ? this.#piscina.threads.map((t) => t.threadId) : [];
  }

  async close(): Promise<void> {
    this.#closed = true;
    const pool = this.#piscina;
    this.#piscina = undefined;
    await pool?.destroy();
  }
}
