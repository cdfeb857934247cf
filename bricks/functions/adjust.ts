import { port, defineBrick } from '../../src/engine/brick.ts';
import { rawFromSharp, sharpFromImage } from '../../src/engine/image-io.ts';
import { blendByMask } from '../lib/pixels.ts';

export const ADJUST = defineBrick({
  name: 'ADJUST',
  kind: 'function',
  description: 'Adjust brightness, contrast, saturation and hue, globally or inside a mask',
  inputs: {
    image: port.image(),
    brightness: port.float({ optional: true, default: 1, min: 0, max: 4, description: 'Multiplier; 1 keeps it' }),
    contrast: port.float({ optional: true, default: 1, min: 0, max: 4, description: 'Multiplier around mid-grey; 1 keeps it' }),
    saturation: port.float({ optional: true, default: 1, min: 0, max: 4, description: 'Multiplier; 0 is grey, 1 keeps it' }),
    hue: port.float({ optional: true, default: 0, min: -360, max: 360, description: 'Rotation in degrees' }),
    mask: port.mask({ optional: true, description: 'Limit the change to this region' }),
  },
  outputs: { image: port.image() },
  constraint: 'Tone changes only (brighter, darker, more vivid, warmer hue); it cannot add or remove objects.',
  version: '1',
  async run({ image, brightness, contrast, saturation, hue, mask }) {
    let s = sharpFromImage(image).modulate({ brightness, saturation, hue: Math.round(hue) });
    if (contrast !== 1) s = s.linear(contrast, 128 * (1 - contrast));
    return { image: await blendByMask(image, await rawFromSharp(s), mask) };
  },
});
