/**
 * OpenCV (WebAssembly build from @techstark/opencv-js), loaded once per process on first use.
 *
 * The package is an Emscripten module: require() returns the Module object, which is
 * usable only after `onRuntimeInitialized`. It is also a thenable, so it must never be
 * handed to `resolve()` as is — the promise machinery would call its `then` forever.
 */
import { createRequire } from 'node:module';
import type { CV } from '@techstark/opencv-js';
import type { BackendStatus } from '../../src/engine/brick.ts';

export type { CV };

type EmscriptenModule = CV & { onRuntimeInitialized?: () => void; then?: unknown };

let loading: Promise<CV> | undefined;
let loadMs: number | undefined;
let loadError: unknown;

async function load(): Promise<CV> {
  const started = performance.now();
  const mod = createRequire(import.meta.url)('@techstark/opencv-js') as EmscriptenModule;
  if (typeof (mod as { Mat?: unknown }).Mat !== 'function') {
    await new Promise<void>((resolve) => {
      mod.onRuntimeInitialized = () => resolve();
    });
  }
  // Drop the thenable so the module can travel through promises.
  delete mod.then;
  loadMs = performance.now() - started;
  return mod;
}

/** The initialised OpenCV module; every caller shares one load. */
export async function loadOpenCv(): Promise<CV> {
  loading ??= load().catch((err: unknown) => {
    loadError = err;
    loading = undefined;
    throw err;
  });
  return loading;
}

/** Milliseconds the first load took, once it finished. */
export function openCvLoadMs(): number | undefined {
  return loadMs;
}

/** Backend line for `backends()`; reports without forcing a load. */
export function openCvStatus(use: string): BackendStatus {
  if (loadError) return { name: 'opencv-wasm', available: false, detail: `failed to load: ${String(loadError)}` };
  return { name: 'opencv-wasm', available: true, detail: use };
}

/**
 * OpenCV's C++ exceptions reach JavaScript as bare numbers (pointers into the
 * WebAssembly heap); this turns one into an Error carrying OpenCV's own message.
 * Anything else is returned as it is.
 */
export function openCvError(cv: CV, err: unknown): unknown {
  if (typeof err !== 'number') return err;
  const fromPtr = (cv as { exceptionFromPtr?: (ptr: number) => { msg?: string } | undefined }).exceptionFromPtr;
  let detail: string | undefined;
  try {
    detail = fromPtr?.(err)?.msg;
  } catch {
    detail = undefined;
  }
  return new Error(`OpenCV: ${detail?.trim() || `exception ${err}`}`);
}
