import { defineBrick, port } from '../../src/engine/brick.ts';
import type { MaskData } from '../../src/engine/values.ts';
import { makeMask } from '../../src/engine/values.ts';
import { requireImageSize } from '../lib/input-checks.ts';
import { detectObjects, humanStatus, personSegmenterStatus } from '../models/human.ts';
import { openCvStatus } from '../models/opencv.ts';
import { chooseDetections, parseReference, referentCandidates, WEAK_SCORE_FLOOR } from './referring.ts';
import { unionMasks } from '../lib/pixels.ts';
import { checkerboardView, refineBox, refinePerson } from './segment.ts';

export const RES = defineBrick({
  name: 'RES',
  kind: 'predict',
  description: 'Segmentation by object specified by prompt',
  inputs: { image: port.image(), prompt: port.str({ description: 'English phrase naming the object, with adjectives and locative words: "the left sheep", "the red car"' }) },
  outputs: { mask: port.mask(), image: port.image({ description: 'Checkerboard-transparency view of the segment' }) },
  constraint:
    'One object (or group: "all the sheep") per call; the prompt is a short noun phrase, not an instruction. ' +
    'Finds the 80 COCO object classes (people, animals, vehicles, furniture, food, everyday objects) and their synonyms; ' +
    'understands colour words and left/right/top/bottom/middle/largest/smallest/front/back and "second from the left". ' +
    'Cannot segment stuff such as sky, road, grass, walls or buildings: it returns an empty mask for what it cannot find.',
  version: '1',
  cpuHeavy: true,
  backends: () => [humanStatus('centernet', 'CenterNet COCO-80 detector'), openCvStatus('GrabCut refinement inside the box'), personSegmenterStatus()],
  async run({ image, prompt }, ctx) {
    requireImageSize('RES', image);
    const ref = parseReference(prompt);
    const empty = (): { mask: MaskData; image: typeof image } => {
      const mask = makeMask(image.width, image.height);
      return { mask, image: checkerboardView(image, mask) };
    };
    if (!ref.labels.length) {
      ctx.logger.info({ prompt }, 'RES: the prompt names no object class the detector knows');
      return empty();
    }
    ctx.progress({ fraction: 0.1, message: 'detecting objects' });
    const dets = await detectObjects(image, { minScore: WEAK_SCORE_FLOOR, maxDetections: 100 });
    ctx.signal.throwIfAborted();
    const candidates = referentCandidates(ref, dets);
    const chosen = chooseDetections(ref, candidates, image);
    ctx.logger.debug({ prompt, ref, candidates: candidates.length, chosen }, 'RES: detections');
    if (!chosen.length) return empty();
    ctx.progress({ fraction: 0.5, message: 'refining the segment' });
    const masks: MaskData[] = [];
    for (const d of chosen) {
      const person = d.label === 'person' ? await refinePerson(image, d, ctx.signal) : undefined;
      masks.push(person ?? (await refineBox(image, d, { signal: ctx.signal })));
      ctx.signal.throwIfAborted();
    }
    const mask = masks.length === 1 ? masks[0]! : unionMasks(masks, image.width, image.height);
    return { mask, image: checkerboardView(image, mask) };
  },
});
