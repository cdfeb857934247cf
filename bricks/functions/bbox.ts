import { port, defineBrick } from '../../src/engine/brick.ts';
import { boxMask, maskBounds } from '../lib/pixels.ts';

export const BBOX = defineBrick({
  name: 'BBOX',
  kind: 'function',
  description: 'Turn a mask into the mask of its bounding box',
  inputs: { mask: port.mask() },
  outputs: { mask: port.mask() },
  constraint: 'Use before generative fills that need room around an object, e.g. replacing it with something of another shape.',
  version: '1',
  async run({ mask }) {
    return { mask: boxMask(mask.width, mask.height, maskBounds(mask)) };
  },
});
