/**
 * The properties the fuzz suite (test/engine/fuzz.test.ts) and `npm run bench -- fuzz`
 * check on every case: parse, validate and run throw nothing but the project's typed
 * errors; a validated workflow never fails with an untyped error (the executor's
 * last guard never fires); every run ends within its timeout; Object.prototype is
 * never touched.
 */
import { encodeImage } from '../../src/engine/image-io.ts';
import { BrickFailedError, BrickOutputError, LegoEditError } from '../../src/engine/errors.ts';
import { StepFailedError, type Executor, type RunInputs } from '../../src/engine/executor.ts';
import type { BrickRegistry } from '../../src/engine/registry.ts';
import type { Workflow } from '../../src/engine/workflow/types.ts';
import { parseWorkflow } from '../../src/engine/workflow/parse.ts';
import { validateWorkflow } from '../../src/engine/workflow/validate.ts';

/** A broken property, with the input that broke it. */
export class FuzzFailure extends Error {
  constructor(
    readonly kind: 'crash' | 'untyped' | 'hang' | 'prototype',
    message: string,
    readonly input: string,
  ) {
    super(`${kind}: ${message}\ninput: ${input.length > 2000 ? `${input.slice(0, 2000)}…` : input}`);
  }
}

const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype).sort().join(',');

/** Throws when Object.prototype gained, lost or changed a member, or a fresh object has inherited keys. */
export function checkPrototype(input: string): void {
  const names = Object.getOwnPropertyNames(Object.prototype).sort().join(',');
  const inherited: string[] = [];
  // for…in sees exactly the inherited enumerable keys that pollution adds.
  for (const key in {}) inherited.push(key);
  if (names !== PROTOTYPE_NAMES || inherited.length > 0 || Object.getPrototypeOf({}) !== Object.prototype) {
    throw new FuzzFailure('prototype', `Object.prototype changed (${inherited.join(', ') || names})`, input);
  }
}

const describeThrown = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : `${typeof err} ${String(err)}`);

/** Parse then validate `text`; returns the validated workflow, or undefined when it was refused with a typed error. */
export function checkParseValidate(text: string, registry: BrickRegistry, provided: ReadonlySet<string>): Workflow | undefined {
  let wf: Workflow;
  try {
    wf = parseWorkflow(text);
  } catch (err) {
    if (err instanceof LegoEditError) return undefined;
    throw new FuzzFailure('crash', `parse threw ${describeThrown(err)}`, text);
  }
  let result: ReturnType<typeof validateWorkflow>;
  try {
    result = validateWorkflow(wf, registry, { provided });
  } catch (err) {
    throw new FuzzFailure('crash', `validate threw ${describeThrown(err)}`, text);
  }
  checkPrototype(text);
  return result.ok ? wf : undefined;
}

/** What made a run fail: the cause a StepFailedError wraps, or the error itself. */
function rootCause(err: LegoEditError): unknown {
  return err instanceof StepFailedError ? err.cause : err;
}

/**
 * Runs a validated workflow and checks the outcome: it ends within
 * `timeoutMs`; a failure is typed all the way down (a BrickFailedError means
 * the last guard caught a library error, which counts as a crash; so does a
 * BrickOutputError); a success's results are values that encode.
 */
export async function checkRun(text: string, wf: Workflow, executor: Executor, inputs: RunInputs, timeoutMs: number): Promise<'ok' | 'failed' | 'cancelled'> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<'hang'>((resolve) => {
    timer = setTimeout(() => resolve('hang'), timeoutMs);
  });
  let outcome: Awaited<ReturnType<Executor['run']>> | 'hang';
  try {
    outcome = await Promise.race([executor.run(wf, inputs), hang]);
  } catch (err) {
    throw new FuzzFailure('crash', `run threw ${describeThrown(err)}`, text);
  } finally {
    clearTimeout(timer);
  }
  if (outcome === 'hang') throw new FuzzFailure('hang', `the run did not end within ${timeoutMs} ms`, text);
  if (outcome.status === 'failed') {
    const root = rootCause(outcome.error);
    if (!(outcome.error instanceof LegoEditError) || !(root instanceof LegoEditError) || root instanceof BrickFailedError || root instanceof BrickOutputError) {
      const stray = root instanceof BrickFailedError ? root.cause : root;
      throw new FuzzFailure('untyped', `a validated workflow failed with ${outcome.error.message}\n${describeThrown(stray)}`, text);
    }
  }
  if (outcome.status === 'ok') {
    for (const r of outcome.results) {
      if (typeof r !== 'object' || r === null) continue;
      try {
        await encodeImage(r);
      } catch (err) {
        throw new FuzzFailure('crash', `encoding a result threw ${describeThrown(err)}`, text);
      }
    }
  }
  checkPrototype(text);
  return outcome.status;
}
