import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Model-backed bricks load WebAssembly runtimes; forks keep them out of each other's way.
    pool: 'forks',
    // Bricks run on the main thread in tests (and in the CLIs they start), so each test file does not start threads
    // that load the models again; test/engine/pool/ covers the pool, and its tests give their runtimes threads.
    env: { LEGO_EDIT_BRICK_THREADS: '0' },
  },
});
