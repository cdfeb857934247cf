import { describe, expect, it } from 'vitest';
import { builtinBricks } from '../../bricks/index.ts';
import type { PlanRequest, PriorTurn, Rule } from '../../src/builder/builder.ts';
import { PlanRefusedError } from '../../src/builder/builder.ts';
import { OfflineBuilder, PLANNED_BY_FAMILIES } from '../../src/builder/offline-builder.ts';
import { checkRules, parseRule } from '../../src/builder/rules.ts';
import { defineBrick, port } from '../../src/engine/brick.ts';
import { BrickRegistry } from '../../src/engine/registry.ts';
import { makeImage } from '../../src/engine/values.ts';
import { serialiseWorkflow, summariseWorkflow } from '../../src/engine/workflow/serialise.ts';
import type { Workflow, WorkflowNode } from '../../src/engine/workflow/types.ts';
import { providedInputs, validateWorkflow } from '../../src/engine/workflow/validate.ts';
import { maskBounds } from '../../bricks/lib/pixels.ts';
import { Executor } from '../../src/engine/executor.ts';
import { decodeImage } from '../../src/engine/image-io.ts';
import type { ImageData, MaskData } from '../../src/engine/values.ts';
import { describeWithPhotos, readPhoto } from '../support/shared.ts';

const registry = new BrickRegistry(builtinBricks());
const image = makeImage(400, 300, 3);
const all = new Set(registry.names());
const builder = new OfflineBuilder(registry);

async function plan(instruction: string, extra: Partial<PlanRequest> = {}): Promise<Workflow> {
  const p = await builder.plan({ image, instruction, available: all, ...extra });
  expect(p.builder).toBe('offline');
  const checked = validateWorkflow(p.workflow, registry, { provided: providedInputs(extra) });
  expect(checked.ok, JSON.stringify(checked.issues)).toBe(true);
  return p.workflow;
}
const bricks = (wf: Workflow): string[] => wf.nodes.map((n) => n.brick);
const lit = (n: WorkflowNode | undefined, input: string) => {
  const b = n?.inputs[input];
  return b?.kind === 'literal' ? b.value : undefined;
};
const node = (wf: Workflow, brick: string) => wf.nodes.find((n) => n.brick === brick);

describe('OfflineBuilder instruction families', () => {
  it('removes an object the Lego-Edit way: RES → FASTINPAINT → FLUX-INPAINT refining the pre-fill', async () => {
    const wf = await plan('Remove the bear in the center of the image, blending the background to make it seamless.');
    expect(bricks(wf)).toEqual(['RES', 'FASTINPAINT', 'FLUX-INPAINT']);
    expect(lit(wf.nodes[0], 'prompt')).toBe('the bear in the center');
    expect(wf.nodes[2]!.inputs).toMatchObject({ preimage: { kind: 'ref', source: { step: 2, output: 'image' } }, score: { kind: 'ref', source: { step: 2, output: 'score' } }, image: { kind: 'ref', source: { kind: 'init' } } });
  });

  it('skips the FLUX-INPAINT refinement when it cannot run here', async () => {
    const wf = await plan('erase the red car', { available: new Set(['RES', 'FASTINPAINT']) });
    expect(bricks(wf)).toEqual(['RES', 'FASTINPAINT']);
  });

  it('recolours and changes material with RES → FLUX-RCM', async () => {
    for (const [instruction, object, target] of [
      ['Change the car color to light blue', 'the car', 'light blue'],
      ['Change the color of the person\'s shirt to a deep blue', "the person's shirt", 'deep blue'],
      ['make the red car blue', 'the red car', 'blue'],
      ['Change the car to gold material', 'the car', 'gold'],
      ['make the table out of marble', 'the table', 'marble'],
    ] as const) {
      const wf = await plan(instruction);
      expect(summariseWorkflow(wf), instruction).toBe(`RES('${object}') → FLUX-RCM('${target}')`);
    }
  });

  it('replaces with RES → BBOX → FLUX-FILL and adds with ADD-PRED → FLUX-FILL keeping the location', async () => {
    expect(summariseWorkflow(await plan('Replace the left sheep by a Border Collie dog'))).toBe("RES('the left sheep') → BBOX → FLUX-FILL('a Border Collie dog')");
    expect(summariseWorkflow(await plan('turn the cat into a tiger'))).toBe("RES('the cat') → BBOX → FLUX-FILL('a tiger')");
    expect(summariseWorkflow(await plan('Add a bicycle leaning against the fence on the right side of the path.'))).toBe(
      "ADD-PRED('a bicycle leaning against the fence on the right side of the path') → FLUX-FILL('a bicycle')",
    );
    const masked = await plan('add a cat here', { hasMask: true });
    expect(node(masked, 'ADD-PRED')!.inputs.mask).toEqual({ kind: 'ref', source: { kind: 'init', name: 'mask' } });
  });

  it('changes, blurs and whitens the background through INVERSE of the subject', async () => {
    expect(summariseWorkflow(await plan('blur the background'))).toBe("SOS → INVERSE → FLUX-CBG('blurred')");
    expect(summariseWorkflow(await plan('make the background white'))).toBe("SOS → INVERSE → FLUX-CBG('white studio')");
    expect(summariseWorkflow(await plan('Change the cabin in the picture from the forest to the beach.'))).toBe("RES('the cabin') → INVERSE → FLUX-CBG('the beach')");
    const wf = await plan('Change the stage background to a beach setting with palm trees');
    expect(lit(node(wf, 'FLUX-CBG'), 'prompt')).toBe('a beach setting with palm trees');
    expect(node(wf, 'INVERSE')!.inputs.mask2).toEqual({ kind: 'ref', source: { kind: 'step', step: 1, output: 'mask' } });
  });

  it('styles with CMI-PRED → FLUX-STYLE, and black and white with GRAYSCALE', async () => {
    const wf = await plan('Transfer the image into a traditional ukiyo-e woodblock-print style.');
    expect(bricks(wf)).toEqual(['CMI-PRED', 'FLUX-STYLE']);
    expect(lit(wf.nodes[1], 'style')).toBe('traditional ukiyo-e woodblock-print');
    expect(wf.nodes[1]!.inputs.prompt).toEqual({ kind: 'ref', source: { kind: 'step', step: 1, output: 'caption' } });
    expect(bricks(await plan('make it black and white'))).toEqual(['GRAYSCALE']);
    expect(lit((await plan('Switch to Ghibli style')).nodes[1], 'style')).toBe('Ghibli');
  });

  it('handles tone and light: global ADJUST, scoped ADJUST, FLUX-ENV for time, weather and warmth', async () => {
    expect(lit((await plan('make it brighter')).nodes[0], 'brightness')).toBeGreaterThan(1);
    expect(lit((await plan('a bit darker please')).nodes[0], 'brightness')).toBeLessThan(1);
    const sky = await plan('make the sky more vivid');
    expect(bricks(sky)).toEqual(['RES', 'ADJUST']);
    expect(lit(sky.nodes[1], 'saturation')).toBeGreaterThan(1);
    expect(sky.nodes[1]!.inputs.mask).toBeDefined();
    expect(summariseWorkflow(await plan('Change the scene to sunset'))).toBe("FLUX-ENV('sunset')");
    expect(summariseWorkflow(await plan('make it night'))).toBe("FLUX-ENV('night')");
    expect(bricks(await plan('warmer'))).toEqual(['FLUX-ENV']);
  });

  it('removes text with TEXT-DET and blurs faces with FACE-DET → BLUR', async () => {
    expect(bricks(await plan('remove the watermark'))).toEqual(['TEXT-DET', 'FASTINPAINT', 'FLUX-INPAINT']);
    expect(bricks(await plan('erase the text on the sign'))[0]).toBe('TEXT-DET');
    expect(bricks(await plan('remove the sign'))[0]).toBe('RES');
    expect(bricks(await plan("blur everyone's face"))).toEqual(['FACE-DET', 'BLUR']);
    expect(lit(node(await plan('pixelate the license plate'), 'BLUR'), 'mode')).toBe('pixelate');
  });

  it('crops, rotates, flips and resizes with the geometry bricks', async () => {
    expect(lit((await plan('crop to a square')).nodes[0], 'aspect')).toBe(1);
    expect((await plan('crop 10% off each side')).nodes[0]!.inputs).toMatchObject({ left: { value: 0.1 }, right: { value: 0.1 }, top: { value: 0.1 }, bottom: { value: 0.1 } });
    expect(bricks(await plan('crop to the dog'))).toEqual(['RES', 'CROP']);
    expect(lit((await plan('rotate 90 degrees counterclockwise')).nodes[0], 'angle')).toBe(-90);
    expect(lit((await plan('turn it upside down')).nodes[0], 'angle')).toBe(180);
    expect(lit((await plan('flip vertically')).nodes[0], 'direction')).toBe('vertical');
    expect(lit((await plan('mirror the photo')).nodes[0], 'direction')).toBe('horizontal');
    expect(lit((await plan('resize to 50%')).nodes[0], 'ratio')).toBe(0.5);
    expect(lit((await plan('resize to 800 pixels wide')).nodes[0], 'ratio')).toBe(2);
    expect(lit((await plan('upscale 2x')).nodes[0], 'ratio')).toBe(2);
  });

  it('extracts a named object as RES\'s cut-out image, the main subject with SOS', async () => {
    const wf = await plan('Extract the green armchair visible in the image');
    expect(summariseWorkflow(wf)).toBe("RES('the green armchair')");
    expect(wf.results).toEqual([{ kind: 'step', step: 1, output: 'image' }]);
    expect(bricks(await plan('remove the background'))).toEqual(['SOS']);
  });

  it('outpaints by a ratio or to an aspect with CMI-PRED → FLUX-FILL on the new canvas', async () => {
    const wf = await plan('expand the image to the right by 30%');
    // Ratios multiply their sides: 1 keeps one, 1.3 adds 30% of the width on the right.
    expect(wf.nodes[0]!.inputs).toMatchObject({ left_ratio: { value: 1 }, right_ratio: { value: 1.3 }, top_ratio: { value: 1 }, bottom_ratio: { value: 1 } });
    expect(wf.nodes[1]!.inputs).toMatchObject({ image: { source: { step: 1, output: 'image' } }, mask: { source: { step: 1, output: 'mask' } }, prompt: { source: { step: 1, output: 'caption' } } });
    // 400x300 to 16:9 needs 533 px of width: 0.167 of the width on each side.
    expect(lit((await plan('make it 16:9 by outpainting')).nodes[0], 'left_ratio')).toBeCloseTo(1.167, 3);
  });

  it('expands "2x" as the published Builder does, with ratio 2 (twice the width and height), and a named side by that factor', async () => {
    expect(summariseWorkflow(await plan('expand the image 2x'))).toBe('CMI-PRED(2) → FLUX-FILL');
    expect((await plan('expand the image 2x')).nodes[0]!.inputs).not.toHaveProperty('left_ratio');
    expect((await plan('extend it to the left 2x')).nodes[0]!.inputs).toMatchObject({ left_ratio: { value: 2 }, right_ratio: { value: 1 } });
    // "2x wider": the width doubles, half of the new width on each side.
    expect((await plan('outpaint it 2x wider')).nodes[0]!.inputs).toMatchObject({ left_ratio: { value: 1.5 }, right_ratio: { value: 1.5 }, top_ratio: { value: 1 } });
  });

  it('scales the whole picture with SCALE and zooms in on it with RESIZE', async () => {
    expect(summariseWorkflow(await plan('resize the image to 50%'))).toBe('SCALE(0.5)');
    expect(summariseWorkflow(await plan('zoom in 2x'))).toBe('RESIZE(2)');
  });

  it('chains multi-step instructions on the previous result and resolves "it"', async () => {
    const wf = await plan('Remove the books from the shelf, and change the color of the couch pillow to blue.', { available: new Set(['RES', 'FASTINPAINT', 'FLUX-RCM']) });
    expect(summariseWorkflow(wf)).toBe("RES('the books from the shelf') → FASTINPAINT → RES('the couch pillow') → FLUX-RCM('blue')");
    expect(wf.nodes[2]!.inputs.image).toEqual({ kind: 'ref', source: { kind: 'step', step: 2, output: 'image' } });
    const it2 = await plan('change the car to red and then remove it', { available: new Set(['RES', 'FASTINPAINT', 'FLUX-RCM']) });
    expect(lit(it2.nodes[2], 'prompt')).toBe('the car');
    const splitNot = await plan('Remove the yacht and the water surrounding it');
    expect(bricks(splitNot).filter((b) => b === 'RES')).toHaveLength(1);
  });

  it('refuses plainly, with suggestions, what it cannot plan', async () => {
    for (const instruction of ['do something nice', 'sharpen it']) {
      const err = await builder.plan({ image, instruction, available: all }).catch((e: unknown) => e);
      expect(err, instruction).toBeInstanceOf(PlanRefusedError);
      expect((err as PlanRefusedError).suggestions.length).toBeGreaterThan(0);
    }
  });

  it('resizes one object in place with RESIZE of its mask: the old place filled, the object pasted at its new size', async () => {
    const wf = await plan('make the dog smaller');
    expect(summariseWorkflow(wf)).toBe("RES('the dog') → RESIZE(0.667) → FASTINPAINT → FLUX-INPAINT → PASTE");
    const [res, resize, , , paste] = wf.nodes;
    const ref = (step: number, output: string) => ({ kind: 'ref', source: { kind: 'step', step, output } });
    expect(resize!.inputs).toMatchObject({ mask: ref(res!.step, 'mask'), ratio: { value: 0.667 } });
    expect(paste!.inputs).toMatchObject({ reference: { kind: 'ref', source: { kind: 'init', name: 'image' } }, mask: ref(resize!.step, 'mask'), cutout: ref(res!.step, 'mask') });
    expect(summariseWorkflow(await plan('resize the vase to be larger', { available: new Set(['RES', 'RESIZE', 'FASTINPAINT', 'PASTE']) }))).toBe(
      "RES('the vase') → RESIZE(1.5) → FASTINPAINT → PASTE",
    );
    expect(lit((await plan('shrink the car by 20%')).nodes[1], 'ratio')).toBe(0.8);
    expect(lit((await plan('make the dog 2x smaller')).nodes[1], 'ratio')).toBe(0.5);
    expect(summariseWorkflow(await plan('increase the size of the kangaroo', { available: new Set(['RES', 'RESIZE', 'FASTINPAINT', 'PASTE']) }))).toBe(
      "RES('the kangaroo') → RESIZE(1.5) → FASTINPAINT → PASTE",
    );
    expect(lit((await plan('reduce the size of the dog by 30%')).nodes[1], 'ratio')).toBe(0.7);
    // The whole picture: new dimensions.
    expect(summariseWorkflow(await plan('make it 20% smaller'))).toBe('SCALE(0.8)');
    // "make" is about size only with a comparative of size.
    await expect(builder.plan({ image, instruction: 'make the cat twice as fluffy', available: all })).rejects.toBeInstanceOf(PlanRefusedError);
  });

  it('reaches a brick added to the registry later through its description, with no Builder change', async () => {
    const withUpscaler = new BrickRegistry([
      ...builtinBricks(),
      defineBrick({
        name: 'SUPERRES',
        kind: 'edit',
        description: 'Super-resolution: sharpen and denoise a blurry photo',
        inputs: { image: port.image() },
        outputs: { image: port.image() },
        version: '1',
        run: async ({ image: i }) => ({ image: i }),
      }),
    ]);
    const p = await new OfflineBuilder(withUpscaler).plan({ image, instruction: 'sharpen this blurry photo', available: new Set(withUpscaler.names()) });
    expect(bricks(p.workflow)).toEqual(['SUPERRES']);
    expect(p.reasoning).toMatch(/SUPERRES/);
  });
});

describe('OfflineBuilder with a second photo from the user', () => {
  it('pastes it for "add this …", "put it …" and "add the hat from the second photo …", placed by ADD-PRED', async () => {
    for (const [instruction, prompt] of [
      ['add this next to the dog', 'object next to the dog'],
      ['put it on the table', 'object on the table'],
      ['add the hat from the second photo on the man', 'hat on the man'],
      ['add the big red hat from the other picture on the man', 'big red hat on the man'],
      ['put this hat on the man', 'hat on the man'],
    ] as const) {
      const wf = await plan(instruction, { hasReference: true });
      expect(bricks(wf), instruction).toEqual(['ADD-PRED', 'PASTE']);
      expect(lit(wf.nodes[0], 'prompt'), instruction).toBe(prompt);
      expect(serialiseWorkflow(wf)).toMatch(/"reference": ?"init\[reference\]"/);
    }
  });

  it('still draws for "draw …", and without a second photo "add a hat" is drawn', async () => {
    expect(bricks(await plan('draw a cat on the left', { hasReference: true }))).toEqual(['ADD-PRED', 'FLUX-FILL']);
    expect(bricks(await plan('add a hat on the man'))).toEqual(['ADD-PRED', 'FLUX-FILL']);
  });
});

describe('OfflineBuilder and bricks registered later', () => {
  it('knows which bricks its families plan from their declarations, every one a registered brick', () => {
    const stray = [...PLANNED_BY_FAMILIES].filter((name) => !registry.has(name));
    expect(stray).toEqual([]);
    expect([...PLANNED_BY_FAMILIES]).toEqual(expect.arrayContaining(['RES', 'FASTINPAINT', 'FLUX-INPAINT', 'PASTE', 'BLUR', 'CROP', 'FLUX-CBG', 'INVERSE']));
    // No family plans these: a named request for them goes to the generic route.
    expect(PLANNED_BY_FAMILIES.has('COMPOSE')).toBe(false);
    expect(PLANNED_BY_FAMILIES.has('DILATE')).toBe(false);
  });

  const upscaler = (factor: ReturnType<typeof port.float>) =>
    defineBrick({
      name: 'UPSCALER',
      kind: 'edit',
      description: 'Upscale the image with a super-resolution model',
      inputs: { image: port.image(), factor },
      outputs: { image: port.image() },
      version: '1',
      run: async ({ image: i }) => ({ image: i }),
    });
  const planWith = async (brick: ReturnType<typeof upscaler>, instruction: string) => {
    const reg = new BrickRegistry([...builtinBricks(), brick]);
    const p = await new OfflineBuilder(reg).plan({ image, instruction, available: new Set(reg.names()) });
    expect(validateWorkflow(p.workflow, reg).ok).toBe(true);
    return p;
  };

  it('reaches a registered brick with a required Float, filling it from the number in the instruction', async () => {
    const p = await planWith(upscaler(port.float({ min: 1, max: 8 })), 'upscale it 4x');
    expect(summariseWorkflow(p.workflow)).toBe('UPSCALER(4)');
    expect(p.reasoning).toMatch(/UPSCALER/);
  });

  it('prefers the brick named for the job to the family\'s stand-in, and falls back to it when the brick cannot be wired', async () => {
    const brick = upscaler(port.float({ min: 1, max: 8 }));
    // No number for the required factor: SCALE does the job instead.
    expect(summariseWorkflow((await planWith(brick, 'upscale the photo')).workflow)).toBe('SCALE(2)');
    // Out of the port's range: likewise.
    expect(summariseWorkflow((await planWith(brick, 'upscale it 20x')).workflow)).toBe('SCALE(8)');
  });

  it('leaves a Float with a default to its default when the instruction gives no number', async () => {
    const p = await planWith(upscaler(port.float({ min: 1, max: 8, default: 2 })), 'upscale the photo');
    expect(summariseWorkflow(p.workflow)).toBe('UPSCALER');
  });

  it('never emits a settings-only brick with no settings: "tone down the saturation" is ADJUST with a saturation', async () => {
    const wf = await plan('tone down the saturation a little');
    expect(bricks(wf)).toEqual(['ADJUST']);
    expect(Number(lit(wf.nodes[0], 'saturation'))).toBeLessThan(1);
  });
});

describe('OfflineBuilder standing rules', () => {
  const rule = (t: string): Rule => parseRule(t, registry.list())!;
  const feedsInpaint = (wf: Workflow) => checkRules(wf, [rule("don't use RES before INPAINT")], registry.list()).length > 0;

  it('after "don\'t use RES before INPAINT" no removal has RES feeding FASTINPAINT or FLUX-INPAINT', async () => {
    const rules = [rule("don't use RES before INPAINT")];
    for (const instruction of ['remove the dog', 'Remove the red trolley in the foreground.', 'remove the watermark', 'Remove the books from the shelf, and change the color of the couch pillow to blue.']) {
      const wf = await plan(instruction, { rules });
      expect(feedsInpaint(wf), `${instruction}: ${summariseWorkflow(wf)}`).toBe(false);
      expect(bricks(wf)).toContain('FASTINPAINT');
    }
    // RES still segments what does not reach an inpainting brick.
    expect(bricks(await plan('change the car to red', { rules }))).toEqual(['RES', 'FLUX-RCM']);
  });

  it('uses the user\'s mask with MASK-SEG under that rule when there is one', async () => {
    const wf = await plan('remove the dog', { rules: [rule("don't use RES before INPAINT")], hasMask: true });
    expect(bricks(wf)[0]).toBe('MASK-SEG');
  });

  it('honours "never use", "always use SOS for segmentation" and "prefer FASTINPAINT"', async () => {
    expect(bricks(await plan('remove the dog', { rules: [rule('never use FLUX-INPAINT')] }))).toEqual(['RES', 'FASTINPAINT']);
    expect(bricks(await plan('change the car to red', { rules: [rule('always use SOS for segmentation')] }))).toEqual(['SOS', 'FLUX-RCM']);
    expect(bricks(await plan('remove the dog', { rules: [rule("prefer FASTINPAINT, I'm in a hurry")] }))).toEqual(['RES', 'FASTINPAINT']);
  });

  it('refuses, naming the rule, when every way breaks it', async () => {
    const err = (await builder.plan({ image, instruction: 'make it sepia', available: all, rules: [rule('never use FLUX-STYLE')] }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(PlanRefusedError);
    expect(err.message).toMatch(/never use FLUX-STYLE/);
  });

  it('ends a refusal under a require rule with one period, not "instead).."', async () => {
    const err = (await builder.plan({ image, instruction: 'remove the dog', available: all, rules: [rule('always use MASK-SEG for segmentation')] }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(PlanRefusedError);
    expect(err.message).toBe('Every way I know to do "remove the dog" would break your rule "always use MASK-SEG for segmentation". Remove the rule or ask for something else.');
  });

  it('re-routes the plan under the lower-case "don\'t use res before inpaint" too', async () => {
    const wf = await plan('remove the dog', { rules: [rule("don't use res before inpaint")] });
    expect(summariseWorkflow(wf)).toBe('SOS → FASTINPAINT → FLUX-INPAINT');
  });

  it('under "don\'t use RES before INPAINT" swaps the segmenter only for the object being removed: RES(\'the couch pillow\') survives', async () => {
    const wf = await plan('remove the books and change the color of the couch pillow to blue', { rules: [rule("don't use RES before INPAINT")] });
    expect(summariseWorkflow(wf)).toBe("SOS → FASTINPAINT → FLUX-INPAINT → RES('the couch pillow') → FLUX-RCM('blue')");
  });

  it('tells the user when a rule makes SOS stand in for RES, before anything else in the reasoning', async () => {
    const p = await builder.plan({ image, instruction: 'remove the dog', available: all, rules: [rule("don't use RES before INPAINT")] });
    expect(p.reasoning).toMatch(/^Because of your rule "don't use RES before INPAINT", SOS takes the most salient object instead of RES finding "the dog" by name; if that is not the dog, send a mask of it\./);
    const free = await builder.plan({ image, instruction: 'change the car to red', available: all, rules: [rule("don't use RES before INPAINT")] });
    expect(free.reasoning).not.toMatch(/Because of your rule/);
  });
});

describe('OfflineBuilder revisions from feedback', () => {
  const turnFor = async (instruction: string, extra: Partial<PriorTurn> = {}): Promise<PriorTurn> => ({ instruction, workflow: await plan(instruction), status: 'done', ...extra });
  const revise = async (turn: PriorTurn, feedback: string, extra: Partial<PlanRequest> = {}) =>
    (await builder.plan({ image, instruction: feedback, available: all, revise: { turn, feedback }, ...extra })).workflow;
  /** Steps whose brick and inputs are unchanged, as serialised JSON. */
  const same = (a: Workflow, b: Workflow, steps: number[]) => {
    for (const s of steps) expect(JSON.stringify(b.nodes.find((n) => n.step === s))).toBe(JSON.stringify(a.nodes.find((n) => n.step === s)));
  };

  it('"no, the other sheep" moves RES to the other one and keeps the other steps byte-identical', async () => {
    const turn = await turnFor('remove the left sheep');
    const wf = await revise(turn, 'no, the other sheep');
    expect(lit(wf.nodes[0], 'prompt')).toBe('the right sheep');
    expect(serialiseWorkflow(wf).replace('the right sheep', 'the left sheep')).toBe(serialiseWorkflow(turn.workflow!));
    expect(lit((await revise(await turnFor('remove the sheep'), 'no, the one on the left')).nodes[0], 'prompt')).toBe('the left sheep');
  });

  it('"that removed too much" shrinks the mask with DILATE before the inpainting', async () => {
    const turn = await turnFor('remove the dog');
    const wf = await revise(turn, 'that removed too much');
    expect(bricks(wf)).toEqual(['RES', 'DILATE', 'FASTINPAINT', 'FLUX-INPAINT']);
    expect(lit(wf.nodes[1], 'radius')).toBeLessThan(0);
    same(turn.workflow!, wf, [1]);
    expect(wf.nodes[2]!.inputs.mask).toEqual({ kind: 'ref', source: { kind: 'step', step: 2, output: 'mask' } });
    expect(wf.nodes[3]!.inputs.mask).toEqual({ kind: 'ref', source: { kind: 'step', step: 2, output: 'mask' } });
    // For a replacement the box goes first: the fill follows the object's outline.
    const replaced = await revise(await turnFor('replace the cat with a dog'), 'too much was changed, tighter please');
    expect(bricks(replaced)).toEqual(['RES', 'FLUX-FILL']);
  });

  it('"try again with a bigger mask" grows it, and again grows it further', async () => {
    const turn = await turnFor('remove the dog');
    const once = await revise(turn, 'try again with a bigger mask');
    const r1 = Number(lit(node(once, 'DILATE'), 'radius'));
    expect(r1).toBeGreaterThan(0);
    const twice = await revise({ ...turn, workflow: once }, 'still visible, bigger mask');
    expect(Number(lit(node(twice, 'DILATE'), 'radius'))).toBeGreaterThan(r1);
    same(once, twice, [1, 3, 4]);
  });

  it('"too much" weakens the literal and "stronger" strengthens it, nothing else changes', async () => {
    const turn = await turnFor('make it much brighter');
    const b0 = Number(lit(turn.workflow!.nodes[0], 'brightness'));
    const weaker = await revise(turn, 'too much');
    const b1 = Number(lit(weaker.nodes[0], 'brightness'));
    expect(b1).toBeGreaterThan(1);
    expect(b1).toBeLessThan(b0);
    const stronger = await revise(turn, 'stronger');
    expect(Number(lit(stronger.nodes[0], 'brightness'))).toBeGreaterThan(b0);
  });

  it('"blue instead" swaps the recolour target and keeps RES', async () => {
    const turn = await turnFor('change the car to red');
    const wf = await revise(turn, 'no, blue instead');
    expect(summariseWorkflow(wf)).toBe("RES('the car') → FLUX-RCM('blue')");
    same(turn.workflow!, wf, [1]);
  });

  it('"instead" with a new object or a new colour revises the same plan, however it is worded', async () => {
    const turn = await turnFor('make the car red');
    for (const [feedback, want] of [
      ['no, the truck instead', "RES('the truck') → FLUX-RCM('red')"],
      ['the truck instead', "RES('the truck') → FLUX-RCM('red')"],
      ['no, make it green instead', "RES('the car') → FLUX-RCM('green')"],
      ['make the car green instead', "RES('the car') → FLUX-RCM('green')"],
      ['undo that and make the car green instead', "RES('the car') → FLUX-RCM('green')"],
      ['make the truck red instead', "RES('the truck') → FLUX-RCM('red')"],
    ] as const) {
      expect(summariseWorkflow(await revise(turn, feedback)), feedback).toBe(want);
    }
  });

  it('after an empty mask, "try again" asks RES for just the head noun', async () => {
    const turn = await turnFor('remove the small brown dog sitting on the sofa', { status: 'failed', error: 'Step 1 (RES) found nothing' });
    const wf = await revise(turn, 'try again');
    expect(lit(wf.nodes[0], 'prompt')).toBe('the dog');
  });

  it('plain "again" after a good result runs the same plan afresh; "again" with more words is not a plain re-run', async () => {
    const turn = await turnFor('remove the dog');
    const again = await builder.plan({ image, instruction: 'try again', available: all, revise: { turn, feedback: 'try again please' } });
    expect(again.rerun).toBe(true);
    expect(JSON.stringify(again.workflow)).toBe(JSON.stringify(turn.workflow));
    const bigger = await builder.plan({ image, instruction: 'x', available: all, revise: { turn, feedback: 'try again with a bigger mask' } });
    expect(bigger.rerun).toBeUndefined();
    expect(bricks(bigger.workflow)).toContain('DILATE');
  });

  it('a rule given as feedback re-plans the last instruction under it', async () => {
    const turn = await turnFor('remove the dog');
    const rules = [parseRule("don't use RES before INPAINT", registry.list())!];
    const wf = await revise(turn, "don't use RES before INPAINT", { rules });
    expect(checkRules(wf, rules, registry.list())).toEqual([]);
    expect(bricks(wf)).toContain('FASTINPAINT');
  });

  it('feedback that is a new edit is planned for the same image; nonsense is refused', async () => {
    const turn = await turnFor('remove the dog');
    expect(bricks(await revise(turn, 'no, make it black and white'))).toEqual(['GRAYSCALE']);
    await expect(revise(turn, 'hmm, weird')).rejects.toBeInstanceOf(PlanRefusedError);
  });
});

describeWithPhotos('OfflineBuilder object resizing on a real photo', () => {
  it('"make the left sheep smaller" runs here: the sheep keeps its feet where they were and the top of its old place is filled', async () => {
    const photo = await decodeImage(readPhoto('two-sheep.jpg'));
    const p = await builder.plan({ image: photo, instruction: 'make the left sheep smaller', available: all });
    const [res, resize] = p.workflow.nodes;
    // The masks too, to see where the sheep was and where it went.
    const wf = { ...p.workflow, results: [...p.workflow.results, { kind: 'step' as const, step: res!.step, output: 'mask' }, { kind: 'step' as const, step: resize!.step, output: 'mask' }] };
    const outcome = await new Executor(registry, { concurrency: 1 }).run(wf, { image: photo });
    expect(outcome.status === 'failed' ? outcome.error.message : outcome.status).toBe('ok');
    if (outcome.status !== 'ok') return;
    const [edited, before, after] = outcome.results as [ImageData, MaskData, MaskData];
    const was = maskBounds(before, 127)!;
    const now = maskBounds(after, 127)!;
    expect(now.y + now.height).toBe(was.y + was.height);
    expect(now.height).toBeLessThan(was.height * 0.75);
    expect([edited.width, edited.height]).toEqual([photo.width, photo.height]);
    // Where the sheep's head was, above its new top, the picture changed.
    let changed = 0;
    let n = 0;
    for (let y = was.y; y < now.y; y++) {
      for (let x = was.x; x < was.x + was.width; x++) {
        const p = y * photo.width + x;
        if (before.data[p]! < 200) continue;
        n++;
        if (Math.abs(edited.data[p * 3]! - photo.data[p * 3]!) + Math.abs(edited.data[p * 3 + 1]! - photo.data[p * 3 + 1]!) > 30) changed++;
      }
    }
    expect(n).toBeGreaterThan(100);
    expect(changed / n).toBeGreaterThan(0.5);
  }, 60_000);
});
