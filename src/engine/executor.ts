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
import type { AnyBrick } from './brick.ts';
import { OutputCache, type StepOutputs } from './cache.ts';
import { CancelledError, LegoEditError, StepTimeoutError, errorMessage } from './errors.ts';
import type { ExecutorEvent, ExecutorEventListener } from './events.ts';
import { hashValue } from './image-io.ts';
import type { BrickRegistry } from './registry.ts';
import type { ImageData, MaskData, Value } from './values.ts';
import { describeValue, isEmptyMask, typeOfValue } from './values.ts';
import type { Source, Workflow, WorkflowNode } from './workflow/types.ts';
import { refText } from './workflow/types.ts';
import { WorkflowValidationError, validateWorkflow } from './workflow/validate.ts';

export interface ExecutorOptions {
  /** Steps running at once (default: available cores). */
  readonly concurrency?: number;
  /** Longest a single step may run (default 5 minutes). */
  readonly stepTimeoutMs?: number;
  /** Cache bound in bytes (default 512 MiB); 0 disables caching. */
  readonly cacheBytes?: number;
  /** An empty mask from a predict brick stops the run (default) or is only reported. */
  readonly emptyMask?: 'fail' | 'warn';
  readonly logger?: Logger;
}

export interface RunInputs {
  readonly image: ImageData;
  readonly mask?: MaskData;
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

/** A step failed; names the step, brick, a summary of its inputs and the cause. */
export class StepFailedError extends LegoEditError {
  constructor(
    readonly step: number,
    readonly brick: string,
    readonly inputs: Readonly<Record<string, string>>,
    cause: unknown,
  ) {
    const summary = Object.entries(inputs)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    super(
      cause instanceof LegoEditError ? cause.code : 'step-failed',
      `Step ${step} (${brick}) failed: ${errorMessage(cause)}${summary ? ` [inputs: ${summary}]` : ''}`,
      { cause, retryable: cause instanceof LegoEditError && cause.retryable },
    );
  }

  override get userMessage(): string {
    const cause = this.cause;
    return cause instanceof LegoEditError ? `Step ${this.step} (${this.brick}): ${cause.userMessage}` : this.message;
  }
}

/** A predict brick found nothing: a distinct outcome, so nothing downstream edits an empty region in silence. */
export class EmptyMaskError extends LegoEditError {
  constructor(
    readonly step: number,
    readonly brick: string,
    readonly output: string,
    readonly inputs: Readonly<Record<string, string>>,
  ) {
    const prompt = inputs.prompt ? ` for ${inputs.prompt.split(' ')[0]}` : '';
    super('empty-mask', `Step ${step} (${brick}) found nothing${prompt}: its ${output} is empty, so the edit would change nothing.`);
  }
}

export type RunOutcome =
  | { readonly status: 'ok'; readonly results: Value[]; readonly trace: StepTrace[]; readonly durationMs: number; readonly warnings: EmptyMaskError[] }
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

  constructor(registry: BrickRegistry, options: ExecutorOptions = {}) {
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

    const provided = new Set(['image', ...(inputs.mask ? ['mask'] : [])]);
    const checked = validateWorkflow(workflow, this.#registry, { provided });
    if (!checked.ok) {
      return finish({ status: 'failed', error: new WorkflowValidationError(checked.issues), trace: [], durationMs: elapsed() });
    }
    const wf = checked.workflow;
    emit({ type: 'validated', steps: wf.nodes.length });

    const nodes = new Map(wf.nodes.map((n) => [n.step, n]));
    const initValues: Record<string, Value> = { image: inputs.image, ...(inputs.mask ? { mask: inputs.mask } : {}) };
    const needed = neededSteps(wf);
    const keys = this.#cacheKeys(wf, initValues);
    const trace = new Map<number, StepTrace>(
      wf.nodes.map((n) => [n.step, { step: n.step, brick: n.brick, status: needed.has(n.step) ? 'pending' : 'unused', inputs: {}, emptyMasks: [] }]),
    );
    const traceList = (): StepTrace[] => [...trace.values()].sort((a, b) => a.step - b.step);
    const outputs = new Map<number, StepOutputs>();
    const warnings: EmptyMaskError[] = [];

    const runAbort = new AbortController();
    const onOuterAbort = (): void => runAbort.abort(options.signal?.reason ?? new CancelledError());
    if (options.signal?.aborted) return finish({ status: 'cancelled', trace: traceList(), durationMs: elapsed() });
    options.signal?.addEventListener('abort', onOuterAbort, { once: true });

    const remaining = new Map<number, number>();
    const dependents = new Map<number, number[]>();
    for (const step of needed) {
      const deps = stepDeps(nodes.get(step)!);
      remaining.set(step, deps.length);
      for (const d of deps) dependents.set(d, [...(dependents.get(d) ?? []), step]);
    }
    const ready = [...needed].filter((s) => remaining.get(s) === 0).sort((a, b) => a - b);
    let running = 0;
    let seq = 0;
    let failure: LegoEditError | undefined;

    const valueOf = (src: Source): Value => {
      if (src.kind === 'init') return initValues[src.name]!;
      const v = outputs.get(src.step)?.[src.output];
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
      t.startSeq = seq++;
      emit({ type: 'step-started', step: node.step, brick: brick.name, seq: t.startSeq });
      const t0 = performance.now();
      let result = options.reuseCache === false ? undefined : this.cache.get(key);
      t.cache = result ? 'hit' : 'miss';
      if (!result) {
        result = await this.#invoke(brick, node, args, runAbort.signal, emit);
        this.cache.set(key, result);
      }
      outputs.set(node.step, result);
      t.durationMs = performance.now() - t0;
      t.finishSeq = seq++;
      t.status = 'ok';
      if (brick.kind === 'predict') {
        for (const [name, v] of Object.entries(result)) {
          if (typeof v === 'object' && v.kind === 'mask' && isEmptyMask(v)) t.emptyMasks.push(name);
        }
      }
      emit({ type: 'step-finished', step: node.step, brick: brick.name, seq: t.finishSeq, durationMs: t.durationMs, cache: t.cache, emptyMasks: t.emptyMasks });
      const empty = t.emptyMasks.find((name) => isConsumed(wf, node.step, name));
      if (empty) {
        const err = new EmptyMaskError(node.step, brick.name, empty, t.inputs);
        if (this.#emptyMask === 'fail') throw err;
        warnings.push(err);
      }
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
                failure = err instanceof EmptyMaskError || err instanceof StepFailedError ? err : new StepFailedError(step, node.brick, t.inputs, err);
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
    return finish({ status: 'ok', results: wf.results.map(valueOf), trace: traceList(), durationMs: elapsed(), warnings });
  }

  /** Calls a brick with its own abort signal (run cancellation or step timeout); never waits on a brick that ignores it. */
  async #invoke(
    brick: AnyBrick,
    node: WorkflowNode,
    args: Record<string, Value | null>,
    runSignal: AbortSignal,
    emit: (e: ExecutorEvent) => void,
  ): Promise<StepOutputs> {
    const timeout = AbortSignal.timeout(this.#stepTimeoutMs);
    const signal = AbortSignal.any([runSignal, timeout]);
    const aborted = new Promise<never>((_, reject) => {
      const onAbort = (): void =>
        reject(timeout.aborted && !runSignal.aborted ? new StepTimeoutError(node.step, brick.name, this.#stepTimeoutMs) : new CancelledError());
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    const ctx = {
      signal,
      logger: this.#logger.child({ step: node.step, brick: brick.name }),
      progress: (p: { fraction?: number; message?: string }) => emit({ type: 'step-progress', step: node.step, brick: brick.name, ...p }),
    };
    const out = (await Promise.race([brick.run(args as never, ctx), aborted])) as Record<string, Value>;
    for (const [name, spec] of Object.entries(brick.outputs)) {
      const v = out?.[name];
      if (v === undefined || v === null) continue; // absence is reported when something reads it
      if (typeOfValue(v) !== spec.type) throw new Error(`${brick.name} returned ${typeOfValue(v)} for its ${spec.type} output "${name}"`);
    }
    return out;
  }

  /** Content keys: brick name and version, literal inputs, upstream keys, and the hash of the user's inputs. */
  #cacheKeys(wf: Workflow, init: Record<string, Value>): Map<number, string> {
    const initKeys = Object.fromEntries(Object.entries(init).map(([k, v]) => [k, hashValue(v)]));
    const keys = new Map<number, string>();
    const byStep = new Map(wf.nodes.map((n) => [n.step, n]));
    const keyOf = (step: number): string => {
      const known = keys.get(step);
      if (known) return known;
      const node = byStep.get(step)!;
      const brick = this.#registry.get(node.brick)!;
      const parts = Object.keys(node.inputs)
        .sort()
        .map((k) => {
          const b = node.inputs[k]!;
          if (b.kind === 'literal') return [k, 'lit', b.value];
          if (b.kind === 'invalid') return [k, 'invalid', JSON.stringify(b.raw)];
          return b.source.kind === 'init' ? [k, 'init', initKeys[b.source.name]] : [k, 'ref', keyOf(b.source.step), b.source.output];
        });
      const key = createHash('sha256').update(JSON.stringify([brick.name, brick.version, parts])).digest('hex');
      keys.set(step, key);
      return key;
    };
    for (const n of wf.nodes) keyOf(n.step);
    return keys;
  }
}

function resolveInputs(brick: AnyBrick, node: WorkflowNode, valueOf: (s: Source) => Value): Record<string, Value | null> {
  const args: Record<string, Value | null> = {};
  for (const [name, spec] of Object.entries(brick.inputs)) {
    const b = node.inputs[name];
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
  const visit = (step: number): void => {
    if (needed.has(step) || !byStep.has(step)) return;
    needed.add(step);
    for (const d of stepDeps(byStep.get(step)!)) visit(d);
  };
  for (const r of wf.results) if (r.kind === 'step') visit(r.step);
  return needed;
}

/** Whether a step output is used by another step or is a result. */
function isConsumed(wf: Workflow, step: number, output: string): boolean {
  const matches = (s: Source): boolean => s.kind === 'step' && s.step === step && s.output === output;
  return wf.results.some(matches) || wf.nodes.some((n) => Object.values(n.inputs).some((b) => b.kind === 'ref' && matches(b.source)));
}
