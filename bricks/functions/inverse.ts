import { port, defineBrick } from '../../src/engine/brick.ts';
import { BrickInputError } from '../../src/engine/errors.ts';
import { makeImage, makeMask } from '../../src/engine/values.ts';
import { fitImage, fitMask } from '../lib/pixels.ts';

/** The published Lego-Edit INVERSE: mask1 minus mask2, or image1 minus image2, one kind per step. */
export const INVERSE = defineBrick({
  name: 'INVERSE',
  kind: 'function',
  description: 'Subtract mask2 from mask1 or subtract image2 from image1; if mask1 is null it means a mask with all pixels 1 minus mask2',
  inputs: {
    mask1: port.mask({ optional: true, acceptsEmpty: true, description: 'Mask to subtract from; null means the whole image' }),
    mask2: port.mask({ optional: true, acceptsEmpty: true, description: 'Mask to subtract' }),
    image1: port.image({ optional: true, description: 'Image to subtract from; null means white, giving the negative of image2' }),
    image2: port.image({ optional: true, description: 'Image to subtract, stretched to the size of image1' }),
  },
  outputs: { mask: port.mask({ optional: true, description: 'When given masks' }), image: port.image({ optional: true, description: 'When given images' }) },
  inputKinds: [
    { label: 'masks', ports: ['mask1', 'mask2'], needs: ['mask2'] },
    { label: 'images', ports: ['image1', 'image2'], needs: ['image2'] },
  ],
  constraint:
    'Only one kind of input per step: masks (the images null) output only mask, images (the masks null) output only image. ' +
    'With mask1 null it returns everything outside mask2 (e.g. the background of a segmented object). Values are clipped at 0, never wrapped.',
  version: '2',
  async run({ mask1, mask2, image1, image2 }) {
    const masks = mask1 !== null || mask2 !== null;
    const images = image1 !== null || image2 !== null;
    // The validator refuses these plans; a direct call gets the same answer.
    if (masks === images) throw new BrickInputError('INVERSE', masks ? 'give masks or images, one kind per step' : 'needs mask2 (or image2)');
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
