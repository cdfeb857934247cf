import { port, defineBrick } from '../../src/engine/brick.ts';
import { BrickInputError } from '../../src/engine/errors.ts';
import { makeImage, makeMask } from '../../src/engine/values.ts';
import { fitImage, fitMask } from '../lib/pixels.ts';

export const INVERSE = defineBrick({
  name: 'INVERSE',
  kind: 'function',
  description: 'Subtract one mask from another (or one image from another)',
  inputs: {
    mask1: port.mask({ optional: true, description: 'Mask to subtract from; omitted means the whole image' }),
    mask2: port.mask({ optional: true, description: 'Mask to subtract' }),
    image1: port.image({ optional: true }),
    image2: port.image({ optional: true }),
  },
  outputs: { mask: port.mask({ optional: true }), image: port.image({ optional: true }) },
  constraint:
    'Give masks or images, not both. With mask1 omitted it returns everything outside mask2 (e.g. the background of a segmented object).',
  version: '1',
  async run({ mask1, mask2, image1, image2 }) {
    const masks = mask1 !== null || mask2 !== null;
    const images = image1 !== null || image2 !== null;
    if (masks === images) throw new BrickInputError('INVERSE', masks ? 'give masks or images, not both' : 'needs mask2 (or image2)');
    if (masks) {
      if (!mask2) throw new BrickInputError('INVERSE', 'mask2 is required when subtracting masks');
      const w = mask1?.width ?? mask2.width;
      const h = mask1?.height ?? mask2.height;
      const b = await fitMask(mask2, w, h);
      const out = makeMask(w, h);
      for (let i = 0; i < out.data.length; i++) out.data[i] = Math.max(0, (mask1 ? mask1.data[i]! : 255) - b.data[i]!);
      return { mask: out };
    }
    if (!image2) throw new BrickInputError('INVERSE', 'image2 is required when subtracting images');
    const w = image1?.width ?? image2.width;
    const h = image1?.height ?? image2.height;
    const b = await fitImage(image2, w, h, 3);
    const a = image1 ? await fitImage(image1, w, h, 3) : undefined;
    const out = makeImage(w, h, 3);
    for (let i = 0; i < out.data.length; i++) out.data[i] = Math.max(0, (a ? a.data[i]! : 255) - b.data[i]!);
    return { image: out };
  },
});
