/**
 * The one place an onnxruntime-node session is created: user models in the
 * models directory, the bundled text detector and manifest-declared ONNX
 * bricks all come here, so they share one CUDA-then-CPU fallback and one
 * record of whether this host's CUDA libraries are there at all.
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as OrtModule from 'onnxruntime-node';
import type { InferenceSession } from 'onnxruntime-node';
import type { Logger } from 'pino';
import { LegoEditError, errorMessage } from '../../src/engine/errors.ts';

export type Ort = typeof OrtModule;
export type OnnxProvider = 'cuda' | 'cpu';

/** CUDA when it loads, else CPU. */
export const DEFAULT_PROVIDERS: readonly OnnxProvider[] = ['cuda', 'cpu'];

let ortLoading: Promise<Ort> | undefined;

/** onnxruntime-node's native binding, loaded on first use: a process that runs no model never pays for it. */
export function onnxRuntime(): Promise<Ort> {
  ortLoading ??= import('onnxruntime-node');
  return ortLoading;
}

/**
 * Set once CUDA's provider libraries turn out to be absent although the file
 * check passed: every later model would fail the same way, with the same
 * native error on stderr.
 */
let cudaLibrariesMissing = false;

/**
 * Whether CUDA can be tried at all. Its provider library must sit next to the
 * binding (installed on GPU hosts; the default install skips it), because a
 * failed CUDA attempt costs a native error on stderr.
 */
function cudaInstalled(): boolean {
  if (cudaLibrariesMissing) return false;
  try {
    const binding = createRequire(import.meta.url).resolve('onnxruntime-node');
    const binDir = join(dirname(binding), '..', 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(join(binDir, 'libonnxruntime_providers_cuda.so'));
  } catch {
    return false;
  }
}

/** Of `providers`, those worth trying on this host, best first. */
export function usableProviders(providers: readonly OnnxProvider[] = DEFAULT_PROVIDERS): OnnxProvider[] {
  return providers.filter((p) => p === 'cpu' || cudaInstalled());
}

export interface OnnxSessionOptions {
  /** Execution providers to try, in order; the first that loads the model wins. */
  readonly providers?: readonly OnnxProvider[];
  readonly intraOpNumThreads?: number;
  /** Says which provider each model got, and why one was skipped. */
  readonly logger?: Logger;
}

export interface OnnxSession {
  readonly session: InferenceSession;
  /** The execution provider the session was created with. */
  readonly provider: OnnxProvider;
  readonly ort: Ort;
}

/** Creates a session with the first usable provider that loads the model; the error names every attempt. */
export async function createOnnxSession(modelPath: string, options: OnnxSessionOptions = {}): Promise<OnnxSession> {
  const ort = await onnxRuntime();
  const requested = options.providers ?? DEFAULT_PROVIDERS;
  const usable = usableProviders(requested);
  if (usable.length === 0) throw new LegoEditError('onnx-provider', `none of the execution providers ${requested.join(', ')} is available here`);
  const failures: string[] = [];
  for (const provider of usable) {
    try {
      const session = await ort.InferenceSession.create(modelPath, {
        executionProviders: [provider],
        graphOptimizationLevel: 'all',
        ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
      });
      options.logger?.info({ model: modelPath, provider }, 'onnx model loaded');
      return { session, provider, ort };
    } catch (err) {
      failures.push(`${provider}: ${errorMessage(err)}`);
      // A model CUDA cannot run is that model's problem; missing provider libraries are the host's, for every model.
      if (provider === 'cuda' && /Failed to load (shared )?library/i.test(errorMessage(err))) cudaLibrariesMissing = true;
      options.logger?.info({ model: modelPath, provider, err: errorMessage(err) }, `${provider.toUpperCase()} execution provider unavailable for this model`);
    }
  }
  throw new LegoEditError('onnx-load', `could not load ${modelPath} (${failures.join('; ')})`);
}

/**
 * A model file's identity for cache keys: its path, size and modification
 * time, hashed. Replacing or editing the file changes it; reading the file's
 * content (hundreds of megabytes) on every key would block the event loop.
 */
export function modelFingerprint(path: string): string {
  try {
    const { size, mtimeMs } = statSync(path);
    return createHash('sha256').update(`${path}\0${size}\0${mtimeMs}`).digest('hex').slice(0, 16);
  } catch {
    return 'absent';
  }
}
