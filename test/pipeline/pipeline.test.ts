/**
 * The one plan → rule check → run → repair loop: a run that fails in a way
 * another plan can avoid goes back to the Builder at most `maxRepairs` times
 * (RUN_REPAIRS), other failures never do, a plan that breaks a rule never runs,
 * and every attempt is kept. The CLI and chat both honour RUN_REPAIRS
 * (test/cli/cli.test.ts, test/sessions/repair.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { builtinBricks } from '../../bricks/index.ts';
import { type Builder, type Plan, type PlanRequest, PlanRefusedError, type PriorTurn } from '../../src/builder/builder.ts';
import { OfflineBuilder } from '../../src/builder/offline-builder.ts';
import { parseRule } from '../../src/builder/rules.ts';
import { StepTimeoutError } from '../../src/engine/errors.ts';
import type { RunOutcome } from '../../src/engine/executor.ts';
import { Executor } from '../../src/engine/executor.ts';
import { BrickRegistry } from '../../src/engine/registry.ts';
import { EmptyMaskError } from '../../src/engine/step-errors.ts';
import { makeImage } from '../../src/engine/values.ts';
import { summariseWorkflow } from '../../src/engine/workflow/serialise.ts';
import { RuleViolationError, runPipeline } from '../../src/pipeline/index.ts';
import { Critic } from '../../src/critic/critic.ts';

const registry = new BrickRegistry(builtinBricks());
const image = makeImage(64, 48, 3);
const request = (instruction: string, extra: Partial<PlanRequest> = {}): PlanRequest => ({ image, instruction, available: new Set(registry.names()), ...extra });
const executor = new Executor(registry, { cacheBytes: 0 });
const runReal = (plan: Plan): Promise<RunOutcome> => executor.run(plan.workflow, { image });

/** The offline Builder, counting repairs; `repair` decides what each repair returns. */
function builder(repair: (request: PlanRequest, failed: PriorTurn) => Promise<Plan>): Builder & { readonly failures: PriorTurn[] } {
  const offline = new OfflineBuilder(registry);
  const failures: PriorTurn[] = [];
  return {
    name: 'offline',
    failures,
    plan: (r) => offline.plan(r),
    repairAfterFailure: (r, failed) => {
      failures.push(failed);
      return repair(r, failed);
    },
  };
}

describe('runPipeline', () => {
  it.each([0, 1, 3])('asks for at most %i new plans when every run finds nothing, then reports the run’s own error', async (maxRepairs) => {
    // Each repair is the same plan again: RES on a flat grey image finds no unicorn.
    const b = builder((r) => new OfflineBuilder(registry).plan({ ...r, revise: undefined }));
    const repairing: string[] = [];
    const result = await runPipeline({ builder: b, request: request('remove the unicorn'), maxRepairs, run: runReal, onRepairing: (err) => void repairing.push(err.code) });
    expect(b.failures).toHaveLength(maxRepairs);
    expect(repairing).toEqual(Array<string>(maxRepairs).fill('empty-mask'));
    expect(result.status).toBe('ran');
    if (result.status !== 'ran' || result.outcome.status !== 'failed') throw new Error(`expected a failed run, got ${result.status}`);
    expect(result.outcome.error).toBeInstanceOf(EmptyMaskError);
    expect(result.record.repairs).toBe(maxRepairs);
    // One attempt per failed run that went back to the Builder.
    expect(result.record.attempts.filter((a) => a.problems.some((p) => p.startsWith('run failed:')))).toHaveLength(maxRepairs);
  });

  it('runs the repaired plan and keeps the failed one among the attempts', async () => {
    const b = builder((r) => new OfflineBuilder(registry).plan({ ...r, instruction: 'make it black and white', revise: undefined }));
    const planned: string[] = [];
    const result = await runPipeline({ builder: b, request: request('remove the unicorn'), maxRepairs: 2, run: runReal, onPlanned: (p) => void planned.push(summariseWorkflow(p.workflow)) });
    expect(planned).toEqual([expect.stringMatching(/^RES/), 'GRAYSCALE']);
    expect(result.status === 'ran' && result.outcome.status).toBe('ok');
    expect(b.failures[0]!.errorCode).toBe('empty-mask');
    expect(b.failures[0]!.trace?.some((t) => t.brick === 'RES' && t.emptyMasks.length > 0)).toBe(true);
    if (result.status !== 'ran') throw new Error(result.status);
    expect(result.record.attempts.map((a) => a.problems.join(' '))).toContainEqual(expect.stringMatching(/^run failed: .*found nothing/));
    expect(result.record.repairs).toBe(1);
  });

  it('never asks for a new plan after a failure another plan cannot avoid', async () => {
    const b = builder(() => Promise.reject(new Error('must not be asked')));
    const timeout = new StepTimeoutError(1, 'GRAYSCALE', 5);
    const result = await runPipeline({ builder: b, request: request('make it black and white'), maxRepairs: 5, run: async () => ({ status: 'failed', error: timeout, trace: [], durationMs: 5 }) });
    expect(b.failures).toEqual([]);
    expect(result.status === 'ran' && result.outcome.status === 'failed' && result.outcome.error).toBe(timeout);
  });

  it('reports the run’s own error when the Builder finds nothing else to try', async () => {
    const b = builder(() => Promise.reject(new PlanRefusedError('nothing else to try')));
    const result = await runPipeline({ builder: b, request: request('remove the unicorn'), maxRepairs: 2, run: runReal });
    if (result.status !== 'ran' || result.outcome.status !== 'failed') throw new Error('expected a failed run');
    expect(result.outcome.error.code).toBe('empty-mask');
    expect(b.failures).toHaveLength(1);
    expect(result.record.attempts.some((a) => a.problems.some((p) => p.startsWith('run failed:')))).toBe(true);
  });

  it('rejects a plan that breaks a standing rule without running it', async () => {
    const rule = parseRule('never use GRAYSCALE', registry.list())!;
    let runs = 0;
    const result = await runPipeline({
      // A Builder that ignores rules: the pipeline's check is the last word.
      builder: { name: 'careless', plan: (r) => new OfflineBuilder(registry).plan({ ...r, rules: [] }) },
      request: request('make it black and white', { rules: [rule] }),
      maxRepairs: 2,
      rules: { list: [rule], catalogue: registry.list() },
      run: async (p) => {
        runs++;
        return runReal(p);
      },
    });
    expect(runs).toBe(0);
    expect(result.status).toBe('rejected');
    if (result.status !== 'rejected') throw new Error(result.status);
    expect(result.error).toBeInstanceOf(RuleViolationError);
    expect(result.error.code).toBe('rule-violated');
    expect(result.error.message).toMatch(/breaks your rules: .*GRAYSCALE/);
  });

  it('stops before running when cancelled after planning, and says a plan that could not be made failed', async () => {
    const controller = new AbortController();
    let runs = 0;
    const cancelled = await runPipeline({
      builder: new OfflineBuilder(registry),
      request: request('make it black and white', { signal: controller.signal }),
      maxRepairs: 2,
      onPlanned: () => controller.abort(),
      run: async (p) => {
        runs++;
        return runReal(p);
      },
    });
    expect([cancelled.status, runs]).toEqual(['cancelled', 0]);

    const failed = await runPipeline({ builder: new OfflineBuilder(registry), request: request('qwertyuiop zxcvbnm'), maxRepairs: 2, run: runReal });
    expect(failed.status).toBe('plan-failed');
    expect(failed.status === 'plan-failed' && failed.error).toBeInstanceOf(PlanRefusedError);
  });

  describe('with a critic', () => {
    // Mid-grey: black and white leaves it as it is (no effect); sepia tints it.
    const grey = makeImage(64, 48, 3, new Uint8Array(64 * 48 * 3).fill(128));
    const greyRequest = (instruction: string): PlanRequest => ({ image: grey, instruction, available: new Set(registry.names()) });
    const runGrey = (plan: Plan): Promise<RunOutcome> => executor.run(plan.workflow, { image: grey });
    const critic = new Critic(registry);
    const review = (r: PlanRequest) => (plan: Plan, outcome: Extract<RunOutcome, { status: 'ok' }>, attempt: number) => critic.review({ request: r, plan, inputs: { image: grey }, outcome, attempt });

    it('sends a result that passes the checks without a note, its verdict kept', async () => {
      const r = greyRequest('make it sepia');
      const result = await runPipeline({ builder: builder(() => Promise.reject(new Error('must not be asked'))), request: r, maxRepairs: 2, run: runGrey, review: review(r) });
      if (result.status !== 'ran') throw new Error(result.status);
      expect(result.review?.note).toBeUndefined();
      expect(result.review?.verdicts.map((v) => [v.by, v.verdict, v.attempt])).toEqual([['offline', 'done', 0]]);
    });

    it('re-plans once through the repair path after a failed check, and says in one line what it checked and changed', async () => {
      const r = greyRequest('make it black and white');
      const b = builder((req) => new OfflineBuilder(registry).plan({ ...req, instruction: 'make it sepia', revise: undefined }));
      const repairing: string[] = [];
      const result = await runPipeline({ builder: b, request: r, maxRepairs: 2, run: runGrey, review: review(r), onRepairing: (e) => void repairing.push(e.userMessage) });
      if (result.status !== 'ran') throw new Error(result.status);
      expect(b.failures.map((f) => [f.errorCode, f.error])).toEqual([['check-failed', 'Step 1 (GRAYSCALE) failed the check after the run: the result is the same picture as the input']]);
      expect(repairing).toEqual(['I checked the result: the result is the same picture as the input.']);
      expect(summariseWorkflow(result.plan.workflow)).toMatch(/STYLE|sepia/i);
      expect(result.review?.verdicts.map((v) => [v.verdict, v.attempt])).toEqual([['wrong', 0], ['done', 1]]);
      expect(result.review?.note).toMatch(/^I checked the result \(the result is the same picture as the input\) and re-planned once: /);
    });

    it('sends the first result with an honest note when the Builder has nothing else to try', async () => {
      const r = greyRequest('make it black and white');
      const b = builder(() => Promise.reject(new PlanRefusedError('nothing else to try')));
      const result = await runPipeline({ builder: b, request: r, maxRepairs: 2, run: runGrey, review: review(r) });
      if (result.status !== 'ran' || result.outcome.status !== 'ok') throw new Error('expected the checked result');
      expect(summariseWorkflow(result.plan.workflow)).toBe('GRAYSCALE');
      expect(result.review?.note).toBe('Note: I checked the result and the result is the same picture as the input; it may not be what you asked for.');
    });

    it('re-plans only once, however many repairs are allowed, and says the second plan was not right either', async () => {
      const r = greyRequest('make it black and white');
      const b = builder((req) => new OfflineBuilder(registry).plan({ ...req, revise: undefined }));
      const result = await runPipeline({ builder: b, request: r, maxRepairs: 3, run: runGrey, review: review(r) });
      if (result.status !== 'ran') throw new Error(result.status);
      expect(b.failures).toHaveLength(1);
      expect(result.review?.verdicts.map((v) => v.verdict)).toEqual(['wrong', 'wrong']);
      expect(result.review?.note).toMatch(/tried another plan, which is not right either/);
    });

    it('does not re-plan when RUN_REPAIRS is 0, and notes the failed check', async () => {
      const r = greyRequest('make it black and white');
      const b = builder(() => Promise.reject(new Error('must not be asked')));
      const result = await runPipeline({ builder: b, request: r, maxRepairs: 0, run: runGrey, review: review(r) });
      expect(b.failures).toEqual([]);
      expect(result.status === 'ran' && result.review?.note).toMatch(/^Note: I checked the result/);
    });
  });
});
