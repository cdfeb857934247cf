import { port, defineBrick } from '../../src/engine/brick.ts';
import { rawFromSharp, sharpFromImage } from '../../src/engine/image-io.ts';
import { blendByMask } from '../lib/pixels.ts';

export const BLUR = defineBrick({
  name: 'BLUR',
  kind: 'function',
  description: 'Blur or pixelate the image, globally or inside a mask (e.g. to anonymise faces or plates)',
  inputs: {
    image: port.image(),
    mask: port.mask({ optional: true, description: 'Blur only here' }),
    strength: port.float({ optional: true, default: 0.03, min: 0.001, max: 0.5, description: 'Blur size as a fraction of the shorter side' }),
    mode: port.str({ oneOf: ['blur', 'pixelate'], optional: true, default: 'blur' }),
  },
  outputs: { image: port.image() },
  constraint: 'Hides detail; it does not remove objects.',
  version: '2',
  async run({ image, mask, strength, mode }) {
    const size = Math.max(1, Math.round(Math.min(image.width, image.height) * strength));
    let blurred;
    if (mode === 'pixelate') {
      const w = Math.max(1, Math.round(image.width / size));
      const h = Math.max(1, Math.round(image.height / size));
      const small = await rawFromSharp(sharpFromImage(image).resize(w, h, { fit: 'fill', kernel: 'cubic' }));
      blurred = await rawFromSharp(sharpFromImage(small).resize(image.width, image.height, { fit: 'fill', kernel: 'nearest' }));
    } else {
      // Below sigma 1 sharp's kernel rounds back to the same 8-bit pixels, so a small image would come back unchanged.
      blurred = await rawFromSharp(sharpFromImage(image).blur(Math.max(1, size / 2)));
    }
    return { image: await blendByMask(image, blurred, mask) };
  },
});
