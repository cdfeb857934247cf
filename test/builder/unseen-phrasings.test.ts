/**
 * Phrasings that are in no benchmark, with the plan shape each should get. The
 * planner must generalise to them (wishes instead of commands, particle verbs,
 * "one" for the replaced thing, colour verbs, settings named by direction), not
 * special-case sentences; a failure here is a gap in a family, not in a list.
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

async function shape(instruction: string): Promise<string> {
  const p = await builder.plan({ image, instruction, available: new Set(registry.names()) });
  expect(validateWorkflow(p.workflow, registry).ok, instruction).toBe(true);
  return summariseWorkflow(p.workflow);
}

const cases: ReadonlyArray<readonly [string, string, ReadonlyArray<readonly [string, string]>]> = [
  [
    'recolours the object, not "the" made "sky pink"',
    'recolour',
    [
      ['make the sky pink', "RES('the sky') → FLUX-RCM('pink')"],
      ['make the car sky blue', "RES('the car') → FLUX-RCM('sky blue')"],
      ['whiten the teeth', "RES('the teeth') → FLUX-RCM('white')"],
      ['make the grass a bit greener', "RES('the grass') → FLUX-RCM('greener')"],
      ['make the shirt red & white', "RES('the shirt') → FLUX-RCM('red and white')"],
    ],
  ],
  [
    'reads wishes and states as the edit they ask for',
    'wish',
    [
      ['I want the car to be red', "RES('the car') → FLUX-RCM('red')"],
      ['the car should be blue', "RES('the car') → FLUX-RCM('blue')"],
      ["I'd like the sofa to be green", "RES('the sofa') → FLUX-RCM('green')"],
      ['the dog should be removed', "RES('the dog') → FASTINPAINT → FLUX-INPAINT"],
      ['I want the dog gone', "RES('the dog') → FASTINPAINT → FLUX-INPAINT"],
      ['I want the man to have a hat', "ADD-PRED('a hat on the man') → FLUX-FILL('a hat')"],
      ['the background should be a beach', "SOS → INVERSE → FLUX-CBG('a beach')"],
      ['it should be brighter', 'ADJUST(1.3)'],
    ],
  ],
  [
    'makes black and white with GRAYSCALE however it is written',
    'grey',
    [
      ['make it black & white', 'GRAYSCALE'],
      ['turn the photo black & white', 'GRAYSCALE'],
    ],
  ],
  [
    'grades the whole image when the object is the image itself, and always with a setting',
    'tone',
    [
      ['desaturate the photo', 'ADJUST(0.77)'],
      ['tone down the saturation a little', 'ADJUST(0.87)'],
      ['turn down the contrast', 'ADJUST(0.77)'],
      ['boost the exposure a bit', 'ADJUST(1.15)'],
      ['the sky should be darker', "RES('the sky') → ADJUST(0.77)"],
    ],
  ],
  [
    'removes with particle verbs, the object between verb and particle',
    'remove',
    [
      ['take the dog out of the picture', "RES('the dog') → FASTINPAINT → FLUX-INPAINT"],
      ['get the cat out of the shot', "RES('the cat') → FASTINPAINT → FLUX-INPAINT"],
      ['take the hat off', "RES('the hat') → FASTINPAINT → FLUX-INPAINT"],
      ['Remove the human child bending over the pumpkin', "RES('the human child bending over the pumpkin') → FASTINPAINT → FLUX-INPAINT"],
    ],
  ],
  [
    'blurs what "blur out" names, and the background behind a subject',
    'blur',
    [
      ['blur out the license plate', "RES('the license plate') → BLUR"],
      ['pixelate out the license plate', "RES('the license plate') → BLUR('pixelate')"],
      ['blur out the faces', 'FACE-DET → BLUR'],
      ['blur everything behind the dog', "RES('the dog') → INVERSE → FLUX-CBG('blurred')"],
    ],
  ],
  [
    'reads "one" in a replacement as the replaced thing',
    'replace',
    [
      ['replace the sky with a stormy one', "RES('the sky') → BBOX → FLUX-FILL('a stormy sky')"],
      ['replace the cup with a bigger one', "RES('the cup') → BBOX → FLUX-FILL('a bigger cup')"],
    ],
  ],
  [
    'changes the background with a colour verb',
    'background',
    [
      ['whiten the background', "SOS → INVERSE → FLUX-CBG('white studio')"],
      ['blacken the background', "SOS → INVERSE → FLUX-CBG('black')"],
    ],
  ],
  [
    'reads an aged look as a style, of the image or of one object',
    'style',
    [
      ['make it look old', "CMI-PRED → FLUX-STYLE('vintage, aged photograph')"],
      ['make the car look old', "RES('the car') → CMI-PRED → FLUX-STYLE('vintage, aged photograph')"],
    ],
  ],
  [
    'lets a pose word describe the object of a remove, add or replace, and change the pose only when it governs',
    'pose',
    [
      ['add a man waving on the left', "ADD-PRED('a man waving on the left') → FLUX-FILL('a man waving')"],
      ['replace the sitting dog with a standing cat', "RES('the sitting dog') → BBOX → FLUX-FILL('a standing cat')"],
      ['make the woman smile', "FLUX-POSE('make the woman smile')"],
    ],
  ],
  [
    'adds what "give" names, with or without an article',
    'add',
    [['give the dog sunglasses', "ADD-PRED('sunglasses on the dog') → FLUX-FILL('sunglasses')"]],
  ],
];

describe('unseen phrasings', () => {
  for (const [title, , rows] of cases) {
    it(title, async () => {
      for (const [instruction, expected] of rows) expect(await shape(instruction), instruction).toBe(expected);
    });
  }

  it('never sends RES an empty object or a lone article, and refuses instead of guessing', async () => {
    for (const instruction of ['make the sky pink', 'desaturate the photo', 'make it black & white', 'whiten the background', 'blur out the license plate']) {
      const p = await builder.plan({ image, instruction, available: new Set(registry.names()) });
      for (const n of p.workflow.nodes.filter((x) => x.brick === 'RES')) {
        const prompt = n.inputs.prompt?.kind === 'literal' ? String(n.inputs.prompt.value) : '';
        expect(prompt, instruction).toMatch(/^(?:the |a |an )?\w+/);
        expect(prompt, instruction).not.toMatch(/^(?:the|a|an|it|this|the the)$/i);
      }
    }
    for (const instruction of ['remove the', 'change the color of the the to red']) {
      const err = await builder.plan({ image, instruction, available: new Set(registry.names()) }).catch((e: unknown) => e);
      expect(err, instruction).toBeInstanceOf(PlanRefusedError);
      expect((err as Error).message, instruction).toMatch(/I can't tell which object "the( the)?" means/);
    }
  });
});
