/**
 * Property-based fuzzing of the whole path: workflows generated from the real
 * brick catalogue, then mutated the ways Builders and people get them wrong,
 * through parse, validate and run. Fixed seeds keep `npm test` repeatable;
 * `npm run bench -- fuzz` runs the same properties over 100,000 cases.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { builtinBricks } from '../../bricks/index.ts';
import { Executor } from '../../src/engine/executor.ts';
import { BrickRegistry } from '../../src/engine/registry.ts';
import { MAX_WORKFLOW_STEPS } from '../../src/engine/workflow/validate.ts';
import { checkParseValidate, checkRun } from '../support/fuzz-properties.ts';
import { fuzzInputs, FUZZ_SIZES } from '../support/fuzz-inputs.ts';
import { deepNesting, longChain, mutatedWorkflow, serialise, textMutations, validWorkflow } from '../support/workflow-arbitraries.ts';

const registry = new BrickRegistry(builtinBricks());
const bricks = registry.list();
const provided = new Set(['image', 'mask']);
const STEP_TIMEOUT_MS = 10_000;
/** A run must end within its step timeout and 10 s more, or it counts as a hang. */
const RUN_LIMIT_MS = STEP_TIMEOUT_MS + 10_000;

describe('fuzzing parse and validate', () => {
  it('a workflow built from the catalogue\'s declarations always validates', () => {
    fc.assert(
      fc.property(validWorkflow(bricks, { withMask: true, maxSteps: 6 }), (wf) => {
        expect(checkParseValidate(serialise(wf), registry, provided)).toBeDefined();
      }),
      { seed: 2014, numRuns: 500 },
    );
  });

  it('parse and validate throw nothing but typed errors, and never touch Object.prototype, on 2,000 mutated workflows and texts', () => {
    let refused = 0;
    fc.assert(
      fc.property(
        mutatedWorkflow(bricks, { withMask: true }).chain((wf) => textMutations(serialise(wf))),
        (text) => {
          if (checkParseValidate(text, registry, provided) === undefined) refused++;
        },
      ),
      { seed: 2020, numRuns: 2000 },
    );
    // The mutations are hostile: most of them must be refused, or the generator has gone soft.
    expect(refused).toBeGreaterThan(800);
  });

  it('refuses nesting 100,000 deep, and 10,000-step pipelines, with typed errors', () => {
    fc.assert(
      fc.property(deepNesting(100_000), (text) => {
        expect(checkParseValidate(text, registry, provided)).toBeUndefined();
      }),
      { seed: 1, numRuns: 12 },
    );
    expect(checkParseValidate(longChain(10_000), registry, provided)).toBeUndefined();
    expect(checkParseValidate(longChain(MAX_WORKFLOW_STEPS), registry, provided)).toBeDefined();
  });
});

describe('fuzzing run', () => {
  const executor = new Executor(registry, { concurrency: 2, stepTimeoutMs: STEP_TIMEOUT_MS, cacheBytes: 0 });

  it('validated workflows, generated and mutated, end within their timeout with a result that encodes or a typed failure', async () => {
    const outcomes = { ok: 0, failed: 0, cancelled: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(validWorkflow(bricks, { withMask: true }), mutatedWorkflow(bricks, { withMask: true })),
        fc.constantFrom(...FUZZ_SIZES),
        async (raw, size) => {
          const text = serialise(raw);
          const wf = checkParseValidate(text, registry, provided);
          if (wf) outcomes[await checkRun(text, wf, executor, fuzzInputs(size), RUN_LIMIT_MS)]++;
        },
      ),
      { seed: 2026, numRuns: 100 },
    );
    // Not vacuous: most generated workflows validate and run, and some of those succeed.
    expect(outcomes.ok + outcomes.failed).toBeGreaterThan(40);
    expect(outcomes.ok).toBeGreaterThan(15);
  });

  it(`runs the longest pipeline allowed (${MAX_WORKFLOW_STEPS} steps) to its result`, async () => {
    const text = longChain(MAX_WORKFLOW_STEPS);
    const wf = checkParseValidate(text, registry, provided)!;
    expect(await checkRun(text, wf, executor, fuzzInputs([24, 16]), RUN_LIMIT_MS)).toBe('ok');
  });
});
