import { port, defineBrick } from '../../src/engine/brick.ts';
import { rawFromSharp, sharpFromImage } from '../../src/engine/image-io.ts';

export const ROTATE = defineBrick({
  name: 'ROTATE',
  kind: 'function',
  description: 'Rotate the image clockwise by an angle in degrees',
  inputs: {
    image: port.image(),
    angle: port.float({ min: -360, max: 360, description: 'Degrees clockwise; negative turns anticlockwise' }),
  },
  outputs: { image: port.image() },
  constraint: 'Multiples of 90 are lossless; other angles enlarge the canvas and fill the corners with black.',
  version: '1',
  async run({ image, angle }) {
    const background = image.channels === 4 ? { r: 0, g: 0, b: 0, alpha: 0 } : { r: 0, g: 0, b: 0 };
    return { image: await rawFromSharp(sharpFromImage(image).rotate(angle, { background })) };
  },
});
