import { describe, expect, it } from 'vitest';
import { FLUX_ENV, envGrade } from '../../../bricks/edit/flux-env.ts';
import { NeedsGpuHostError } from '../../../src/engine/errors.ts';
import type { ImageData } from '../../../src/engine/values.ts';
import { describeWithPhotos } from '../../support/shared.ts';
import { call, meanLuma, photo } from './support.ts';

const env = async (img: ImageData, prompt: string) => (await call(FLUX_ENV, { image: img, prompt })).image as ImageData;

function channelMeans(img: ImageData): [number, number, number] {
  const s = [0, 0, 0];
  for (let i = 0; i < img.data.length; i += img.channels) for (let k = 0; k < 3; k++) s[k]! += img.data[i + k]!;
  const n = img.width * img.height;
  return [s[0]! / n, s[1]! / n, s[2]! / n];
}

function lumaStd(img: ImageData): number {
  const m = meanLuma(img);
  let s = 0;
  for (let i = 0; i < img.data.length; i += img.channels) s += (0.299 * img.data[i]! + 0.587 * img.data[i + 1]! + 0.114 * img.data[i + 2]! - m) ** 2;
  return Math.sqrt(s / (img.width * img.height));
}

describeWithPhotos('FLUX-ENV grades on anime-street.jpg', () => {
  it('"Change the scene to sunset" warms the picture: red rises against blue', async () => {
    const img = await photo('anime-street.jpg');
    const out = await env(img, 'Change the scene to sunset');
    const [r0, , b0] = channelMeans(img);
    const [r1, , b1] = channelMeans(out);
    expect(r1 / b1).toBeGreaterThan((r0 / b0) * 1.3);
  });

  it('"night" darkens and cools the picture', async () => {
    const img = await photo('anime-street.jpg');
    const out = await env(img, 'make it night');
    expect(meanLuma(out)).toBeLessThan(meanLuma(img) * 0.5);
    const [r, , b] = channelMeans(out);
    expect(b).toBeGreaterThan(r);
  });

  it('"fog" lowers contrast and lifts the shadows towards grey', async () => {
    const img = await photo('anime-street.jpg');
    const out = await env(img, 'foggy');
    expect(lumaStd(out)).toBeLessThan(lumaStd(img) * 0.6);
    expect(meanLuma(out)).toBeGreaterThan(meanLuma(img));
  });
});

describe('FLUX-ENV prompts a grade cannot honour', () => {
  it.each(['Make the environment a blizzard', 'winter with snow', 'rain', 'Let the fog spread, and the butterflies emit yellow light to disperse the fog'])(
    'raises NeedsGpuHostError for "%s"',
    async (prompt) => {
      const img: ImageData = { kind: 'image', width: 2, height: 2, channels: 3, data: new Uint8Array(12) };
      const err = await call(FLUX_ENV, { image: img, prompt }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NeedsGpuHostError);
      expect((err as NeedsGpuHostError).brick).toBe('FLUX-ENV');
    },
  );

  it('reads golden hour, dusk and haze as grades', () => {
    expect(envGrade('golden hour').name).toBe('sunset');
    expect(envGrade('at dusk').name).toBe('sunset');
    expect(envGrade('add some haze').name).toBe('fog');
  });
});
