import { port, defineBrick } from '../../src/engine/brick.ts';
import { sharpFromImage } from '../../src/engine/image-io.ts';
import { makeMask } from '../../src/engine/values.ts';

export const DILATE = defineBrick({
  name: 'DILATE',
  kind: 'function',
  description: 'Grow a mask by a number of pixels, or shrink it with a negative radius',
  inputs: {
    mask: port.mask(),
    radius: port.float({ min: -256, max: 256, description: 'Pixels to grow (positive) or shrink (negative) the mask by' }),
  },
  outputs: { mask: port.mask() },
  constraint: 'Use to cover an object\'s edges before removal (grow) or to keep an edit off its surroundings (shrink).',
  version: '1',
  async run({ mask, radius }) {
    const r = Math.round(Math.abs(radius));
    if (r === 0) return { mask };
    // Binarise first: morphology on soft edges would move the threshold, not the boundary.
    const s = sharpFromImage(mask).threshold(1, { grayscale: true });
    // sharp's morphology treats dark pixels as the foreground (checked: dilate shrinks a white square), so grow white with erode.
    const { data, info } = await (radius > 0 ? s.erode(r) : s.dilate(r)).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 1 || info.width !== mask.width) throw new Error(`DILATE produced ${info.width}x${info.height}x${info.channels}`);
    return { mask: makeMask(mask.width, mask.height, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)) };
  },
});
