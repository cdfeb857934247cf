import { port, defineBrick } from '../../src/engine/brick.ts';
import { boxMask, maskBounds } from '../lib/pixels.ts';

export const BBOX = defineBrick({
  name: 'BBOX',
  kind: 'function',
  description: 'Given a mask, output the bounding box mask of it',
  inputs: { mask: port.mask({ acceptsEmpty: true }) },
  outputs: { mask: port.mask() },
  constraint: 'Use before generative fills that need room around an object, e.g. replacing it with something of another shape. The box of an empty mask is an empty mask.',
  version: '1',
  async run({ mask }) {
    return { mask: boxMask(mask.width, mask.height, maskBounds(mask)) };
  },
});
