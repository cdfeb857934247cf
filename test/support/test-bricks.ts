/** Small bricks for executor specs: they record calls and honour cancellation like real ones must. */
import { defineBrick, port } from '../../src/engine/brick.ts';
import { makeImage, makeMask } from '../../src/engine/values.ts';

export interface CallLog {
  readonly calls: string[];
  readonly aborted: string[];
}

export function newLog(): CallLog {
  return { calls: [], aborted: [] };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/** Waits `ms`, then returns its image with `tag` added to every byte, so results show which path ran. */
export function delayBrick(log: CallLog, name = 'DELAY') {
  return defineBrick({
    name,
    kind: 'function',
    description: 'Wait, then brighten by a tag value',
    inputs: { image: port.image(), ms: port.float({ optional: true, default: 20, min: 0 }), tag: port.float({ optional: true, default: 1 }) },
    outputs: { image: port.image() },
    version: '1',
    async run({ image, ms, tag }, ctx) {
      log.calls.push(`${name}:${tag}`);
      try {
        await sleep(ms, ctx.signal);
      } catch (err) {
        log.aborted.push(`${name}:${tag}`);
        throw err;
      }
      const out = makeImage(image.width, image.height, image.channels);
      for (let i = 0; i < out.data.length; i++) out.data[i] = Math.min(255, image.data[i]! + tag);
      return { image: out };
    },
  });
}

/** Ignores its abort signal entirely: the executor must still not wait for it. */
export const STUBBORN = defineBrick({
  name: 'STUBBORN',
  kind: 'function',
  description: 'Never finishes and ignores cancellation',
  inputs: { image: port.image() },
  outputs: { image: port.image() },
  version: '1',
  run: () => new Promise<never>(() => {}),
});

export const FAIL = defineBrick({
  name: 'FAIL',
  kind: 'function',
  description: 'Always fails',
  inputs: { image: port.image(), why: port.str({ optional: true, default: 'model exploded' }) },
  outputs: { image: port.image() },
  version: '1',
  async run({ why }) {
    throw new Error(why);
  },
});

/** A predict brick that finds nothing. */
export const FIND_NOTHING = defineBrick({
  name: 'FIND-NOTHING',
  kind: 'predict',
  description: 'Segments nothing',
  inputs: { image: port.image(), prompt: port.str() },
  outputs: { mask: port.mask() },
  version: '1',
  async run({ image }) {
    return { mask: makeMask(image.width, image.height) };
  },
});

export function solidImage(width: number, height: number, rgb: readonly [number, number, number]) {
  const img = makeImage(width, height, 3);
  for (let i = 0; i < img.data.length; i += 3) {
    img.data[i] = rgb[0];
    img.data[i + 1] = rgb[1];
    img.data[i + 2] = rgb[2];
  }
  return img;
}
