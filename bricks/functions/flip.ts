import { port, defineBrick } from '../../src/engine/brick.ts';
import { rawFromSharp, sharpFromImage } from '../../src/engine/image-io.ts';

export const FLIP = defineBrick({
  name: 'FLIP',
  kind: 'function',
  description: 'Mirror the image horizontally (left-right) or vertically (upside down)',
  inputs: {
    image: port.image(),
    direction: port.str({ oneOf: ['horizontal', 'vertical'], default: 'horizontal', optional: true, description: '"horizontal" mirrors left-right, "vertical" turns it upside down' }),
  },
  outputs: { image: port.image() },
  version: '1',
  async run({ image, direction }) {
    const s = sharpFromImage(image);
    // sharp's flop mirrors about the vertical axis (left-right); flip about the horizontal one.
    return { image: await rawFromSharp(direction === 'vertical' ? s.flip() : s.flop()) };
  },
});
