import { port, defineBrick } from '../../src/engine/brick.ts';
import { makeMask } from '../../src/engine/values.ts';
import { blendByMask, fitImage } from '../lib/pixels.ts';

export const COMPOSE = defineBrick({
  name: 'COMPOSE',
  kind: 'function',
  description: 'Lay the second image over the first',
  inputs: {
    image1: port.image({ description: 'Base image' }),
    image2: port.image({ description: 'Image laid on top, stretched to the base size' }),
    mask: port.mask({ optional: true, description: 'Where image2 covers image1; omitted means its alpha, or everywhere' }),
  },
  outputs: { image: port.image() },
  constraint: 'Use to merge the results of separate edits of the same photo, each restricted to its own mask.',
  version: '1',
  async run({ image1, image2, mask }) {
    const top = await fitImage(image2, image1.width, image1.height);
    let cover = mask;
    if (!cover && top.channels === 4) {
      cover = makeMask(top.width, top.height);
      for (let p = 0; p < cover.data.length; p++) cover.data[p] = top.data[p * 4 + 3]!;
    }
    if (!cover) return { image: await fitImage(top, image1.width, image1.height, image1.channels) };
    return { image: await blendByMask(image1, top, cover) };
  },
});
