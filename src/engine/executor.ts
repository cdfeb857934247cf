/**
 * Runs a validated workflow as a DAG: each step starts as soon as the steps it
 * references have finished, up to a concurrency limit. Step outputs are cached
 * by a content key (brick, version, literals, upstream keys), as ComfyUI does,
 * so a revised workflow recomputes only the steps downstream of what changed.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { silentLogger } from '../logger.ts';
import { portOf, type AnyBrick } from './brick.ts';
import { checkedOutputs } from './brick-outputs.ts';
import { OutputCache, type CachedStep, type StepOutputs } from './cache.ts';
import { BrickFailedError, CancelledError, LegoEditError, MissingOutputError, StepTimeoutError } from './errors.ts';
import type { ExecutorEvent, ExecutorEventListener } from './events.ts';
import type { BrickPool } from './pool/brick-pool.ts';
import { hashValueOffThread } from './image-io.ts';
import type { BrickRegistry } from './registry.ts';
import { runBrickWhereServed, withDeadline } from './run-brick.ts';
import { BrickWarning, EmptyMaskError, StepFailedError, type RunWarning } from './step-errors.ts';
import type { ImageData, MaskData, Value } from './values.ts';
import { describeValue, isEmptyMask, isMask } from './values.ts';
import type { Source, Workflow, WorkflowNode } from './workflow/types.ts';
import { refText } from './workflow/types.ts';
import { WorkflowValidationError, providedInputs, validateWorkflow } from './workflow/validate.ts';

export { BrickWarning, EmptyMaskError, StepFailedError, type RunWarning } from './step-errors.ts';

export interface ExecutorOptions {
  /** Steps running at once (default: available cores). */
  readonly concurrency?: number;
  /** Longest a single step may run (default 5 minutes). */
  readonly stepTimeoutMs?: number;
  /** Cache bound in bytes (default 512 MiB); 0 disables caching. */
  readonly cacheBytes?: number;
  /** An empty mask that a step would use stops the run (default) or is only reported. */
  readonly emptyMask?: 'fail' | 'warn';
  readonly logger?: Logger;
  /** Worker threads for CPU-heavy bricks (`cpuHeavy`); without one every brick runs on the main thread. */
  readonly pool?: BrickPool;
}

export interface RunInputs {
  readonly image: ImageData;
  readonly mask?: MaskData;
  /** A second photo from the user (`init[reference]`). */
  readonly reference?: ImageData;
}

export interface RunOptions {
  readonly signal?: AbortSignal;
  readonly onEvent?: ExecutorEventListener;
  /**
   * false: run every step even when its outputs are cached (a user's "try again" should draw a new
   * sample from bricks that have randomness). Fresh outputs still replace the cached ones.
   */
  readonly reuseCache?: boolean;
}

export interface StepTrace {
  readonly step: number;
  readonly brick: string;
  status: 'pending' | 'ok' | 'failed' | 'cancelled' | 'unused';
  cache?: 'hit' | 'miss';
  /** Order in which steps started and finished, timing-free evidence of overlap. */
  startSeq?: number;
  finishSeq?: number;
  durationMs?: number;
  /** Each input, described: `image: step1[image] (Image 512x384)`. */
  inputs: Record<string, string>;
  emptyMasks: string[];
  error?: string;
}

export type RunOutcome =
  | {
      readonly status: 'ok';
      readonly results: Value[];
      readonly trace: StepTrace[];
      readonly durationMs: number;
      readonly warnings: RunWarning[];
      /** Each step's outputs, by step number: what the offline checks (src/critic) read masks from. */
      readonly outputs?: ReadonlyMap<number, StepOutputs>;
    }
  | { readonly status: 'failed'; readonly error: LegoEditError; readonly trace: StepTrace[]; readonly durationMs: number }
  | { readonly status: 'cancelled'; readonly trace: StepTrace[]; readonly durationMs: number };

function stepDeps(node: WorkflowNode): number[] {
  const deps = new Set<number>();
  for (const b of Object.values(node.inputs)) if (b.kind === 'ref' && b.source.kind === 'step') deps.add(b.source.step);
  return [...deps];
}

export class Executor {
  readonly cache: OutputCache;
  readonly #registry: BrickRegistry;
  readonly #concurrency: number;
  readonly #stepTimeoutMs: number;
  readonly #emptyMask: 'fail' | 'warn';
  readonly #logger: Logger;
  readonly #pool: BrickPool | undefined;

  constructor(registry: BrickRegistry, options: ExecutorOptions = {}) {
    this.#pool = options.pool;
    this.#registry = registry;
    this.#concurrency = Math.max(1, options.concurrency ?? availableParallelism());
    this.#stepTimeoutMs = options.stepTimeoutMs ?? 5 * 60_000;
    this.#emptyMask = options.emptyMask ?? 'fail';
    this.#logger = options.logger ?? silentLogger;
    this.cache = new OutputCache(options.cacheBytes ?? 512 * 1024 * 1024);
    if (options.cacheBytes === 0) this.cache = new OutputCache(1);
  }

  /** Validates, then runs. Never throws for workflow or brick problems: the outcome says what happened. */
  async run(workflow: Workflow, inputs: RunInputs, options: RunOptions = {}): Promise<RunOutcome> {
    const started = performance.now();
    const emit = (e: ExecutorEvent): void => {
      try {
        options.onEvent?.(e);
      } catch (err) {
        this.#logger.warn({ err }, 'executor event listener threw');
      }
    };
    const finish = <O extends RunOutcome>(outcome: O): O => {
      emit({ type: 'done', status: outcome.status, durationMs: outcome.durationMs });
      return outcome;
    };
    const elapsed = (): number => performance.now() - started;

    const provided = providedInputs({ hasMask: inputs.mask !== undefined, hasReference: inputs.reference !== undefined });
    const checked = validateWorkflow(workflow, this.#registry, { provided });
    if (!checked.ok) {
      return finish({ status: 'failed', error: new WorkflowValidationError(checked.issues), trace: [], durationMs: elapsed() });
    }
    const wf = checked.workflow;
    emit({ type: 'validated', steps: wf.nodes.length });

    const nodes = new Map(wf.nodes.map((n) => [n.step, n]));
    const initValues: Record<string, Value> = { image: inputs.image, ...(inputs.mask ? { mask: inputs.mask } : {}), ...(inputs.reference ? { reference: inputs.reference } : {}) };
    const needed = neededSteps(wf);
    const keys = await this.#cacheKeys(wf, initValues);
    const trace = new Map<number, StepTrace>(
      wf.nodes.map((n) => [n.step, { step: n.step, brick: n.brick, status: needed.has(n.step) ? 'pending' : 'unused', inputs: {}, emptyMasks: [] }]),
    );
    const traceList = (): StepTrace[] => [...trace.values()].sort((a, b) => a.step - b.step);
    const outputs = new Map<number, StepOutputs>();
    const readers = outputReaders(wf, needed);
    const warnings: RunWarning[] = [];
    /** Empty masks already reported, by reference, so a mask that several steps use is reported once. */
    const reportedEmpty = new Set<string>();
    const reportEmpty = (err: EmptyMaskError): void => {
      const ref = refText(err.source);
      if (reportedEmpty.has(ref)) return;
      reportedEmpty.add(ref);
      if (this.#emptyMask === 'fail') throw err;
      this.#logger.warn({ mask: ref }, err.message);
      warnings.push(err);
    };

    const runAbort = new AbortController();
    const onOuterAbort = (): void => runAbort.abort(options.signal?.reason ?? new CancelledError());
    if (options.signal?.aborted) return finish({ status: 'cancelled', trace: traceList(), durationMs: elapsed() });
    options.signal?.addEventListener('abort', onOuterAbort, { once: true });

    const remaining = new Map<number, number>();
    const dependents = new Map<number, number[]>();
    for (const step of needed) {
      const deps = stepDeps(nodes.get(step)!);
      remaining.set(step, deps.length);
      for (const d of deps) {
        const list = dependents.get(d);
        if (list) list.push(step);
        else dependents.set(d, [step]);
      }
    }
    const ready = [...needed].filter((s) => remaining.get(s) === 0).sort((a, b) => a - b);
    let running = 0;
    let seq = 0;
    let failure: LegoEditError | undefined;

    const lookup = (src: Source): Value | undefined => (src.kind === 'init' ? initValues[src.name] : outputs.get(src.step)?.[src.output]);
    const valueOf = (src: Source): Value => {
      const v = lookup(src);
      // Unreachable: a step that leaves out an output something reads fails before its readers are scheduled.
      if (v === undefined) throw new Error(`${refText(src)} was not produced`);
      return v;
    };

    const runStep = async (node: WorkflowNode): Promise<void> => {
      const brick = this.#registry.get(node.brick)!;
      const t = trace.get(node.step)!;
      const key = keys.get(node.step)!;
      const args = resolveInputs(brick, node, valueOf);
      t.inputs = Object.fromEntries(
        Object.entries(node.inputs).map(([k, b]) => [k, b.kind === 'ref' ? `${refText(b.source)} (${describeValue(args[k])})` : describeValue(args[k])]),
      );
      for (const source of emptyMaskInputs(brick, node, args)) {
        const producer = source.kind === 'step' ? nodes.get(source.step)!.brick : undefined;
        reportEmpty(EmptyMaskError.givenEmpty(source, producer, { step: node.step, brick: brick.name, kind: brick.kind }));
      }
      t.startSeq = seq++;
      emit({ type: 'step-started', step: node.step, brick: brick.name, seq: t.startSeq });
      const t0 = performance.now();
      const read = readers.get(node.step) ?? new Map<string, Reader[]>();
      const stored = options.reuseCache === false ? undefined : this.cache.get(key);
      // A run that read fewer outputs may have left one this run reads in the pool's thread.
      const cached = stored?.left?.some((o) => read.has(o)) ? undefined : stored;
      t.cache = cached ? 'hit' : 'miss';
      const ran = cached ?? (await this.#invoke(brick, node, args, runAbort.signal, emit, options.reuseCache === false, unreadPictures(brick, read)));
      // Checked on a cache hit too: the run that cached these outputs may have read different ones.
      for (const [output, by] of read) {
        if (ran.outputs[output] === undefined || ran.outputs[output] === null) throw new MissingOutputError(brick.name, output, by.map(describeReader));
      }
      if (!cached) this.cache.set(key, ran);
      outputs.set(node.step, ran.outputs);
      t.durationMs = performance.now() - t0;
      t.finishSeq = seq++;
      t.status = 'ok';
      if (brick.kind === 'predict') {
        for (const [name, v] of Object.entries(ran.outputs)) if (isMask(v) && isEmptyMask(v)) t.emptyMasks.push(name);
      }
      for (const detail of ran.warnings) {
        this.#logger.warn({ step: node.step, brick: brick.name }, detail);
        warnings.push(new BrickWarning(node.step, brick.name, detail));
      }
      emit({ type: 'step-finished', step: node.step, brick: brick.name, seq: t.finishSeq, durationMs: t.durationMs, cache: t.cache, emptyMasks: t.emptyMasks });
      const nothingFound = foundNothing(brick, node, args, t.emptyMasks, read);
      if (nothingFound) reportEmpty(nothingFound);
    };

    await new Promise<void>((resolveAll) => {
      const pump = (): void => {
        if (failure || runAbort.signal.aborted) {
          if (running === 0) resolveAll();
          return;
        }
        while (running < this.#concurrency && ready.length > 0) {
          const step = ready.shift()!;
          const node = nodes.get(step)!;
          running++;
          runStep(node).then(
            () => {
              running--;
              for (const d of dependents.get(step) ?? []) {
                const left = remaining.get(d)! - 1;
                remaining.set(d, left);
                if (left === 0) ready.push(d);
              }
              ready.sort((a, b) => a - b);
              pump();
            },
            (err: unknown) => {
              running--;
              const t = trace.get(step)!;
              if (runAbort.signal.aborted && !failure) {
                t.status = 'cancelled';
              } else if (!failure) {
                t.status = 'failed';
                failure = err instanceof EmptyMaskError || err instanceof StepFailedError ? err : new StepFailedError(step, node.brick, t.inputs, this.#typed(step, node.brick, err));
                t.error = failure.message;
                emit({ type: 'step-failed', step, brick: node.brick, error: failure });
                // Other branches have no use now; stop them.
                runAbort.abort(failure);
              } else {
                t.status = 'cancelled';
              }
              pump();
            },
          );
        }
        if (running === 0) resolveAll();
      };
      pump();
    });
    options.signal?.removeEventListener('abort', onOuterAbort);

    if (failure) return finish({ status: 'failed', error: failure, trace: traceList(), durationMs: elapsed() });
    if (runAbort.signal.aborted) {
      for (const t of trace.values()) if (t.status === 'pending') t.status = 'cancelled';
      return finish({ status: 'cancelled', trace: traceList(), durationMs: elapsed() });
    }
    const unresolved = wf.results.find((r) => lookup(r) === undefined);
    if (unresolved) return finish({ status: 'failed', error: unresolvedResult(unresolved, trace), trace: traceList(), durationMs: elapsed() });
    return finish({ status: 'ok', results: wf.results.map(valueOf), trace: traceList(), durationMs: elapsed(), warnings, outputs });
  }

  /**
   * Calls a brick with its own abort signal (run cancellation or step timeout); never waits on a brick that ignores it.
   * A CPU-heavy brick runs in the pool, whose thread the signal terminates.
   */
  async #invoke(
    brick: AnyBrick,
    node: WorkflowNode,
    args: Record<string, Value | null>,
    runSignal: AbortSignal,
    emit: (e: ExecutorEvent) => void,
    resample: boolean,
    unread: readonly string[],
  ): Promise<CachedStep> {
    // A brick that declares its own limit (a slow GPU workflow) gets it; the others the executor's.
    const limitMs = brick.timeoutMs ?? this.#stepTimeoutMs;
    const warnings: string[] = [];
    // Pictures nothing reads stay in the pool's thread: each would be megabytes more on the main thread's heap a turn.
    const left = this.#pool?.serves(brick) ? unread : [];
    const out: unknown = await withDeadline(runSignal, limitMs, () => new StepTimeoutError(node.step, brick.name, limitMs), (signal) => {
      const ctx = {
        signal,
        logger: this.#logger.child({ step: node.step, brick: brick.name }),
        progress: (p: { fraction?: number; message?: string }) => emit({ type: 'step-progress', step: node.step, brick: brick.name, ...p }),
        warn: (message: string) => warnings.push(message),
        ...(resample ? { resample: true } : {}),
      };
      return runBrickWhereServed(this.#pool, brick, args, ctx, left);
    });
    const outputs = checkedOutputs(brick, out, new Set(left));
    return left.length ? { outputs, warnings, left } : { outputs, warnings };
  }

  /**
   * The last guard: anything thrown in a step that is not one of our errors (a
   * library's TypeError, an Emscripten module's bare number) becomes a typed
   * BrickFailedError naming the brick; the original goes to the log with its stack.
   */
  #typed(step: number, brick: string, err: unknown): LegoEditError {
    if (err instanceof LegoEditError) return err;
    this.#logger.error({ err, step, brick }, 'brick failed with an untyped error');
    return new BrickFailedError(brick, err);
  }

  /**
   * Content keys: brick name, version and backend, literal inputs, upstream keys, and the hash of the user's inputs.
   * A validated workflow only reads earlier steps, so computing keys in step order finds every upstream key
   * ready, without recursion (pipelines may be thousands of steps long).
   */
  async #cacheKeys(wf: Workflow, init: Record<string, Value>): Promise<Map<number, string>> {
    const initKeys = Object.fromEntries(await Promise.all(Object.entries(init).map(async ([k, v]) => [k, await hashValueOffThread(v)] as const)));
    const keys = new Map<number, string>();
    for (const node of [...wf.nodes].sort((a, b) => a.step - b.step)) {
      const brick = this.#registry.get(node.brick)!;
      const parts = Object.keys(node.inputs)
        .sort()
        .map((k) => {
          const b = node.inputs[k]!;
          if (b.kind === 'literal') return [k, 'lit', b.value];
          if (b.kind === 'invalid') return [k, 'invalid', JSON.stringify(b.raw)];
          return b.source.kind === 'init' ? [k, 'init', initKeys[b.source.name]] : [k, 'ref', keys.get(b.source.step), b.source.output];
        });
      keys.set(node.step, createHash('sha256').update(JSON.stringify([brick.name, brick.version, brick.backendKey?.() ?? null, parts])).digest('hex'));
    }
    return keys;
  }
}

/**
 * The Image outputs of `brick` that this run reads nowhere. Masks always come back, read or not: the critic's
 * checks read what a segmenter outlined, and a mask is a third of a picture's bytes.
 */
function unreadPictures(brick: AnyBrick, read: ReadonlyMap<string, unknown>): string[] {
  return Object.entries(brick.outputs).flatMap(([name, spec]) => (spec.type === 'Image' && !read.has(name) ? [name] : []));
}

function resolveInputs(brick: AnyBrick, node: WorkflowNode, valueOf: (s: Source) => Value): Record<string, Value | null> {
  const args: Record<string, Value | null> = {};
  for (const [name, spec] of Object.entries(brick.inputs)) {
    const b = Object.hasOwn(node.inputs, name) ? node.inputs[name] : undefined;
    if (!b) args[name] = spec.default ?? null;
    else if (b.kind === 'ref') args[name] = valueOf(b.source);
    else if (b.kind === 'literal') args[name] = b.value;
  }
  return args;
}

/** Steps the results depend on; the rest are not run. */
function neededSteps(wf: Workflow): Set<number> {
  const byStep = new Map(wf.nodes.map((n) => [n.step, n]));
  const needed = new Set<number>();
  const stack = wf.results.flatMap((r) => (r.kind === 'step' ? [r.step] : []));
  while (stack.length > 0) {
    const step = stack.pop()!;
    if (needed.has(step) || !byStep.has(step)) continue;
    needed.add(step);
    stack.push(...stepDeps(byStep.get(step)!));
  }
  return needed;
}

/** A reader of a step output: a step that will run, or the workflow's results. */
type Reader = WorkflowNode | 'result';

function describeReader(r: Reader): string {
  return r === 'result' ? 'the result' : `step ${r.step} (${r.brick})`;
}

/** For each step, the outputs this run reads and who reads them; steps that will not run read nothing. */
function outputReaders(wf: Workflow, needed: ReadonlySet<number>): Map<number, Map<string, Reader[]>> {
  const readers = new Map<number, Map<string, Reader[]>>();
  const add = (src: Source, reader: Reader): void => {
    if (src.kind !== 'step') return;
    const byOutput = readers.get(src.step) ?? new Map<string, Reader[]>();
    readers.set(src.step, byOutput);
    const list = byOutput.get(src.output) ?? [];
    if (!list.includes(reader)) list.push(reader);
    byOutput.set(src.output, list);
  };
  for (const node of wf.nodes) {
    if (!needed.has(node.step)) continue;
    for (const b of Object.values(node.inputs)) if (b.kind === 'ref') add(b.source, node);
  }
  for (const r of wf.results) add(r, 'result');
  return readers;
}

/**
 * The given Mask inputs that are empty. A mask says where a brick acts, so an
 * empty one makes it act nowhere; an optional mask left out means the whole
 * image and is not checked, nor is a port of mask algebra that declares an
 * empty mask meaningful (`acceptsEmpty`: BBOX of nothing is nothing, and the
 * step that edits with that is told instead).
 */
function emptyMaskInputs(brick: AnyBrick, node: WorkflowNode, args: Record<string, Value | null>): Source[] {
  const empty: Source[] = [];
  for (const [name, b] of Object.entries(node.inputs)) {
    const spec = portOf(brick.inputs, name);
    if (b.kind !== 'ref' || spec?.type !== 'Mask' || spec.acceptsEmpty) continue;
    const v = args[name];
    if (isMask(v) && isEmptyMask(v)) empty.push(b.source);
  }
  return empty;
}

/**
 * A predict brick that segmented nothing, when this run uses what it found:
 * its empty mask, or an image made from it (RES's cut-out for "extract the
 * dog"), which would be just as empty.
 */
function foundNothing(
  brick: AnyBrick,
  node: WorkflowNode,
  args: Record<string, Value | null>,
  emptyMasks: readonly string[],
  read: ReadonlyMap<string, readonly Reader[]>,
): EmptyMaskError | undefined {
  if (emptyMasks.length === 0) return undefined;
  const prompt = typeof args.prompt === 'string' ? args.prompt : undefined;
  const usedMask = emptyMasks.find((name) => read.has(name));
  if (usedMask) {
    const editedWith = read.get(usedMask)!.some((r) => r !== 'result');
    return EmptyMaskError.foundNothing(node.step, brick.name, usedMask, prompt, editedWith ? 'the edit would change nothing' : 'the result would be an empty mask');
  }
  const view = Object.keys(brick.outputs).find((name) => brick.outputs[name]!.type === 'Image' && read.has(name));
  if (view) return EmptyMaskError.foundNothing(node.step, brick.name, emptyMasks[0]!, prompt, `its ${view} would be an empty cut-out`);
  return undefined;
}

/** A result that is not there; the producing step's own check makes this a defence, not a path. */
function unresolvedResult(src: Source, trace: ReadonlyMap<number, StepTrace>): LegoEditError {
  const producer = src.kind === 'step' ? trace.get(src.step) : undefined;
  const cause = new MissingOutputError(producer?.brick ?? 'the user', src.kind === 'step' ? src.output : src.name, ['the result']);
  return producer ? new StepFailedError(producer.step, producer.brick, producer.inputs, cause) : cause;
}
