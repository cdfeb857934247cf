/**
 * OfflineBuilder.repairAfterFailure: a run that failed in a way a different plan
 * can avoid gets that plan, or a refusal that says why there is none. The failed
 * turns carry the executor's own error messages.
 */
import { describe, expect, it } from 'vitest';
import { builtinBricks } from '../../bricks/index.ts';
import type { PlanRequest, PriorTurn } from '../../src/builder/builder.ts';
import { PlanRefusedError } from '../../src/builder/builder.ts';
import { OfflineBuilder } from '../../src/builder/offline-builder.ts';
import { parseRule } from '../../src/builder/rules.ts';
import { type ErrorCode, NeedsGpuHostError } from '../../src/engine/errors.ts';
import { BrickRegistry } from '../../src/engine/registry.ts';
import { EmptyMaskError, StepFailedError } from '../../src/engine/step-errors.ts';
import { makeImage } from '../../src/engine/values.ts';
import { serialiseWorkflow, summariseWorkflow } from '../../src/engine/workflow/serialise.ts';
import type { Workflow } from '../../src/engine/workflow/types.ts';

const registry = new BrickRegistry(builtinBricks());
const image = makeImage(400, 300, 3);
const all = new Set(registry.names());
const builder = new OfflineBuilder(registry);

const request = (instruction: string, extra: Partial<PlanRequest> = {}): PlanRequest => ({ image, instruction, available: all, ...extra });

/** The turn the session manager hands back after a run failed: the workflow that ran and the executor's error. */
const failedTurn = (instruction: string, workflow: Workflow, err: Error & { code?: ErrorCode }, withCode = true): PriorTurn => ({
  instruction,
  workflow,
  status: 'failed',
  error: err.message,
  ...(withCode && err.code ? { errorCode: err.code } : {}),
});

const foundNothing = (wf: Workflow, step: number): EmptyMaskError => {
  const node = wf.nodes.find((n) => n.step === step)!;
  const prompt = node.inputs.prompt?.kind === 'literal' ? String(node.inputs.prompt.value) : undefined;
  return EmptyMaskError.foundNothing(step, node.brick, 'mask', prompt, 'the edit would change nothing');
};

const needsGpu = (step: number, brick: string): StepFailedError => new StepFailedError(step, brick, {}, new NeedsGpuHostError(brick, `${brick} generation`));

describe('OfflineBuilder.repairAfterFailure after an empty mask', () => {
  it('asks RES for the head noun, keeping every other step byte for byte', async () => {
    const instruction = 'remove the small brown dog sitting on the sofa';
    const first = (await builder.plan(request(instruction))).workflow;
    const repaired = await builder.repairAfterFailure(request(instruction), failedTurn(instruction, first, foundNothing(first, 1)));
    expect(summariseWorkflow(repaired.workflow)).toBe("RES('the dog') → FASTINPAINT → FLUX-INPAINT");
    expect(serialiseWorkflow(repaired.workflow).replace('"the dog"', '"the small brown dog sitting on the sofa"')).toBe(serialiseWorkflow(first));
    expect(repaired.reasoning).toMatch(/RES found nothing for "the small brown dog sitting on the sofa"; it now looks for just "the dog"/);
    expect(repaired.builder).toBe('offline');
  });

  it('does not trade a named object for the most salient one unasked: it refuses, saying the object may not be there', async () => {
    const instruction = 'remove the dog';
    const first = (await builder.plan(request(instruction))).workflow;
    const err = await builder.repairAfterFailure(request(instruction), failedTurn(instruction, first, foundNothing(first, 1))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlanRefusedError);
    expect((err as Error).message).toMatch(/^RES \(step 1\) found nothing for "the dog": it may not be in the photo\..*"try again"/);
  });

  it('reads the failure from the message alone when the caller has no error code', async () => {
    const instruction = 'change the red sports car to blue';
    const first = (await builder.plan(request(instruction))).workflow;
    const repaired = await builder.repairAfterFailure(request(instruction), failedTurn(instruction, first, foundNothing(first, 1), false));
    expect(summariseWorkflow(repaired.workflow)).toBe("RES('the car') → FLUX-RCM('blue')");
  });

  it('refuses rather than break a rule: under "always use RES for segmentation" SOS is no way out', async () => {
    const rules = [parseRule('always use RES for segmentation', registry.list())!];
    const instruction = 'remove the dog';
    const first = (await builder.plan(request(instruction, { rules }))).workflow;
    const err = await builder.repairAfterFailure(request(instruction, { rules }), failedTurn(instruction, first, foundNothing(first, 1))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlanRefusedError);
    expect((err as Error).message).toMatch(/RES \(step 1\) found nothing for "the dog"/);
  });
});

describe('OfflineBuilder.repairAfterFailure after a brick could not run', () => {
  it('drops FLUX-INPAINT when it needs a GPU host: RES → FASTINPAINT does the removal', async () => {
    const instruction = 'remove the dog';
    const first = (await builder.plan(request(instruction))).workflow;
    expect(summariseWorkflow(first)).toBe("RES('the dog') → FASTINPAINT → FLUX-INPAINT");
    for (const withCode of [true, false]) {
      const repaired = await builder.repairAfterFailure(request(instruction), failedTurn(instruction, first, needsGpu(3, 'FLUX-INPAINT'), withCode));
      expect(summariseWorkflow(repaired.workflow)).toBe("RES('the dog') → FASTINPAINT");
      expect(repaired.reasoning).toMatch(/^FLUX-INPAINT needs a GPU host, so this plan does without it\./);
    }
  });

  it('refuses, naming the brick, when every plan for the instruction needs it', async () => {
    const instruction = 'replace the cat with a dog';
    const first = (await builder.plan(request(instruction))).workflow;
    const err = await builder.repairAfterFailure(request(instruction), failedTurn(instruction, first, needsGpu(3, 'FLUX-FILL'))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlanRefusedError);
    expect((err as Error).message).toBe('FLUX-FILL needs a GPU host, and I know no way to do "replace the cat with a dog" without it.');
  });

  it('refuses when there is no workflow, or no step to blame', async () => {
    const noWorkflow = await builder.repairAfterFailure(request('remove the dog'), { instruction: 'remove the dog', status: 'failed', error: 'boom' }).catch((e: unknown) => e);
    expect((noWorkflow as Error).message).toMatch(/There is no workflow to repair/);
    const first = (await builder.plan(request('remove the dog'))).workflow;
    const unknown = await builder.repairAfterFailure(request('remove the dog'), { instruction: 'remove the dog', workflow: first, status: 'failed', error: 'the disk is full' }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(PlanRefusedError);
    expect((unknown as Error).message).toMatch(/can't tell from the failure which step to change \(the disk is full\)/);
  });
});
