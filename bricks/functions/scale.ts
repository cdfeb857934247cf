import { port, defineBrick } from '../../src/engine/brick.ts';
import { checkResultSize, rawFromSharp, sharpFromImage } from '../../src/engine/image-io.ts';

/** Whole-picture scaling to new dimensions: what RESIZE did before it took the published meaning. */
export const SCALE = defineBrick({
  name: 'SCALE',
  kind: 'function',
  description: 'Scale the whole image to new dimensions by a ratio',
  inputs: {
    image: port.image(),
    ratio: port.float({ min: 0.01, max: 8, description: 'Scale factor: 0.5 halves each side, 2 doubles it' }),
  },
  outputs: { image: port.image() },
  constraint: 'For "make it half the size", "upscale 2x": the picture gets new dimensions (at least 1 pixel a side). To make one object bigger or smaller inside the picture use RESIZE.',
  version: '1',
  async run({ image, ratio }) {
    const width = Math.max(1, Math.round(image.width * ratio));
    const height = Math.max(1, Math.round(image.height * ratio));
    checkResultSize('SCALE', width, height);
    return { image: await rawFromSharp(sharpFromImage(image).resize(width, height, { fit: 'fill', kernel: 'lanczos3' })) };
  },
});
