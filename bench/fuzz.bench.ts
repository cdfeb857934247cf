/**
 * `npm run bench -- fuzz`: the fuzz suite's properties (test/support/fuzz-properties.ts)
 * over at least 100,000 cases: parse + validate for every case, and a full run for
 * a sample of those that validate. Counts crashes (untyped throws, untyped run
 * failures, prototype changes) and hangs; any failure is printed with its input.
 * FUZZ_CASES and FUZZ_RUNS override the counts; FUZZ_SEED the seed.
 */
import fc from 'fast-check';
import { builtinBricks } from '../bricks/index.ts';
import { Executor } from '../src/engine/executor.ts';
import { BrickRegistry } from '../src/engine/registry.ts';
import { FuzzFailure, checkParseValidate, checkRun } from '../test/support/fuzz-properties.ts';
import { FUZZ_SIZES, fuzzInputs } from '../test/support/fuzz-inputs.ts';
import { deepNesting, longChain, mutatedWorkflow, serialise, textMutations, validWorkflow } from '../test/support/workflow-arbitraries.ts';

const STEP_TIMEOUT_MS = 10_000;
const RUN_LIMIT_MS = STEP_TIMEOUT_MS + 10_000;
const BATCH = 2_000;

export async function run(): Promise<void> {
  const cases = Number(process.env.FUZZ_CASES ?? 100_000);
  const runs = Number(process.env.FUZZ_RUNS ?? 600);
  const seed = Number(process.env.FUZZ_SEED ?? 20);
  const registry = new BrickRegistry(builtinBricks());
  const bricks = registry.list();
  const provided = new Set(['image', 'mask']);
  const executor = new Executor(registry, { concurrency: 2, stepTimeoutMs: STEP_TIMEOUT_MS, cacheBytes: 0 });
  // Mostly mutated workflows as text (with text-level damage), and valid ones; the pathological
  // shapes (a megabyte each) are checked once each below rather than thousands of times.
  const anyCase = fc.oneof(
    { weight: 2, arbitrary: mutatedWorkflow(bricks, { withMask: true, maxSteps: 6 }).chain((wf) => textMutations(serialise(wf))) },
    { weight: 1, arbitrary: validWorkflow(bricks, { withMask: true, maxSteps: 6 }).map(serialise) },
  );
  const pathological = [...fc.sample(deepNesting(100_000), { numRuns: 30, seed }), longChain(10_000), longChain(200)];
  const failures = { crash: 0, untyped: 0, hang: 0, prototype: 0 };
  const shown = new Set<string>();
  const fail = (err: unknown): void => {
    if (!(err instanceof FuzzFailure)) throw err;
    failures[err.kind]++;
    const key = err.message.split('\n')[0]!.slice(0, 120);
    if (shown.size < 10 && !shown.has(key)) {
      shown.add(key);
      console.log(`  FAILURE ${err.message.slice(0, 1500)}`);
    }
  };

  for (const text of pathological) {
    try {
      checkParseValidate(text, registry, provided);
    } catch (err) {
      fail(err);
    }
  }
  let validated = 0;
  let ran = 0;
  const outcomes = { ok: 0, failed: 0, cancelled: 0 };
  // About a third of the cases validate; spread the runs across them.
  const runEvery = Math.max(1, Math.floor((cases * 0.35) / runs));
  const started = performance.now();
  let runMs = 0;
  for (let done = 0, batch = 0; done < cases; batch++) {
    const n = Math.min(BATCH, cases - done);
    const texts = fc.sample(anyCase, { numRuns: n, seed: seed + batch });
    const sizes = fc.sample(fc.constantFrom(...FUZZ_SIZES), { numRuns: n, seed: seed + batch });
    for (let i = 0; i < n; i++) {
      const text = texts[i]!;
      let wf;
      try {
        wf = checkParseValidate(text, registry, provided);
      } catch (err) {
        fail(err);
        continue;
      }
      if (!wf) continue;
      validated++;
      if (ran >= runs || validated % runEvery !== 0) continue;
      ran++;
      const t0 = performance.now();
      try {
        outcomes[await checkRun(text, wf, executor, fuzzInputs(sizes[i]!), RUN_LIMIT_MS)]++;
      } catch (err) {
        fail(err);
      }
      runMs += performance.now() - t0;
    }
    done += n;
  }
  const totalMs = performance.now() - started;
  const crashes = failures.crash + failures.untyped + failures.prototype;
  console.log(`cases: ${cases + pathological.length} (${pathological.length} of them nested 100,000 deep or 10,000 steps long; seed ${seed}); validated: ${validated}; run: ${ran} (ok ${outcomes.ok}, typed failures ${outcomes.failed}, cancelled ${outcomes.cancelled})`);
  console.log(`crashes: ${crashes} (untyped throws ${failures.crash}, untyped run failures ${failures.untyped}, Object.prototype changed ${failures.prototype}); hangs: ${failures.hang}`);
  console.log(`time: ${(totalMs / 1000).toFixed(1)} s in all, ${(runMs / 1000).toFixed(1)} s of it running workflows (${((totalMs - runMs) / cases).toFixed(2)} ms per parse + validate)`);
  if (crashes + failures.hang > 0) process.exitCode = 1;
}
