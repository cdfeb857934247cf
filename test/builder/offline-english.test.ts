/**
 * The offline Builder on what people actually write (issue 16): the plan shape
 * for exceptions, quantities, references, chains, polite forms, typos and
 * amounts, refusals of what no photo edit can do, and feedback that re-scopes
 * the last edit. The English itself is specified in test/builder/english/.
 */
import { describe, expect, it } from 'vitest';
import { builtinBricks } from '../../bricks/index.ts';
import { PlanRefusedError } from '../../src/builder/builder.ts';
import { OfflineBuilder } from '../../src/builder/offline-builder.ts';
import { BrickRegistry } from '../../src/engine/registry.ts';
import { makeImage } from '../../src/engine/values.ts';
import { summariseWorkflow } from '../../src/engine/workflow/serialise.ts';
import { validateWorkflow } from '../../src/engine/workflow/validate.ts';

const registry = new BrickRegistry(builtinBricks());
const image = makeImage(400, 300, 3);
const builder = new OfflineBuilder(registry);
const available = new Set(registry.names());

async function shape(instruction: string): Promise<string> {
  const p = await builder.plan({ image, instruction, available });
  expect(validateWorkflow(p.workflow, registry).ok, instruction).toBe(true);
  return summariseWorkflow(p.workflow);
}

describe('the offline Builder reads people', () => {
  it.each([
    ['make everything black and white except the girl', "RES('the girl') → INVERSE → GRAYSCALE"],
    ['keep the car in colour', "RES('the car') → INVERSE → GRAYSCALE"],
    ['brighten the picture but leave her face alone', 'FACE-DET → INVERSE → ADJUST(1.3)'],
    ["don't blur the girl, blur the background", "RES('the girl') → INVERSE → FLUX-CBG('blurred')"],
    ['make both sheep pink', "RES('both sheep') → FLUX-RCM('pink')"],
    ['make the two sheep black and white', "RES('the two sheep') → GRAYSCALE"],
    ['of the two sheep, remove the one on the right', "RES('the sheep on the right') → FASTINPAINT → FLUX-INPAINT"],
    ['remove the left sheep, then make the other one black and white', "RES('the left sheep') → FASTINPAINT → FLUX-INPAINT → RES('the right sheep') → GRAYSCALE"],
    ['first crop it square, then brighten it', 'CROP(1) → ADJUST(1.3)'],
    ['would you mind making it black and white?', 'GRAYSCALE'],
    ['remvoe the car', "RES('the car') → FASTINPAINT → FLUX-INPAINT"],
    ['20 % brighter', 'ADJUST(1.2)'],
    ['rotate it a quarter turn to the left', 'ROTATE(-90)'],
  ])('plans "%s" as %s', async (instruction, expected) => {
    expect(await shape(instruction)).toBe(expected);
  });

  it('refuses what no photo edit can do in one sentence with something it can do instead, and no list after it', async () => {
    const refusal = builder.plan({ image, instruction: 'animate the car driving', available });
    await expect(refusal).rejects.toBeInstanceOf(PlanRefusedError);
    await expect(refusal).rejects.toThrow(/^I edit single still photos, so I can't make video, animation or motion; I can .* instead, e\.g\. .*\.$/);
  });

  it('asks what to change when told only what to leave alone', async () => {
    await expect(builder.plan({ image, instruction: "don't touch the sky", available })).rejects.toThrow(/leave alone \("the sky"\) but not what to change/);
  });

  it('cannot leave an object out of a whole-scene edit and says which edits can', async () => {
    await expect(builder.plan({ image, instruction: 'make it sunset except the girl', available })).rejects.toThrow(/can't leave "the girl" out of that edit here; I can keep it out of black and white, tone, blur, style and background/);
  });
});

describe('feedback on the last plan', () => {
  async function revise(previous: string, feedback: string): Promise<string> {
    const first = await builder.plan({ image, instruction: previous, available });
    const turn = { instruction: previous, workflow: first.workflow, status: 'done' as const };
    const p = await builder.plan({ image, instruction: previous, available, history: [turn], revise: { turn, feedback } });
    return summariseWorkflow(p.workflow);
  }

  it.each([
    ['make the car red', 'no, blue', "RES('the car') → FLUX-RCM('blue')"],
    ['remove the right sheep', 'no, both of them', "RES('both sheep') → FASTINPAINT → FLUX-INPAINT"],
    ['make the woman black and white', 'no, everything except her', "RES('the woman') → INVERSE → GRAYSCALE"],
    ['remove the first car from the left', 'no, the second one', "RES('the second car from the left') → FASTINPAINT → FLUX-INPAINT"],
  ])('after "%s", "%s" gives %s', async (previous, feedback, expected) => {
    expect(await revise(previous, feedback)).toBe(expected);
  });
});
