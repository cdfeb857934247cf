/**
 * FASTINPAINT: quick removal by OpenCV's Telea inpainting (diffusion from the
 * hole's rim inwards) on a crop around the mask, with a score that tells the
 * Builder whether FLUX-INPAINT should refine it.
 */
import { defineBrick, port } from '../../src/engine/brick.ts';
import { diffusionFill } from '../lib/inpaint.ts';
import { requireFillableMask, requireImageSize } from '../lib/input-checks.ts';
import { openCvStatus } from '../models/opencv.ts';

export const FASTINPAINT = defineBrick({
  name: 'FASTINPAINT',
  kind: 'edit',
  description: 'Quick removal: fill the masked region from its surroundings',
  inputs: { image: port.image(), mask: port.mask({ description: 'What to remove; slightly dilated before filling' }) },
  outputs: {
    image: port.image(),
    score: port.float({ description: 'Quality of the fill, 0 (poor) to 1 (seamless): high for thin regions on flat surroundings, low for wide holes in texture' }),
  },
  constraint:
    'Removes objects; it cannot draw new ones. A diffusion fill: clean on skies, walls and roads and for thin objects, blurry for wide holes in texture ' +
    '(score below about 0.5), where FLUX-INPAINT should refine it. Pixels outside the slightly dilated mask are untouched.',
  version: '1',
  cpuHeavy: true,
  backends: () => [openCvStatus('Telea inpainting on a crop around the mask')],
  async run({ image, mask }, ctx) {
    requireImageSize('FASTINPAINT', image);
    requireFillableMask('FASTINPAINT', mask);
    const { image: out, score } = await diffusionFill(image, mask, { signal: ctx.signal });
    return { image: out, score };
  },
});
