import { port, defineBrick } from '../../src/engine/brick.ts';
import { makeImage } from '../../src/engine/values.ts';
import { blendByMask } from '../lib/pixels.ts';

export const GRAYSCALE = defineBrick({
  name: 'GRAYSCALE',
  kind: 'function',
  description: 'Make the image black and white, globally or inside a mask',
  inputs: { image: port.image(), mask: port.mask({ optional: true }) },
  outputs: { image: port.image() },
  version: '1',
  async run({ image, mask }) {
    const out = makeImage(image.width, image.height, image.channels, new Uint8Array(image.data.length));
    const c = image.channels;
    const d = image.data;
    for (let i = 0; i < d.length; i += c) {
      // Rec. 709 luma, the weights people perceive as equal brightness.
      const y = Math.round(0.2126 * d[i]! + 0.7152 * d[i + 1]! + 0.0722 * d[i + 2]!);
      out.data[i] = y;
      out.data[i + 1] = y;
      out.data[i + 2] = y;
      if (c === 4) out.data[i + 3] = d[i + 3]!;
    }
    return { image: await blendByMask(image, out, mask) };
  },
});
