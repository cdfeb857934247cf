/**
 * Bricks the pool's threads load as a module (`modules`), for the specs: one
 * that never yields, one that kills its thread, one that hits a wasm abort.
 * Each records what it did in its input image's pixels, which sit on a
 * SharedArrayBuffer the test also holds.
 */
import { threadId } from 'node:worker_threads';
import { defineBrick, port } from '../../../src/engine/brick.ts';
import { makeImage, makeMask } from '../../../src/engine/values.ts';

/** Cells of the shared image: the spinning brick's thread id and its loop counter. */
export const THREAD_CELL = 0;
export const COUNTER_CELL = 1;

/** Loops in JavaScript without ever yielding, as a wasm kernel does; only terminating its thread stops it. */
export const SPIN = defineBrick({
  name: 'SPIN',
  kind: 'function',
  description: 'Spins forever, counting in its shared input',
  inputs: { image: port.image() },
  outputs: { image: port.image() },
  version: '1',
  cpuHeavy: true,
  run: async ({ image }) => {
    const cells = new Int32Array(image.data.buffer);
    Atomics.store(cells, THREAD_CELL, threadId);
    for (;;) Atomics.add(cells, COUNTER_CELL, 1);
  },
});

/** Throws from a timer, outside any task: the thread dies as it would on a native crash. */
export const CRASH = defineBrick({
  name: 'CRASH',
  kind: 'function',
  description: 'Kills its thread',
  inputs: { image: port.image() },
  outputs: { image: port.image() },
  version: '1',
  cpuHeavy: true,
  run: () =>
    new Promise<never>(() => {
      setTimeout(() => {
        throw new Error('segfault stand-in');
      }, 0);
    }),
});

/** Fails as an Emscripten module does on abort(), leaving its memory unusable. */
export const WASM_ABORT = defineBrick({
  name: 'WASM-ABORT',
  kind: 'function',
  description: 'A WebAssembly abort',
  inputs: { image: port.image() },
  outputs: { image: port.image() },
  version: '1',
  cpuHeavy: true,
  run: async () => {
    throw new (globalThis as unknown as { WebAssembly: { RuntimeError: new (m: string) => Error } }).WebAssembly.RuntimeError('Aborted(OOM)');
  },
});

/** Inverts its image, warning as it goes: the light work that should still come back whole. */
export const INVERT = defineBrick({
  name: 'INVERT',
  kind: 'function',
  description: 'Inverts, with a warning',
  inputs: { image: port.image() },
  outputs: { image: port.image() },
  version: '1',
  cpuHeavy: true,
  run: async ({ image }, ctx) => {
    const out = makeImage(image.width, image.height, image.channels);
    for (let i = 0; i < out.data.length; i++) out.data[i] = 255 - image.data[i]!;
    ctx.progress({ fraction: 1, message: 'inverted' });
    ctx.warn?.('inverted in a worker thread');
    return { image: out };
  },
});

/** Says which thread ran it: 0 is the main thread. */
export const WHERE = defineBrick({
  name: 'WHERE',
  kind: 'function',
  description: 'Reports its thread',
  inputs: { image: port.image() },
  outputs: { thread: port.float() },
  version: '1',
  cpuHeavy: true,
  run: async () => ({ thread: threadId }),
});

/** Makes two pictures and a mask, as RES does (its cut-out view is read by few plans): the inverse, an untouched copy, a full mask. */
export const VIEWS = defineBrick({
  name: 'VIEWS',
  kind: 'function',
  description: 'Inverse, copy and a full mask',
  inputs: { image: port.image() },
  outputs: { image: port.image(), view: port.image(), mask: port.mask() },
  version: '1',
  cpuHeavy: true,
  run: async ({ image }) => {
    const inverse = makeImage(image.width, image.height, image.channels);
    for (let i = 0; i < inverse.data.length; i++) inverse.data[i] = 255 - image.data[i]!;
    return { image: inverse, view: makeImage(image.width, image.height, image.channels, image.data.slice()), mask: makeMask(image.width, image.height, new Uint8Array(image.width * image.height).fill(255)) };
  },
});

export const bricks = [SPIN, CRASH, WASM_ABORT, INVERT, WHERE, VIEWS];
