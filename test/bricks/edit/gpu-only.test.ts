import { describe, expect, it } from 'vitest';
import { FLUX_FILL } from '../../../bricks/edit/flux-fill.ts';
import { FLUX_POSE } from '../../../bricks/edit/flux-pose.ts';
import { editBricks } from '../../../bricks/index.ts';
import { gpuHostAs, isGpuHostLine } from '../../../bricks/lib/backends.ts';
import { NeedsGpuHostError } from '../../../src/engine/errors.ts';
import { makeImage } from '../../../src/engine/values.ts';
import { call, ellipseMask } from './support.ts';

describe('GPU-only edit bricks without a GPU host or user model', () => {
  it('FLUX-FILL raises NeedsGpuHostError naming the brick and how to configure a GPU host', async () => {
    const err = await call(FLUX_FILL, { image: makeImage(8, 8, 3), mask: ellipseMask(8, 8, 4, 4, 3, 3), prompt: 'a dog', preimage: null }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NeedsGpuHostError);
    expect((err as NeedsGpuHostError).brick).toBe('FLUX-FILL');
    expect((err as NeedsGpuHostError).message).toMatch(/LEGO_EDIT_WORKER_URL|REDIS_URL/);
  });

  it('FLUX-POSE raises NeedsGpuHostError', async () => {
    const err = await call(FLUX_POSE, { image: makeImage(8, 8, 3), prompt: 'raise both hands' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NeedsGpuHostError);
    expect((err as NeedsGpuHostError).brick).toBe('FLUX-POSE');
  });

  it('every edit brick lists its backends, with at least one available or a GPU-host line saying what is missing', async () => {
    for (const brick of editBricks()) {
      const list = await brick.backends!();
      expect(list.length, brick.name).toBeGreaterThan(0);
      for (const b of list) expect(typeof b.available, `${brick.name} ${b.name}`).toBe('boolean');
      if (!['FLUX-FILL', 'FLUX-POSE'].includes(brick.name)) expect(list.filter((b) => b.available), brick.name).not.toEqual([]);
      else expect(list.filter((b) => b.available), brick.name).toEqual([]);
    }
  });

  it('each GPU-host line says what needs it and that no host is configured; wired to a host, it names the host and keeps that scope', async () => {
    const host = { name: 'http-worker', available: true, detail: 'http://gpu:8765 (comfyui)' };
    const seen: Record<string, string> = {};
    for (const brick of editBricks()) {
      const line = (await brick.backends!()).find(isGpuHostLine);
      if (!line) continue;
      expect(line.available, brick.name).toBe(false);
      expect(line.detail, brick.name).toMatch(/no GPU host configured \(LEGO_EDIT_WORKER_URL or REDIS_URL\)$/);
      const wired = gpuHostAs(line, host);
      expect(wired).toMatchObject({ name: 'http-worker', available: true });
      seen[brick.name] = wired.detail!;
    }
    expect(seen).toMatchObject({
      'FLUX-STYLE': 'generative styles: http://gpu:8765 (comfyui)',
      'FLUX-ENV': 'generative weather and seasons: http://gpu:8765 (comfyui)',
      'FLUX-CBG': 'generated scenes: http://gpu:8765 (comfyui)',
      'FLUX-RCM': 'generative materials and patterns: http://gpu:8765 (comfyui)',
      'FLUX-FILL': 'http://gpu:8765 (comfyui)',
      'FLUX-POSE': 'http://gpu:8765 (comfyui)',
    });
  });
});
