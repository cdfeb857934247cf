import type { BackendStatus } from '../../src/engine/brick.ts';

/**
 * The GPU-host backend as seen from a process with no remote worker wired in.
 * When a worker or queue is configured, the runtime registers remote versions of
 * these bricks in their place.
 */
export const GPU_HOST_MISSING: BackendStatus = {
  name: 'gpu-host',
  available: false,
  detail: 'no GPU host configured (LEGO_EDIT_WORKER_URL or REDIS_URL)',
};
