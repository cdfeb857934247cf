import { port, defineBrick } from '../../src/engine/brick.ts';
import { rawFromSharp, sharpFromImage } from '../../src/engine/image-io.ts';

export const RESIZE = defineBrick({
  name: 'RESIZE',
  kind: 'function',
  description: 'Scale the image by a ratio',
  inputs: {
    image: port.image(),
    ratio: port.float({ min: 0.01, max: 8, description: 'Scale factor: 0.5 halves each side, 2 doubles it' }),
  },
  outputs: { image: port.image() },
  constraint: 'Ratio between 0.01 and 8; the result is at least 1 pixel on each side.',
  version: '1',
  async run({ image, ratio }) {
    const width = Math.max(1, Math.round(image.width * ratio));
    const height = Math.max(1, Math.round(image.height * ratio));
    return { image: await rawFromSharp(sharpFromImage(image).resize(width, height, { fit: 'fill', kernel: 'lanczos3' })) };
  },
});
