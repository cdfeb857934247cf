/**
 * User-supplied ONNX models. A user drops a model file into the models
 * directory (LEGO_EDIT_MODELS_DIR, default <data dir>/models, handed to the
 * bricks in their BrickEnvironment) and the matching
 * brick uses it through onnxruntime-node: CUDA where its provider library is
 * installed, else CPU. Sessions load lazily, once per process per file, and are
 * shared by concurrent requests; a changed file (new mtime) is reloaded.
 *
 * Conventions (see docs/bricks-edit.md for details):
 * - inpaint (FLUX-INPAINT): `lama.onnx` etc. Inputs `image` [1,3,H,W] 0..1 and
 *   `mask` [1,1,H,W] 0/1; output [1,3,H,W] in 0..1 or 0..255 (detected).
 * - segment (MASK-SEG): `isnet.onnx`, `u2net.onnx`, `birefnet.onnx` or
 *   `segment.onnx`. Input [1,3,S,S] normalised; output [1,1,S,S] saliency,
 *   min-max normalised.
 * - fill / pose (FLUX-FILL, FLUX-POSE): `flux-fill.onnx`, `flux-pose.onnx`,
 *   which must take the prompt as a string tensor input besides the image (and mask).
 * A sidecar `<model>.json` may set `size` (number or [w, h]), `mean` and `std`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import type { BackendStatus } from '../../src/engine/brick.ts';
import type { BrickEnvironment } from '../environment.ts';
import { createOnnxSession, modelFingerprint, onnxRuntime, usableProviders } from './onnx-session.ts';

export type ModelRole = 'inpaint' | 'segment' | 'fill' | 'pose';

export interface RoleSpec {
  readonly files: readonly string[];
  readonly brick: string;
  readonly what: string;
}

export const MODEL_ROLES: Readonly<Record<ModelRole, RoleSpec>> = {
  inpaint: { files: ['lama.onnx', 'big-lama.onnx', 'lama_fp32.onnx', 'inpaint.onnx'], brick: 'FLUX-INPAINT', what: 'LaMa-style inpainting (image + mask → image)' },
  segment: { files: ['isnet.onnx', 'birefnet.onnx', 'u2net.onnx', 'u2netp.onnx', 'segment.onnx'], brick: 'MASK-SEG', what: 'salient-object segmentation (image → mask)' },
  fill: { files: ['flux-fill.onnx'], brick: 'FLUX-FILL', what: 'prompted fill (image + mask + prompt string → image)' },
  pose: { files: ['flux-pose.onnx'], brick: 'FLUX-POSE', what: 'prompted pose edit (image + prompt string → image)' },
};

export interface ModelOptions {
  /** Model input size as [width, height] when the graph's dimensions are symbolic. */
  readonly size?: readonly [number, number];
  readonly mean?: readonly [number, number, number];
  readonly std?: readonly [number, number, number];
}

export interface LoadedModel {
  readonly role: ModelRole;
  readonly path: string;
  readonly session: InferenceSession;
  /** The execution provider the session was created with ("cuda" or "cpu"). */
  readonly provider: string;
  readonly options: ModelOptions;
}

/** The model file for a role, if the user has installed one. */
export function findModel(role: ModelRole, dir: string | undefined): string | undefined {
  if (!dir) return undefined;
  for (const f of MODEL_ROLES[role].files) {
    const p = join(dir, f);
    if (existsSync(p)) return p;
  }
  return undefined;
}

const sessions = new Map<string, Promise<LoadedModel>>();
const providerUsed = new Map<string, string>();
const loadErrors = new Map<string, string>();

function readOptions(path: string): ModelOptions {
  const side = path.replace(/\.onnx$/, '.json');
  if (!existsSync(side)) return {};
  const raw = JSON.parse(readFileSync(side, 'utf8')) as { size?: number | [number, number]; mean?: [number, number, number]; std?: [number, number, number] };
  const size = typeof raw.size === 'number' ? ([raw.size, raw.size] as const) : raw.size;
  return { ...(size ? { size } : {}), ...(raw.mean ? { mean: raw.mean } : {}), ...(raw.std ? { std: raw.std } : {}) };
}

async function createSession(role: ModelRole, path: string, env: BrickEnvironment): Promise<LoadedModel> {
  const { session, provider } = await createOnnxSession(path, env.logger ? { logger: env.logger } : {});
  providerUsed.set(path, provider);
  loadErrors.delete(path);
  return { role, path, session, provider, options: readOptions(path) };
}

/** The session for a role's model, created once per file version; undefined when no model is installed. */
export async function loadModel(role: ModelRole, env: BrickEnvironment): Promise<LoadedModel | undefined> {
  const path = findModel(role, env.modelsDir);
  if (!path) return undefined;
  let mtime: number;
  try {
    mtime = statSync(path).mtimeMs;
  } catch {
    // Removed between the directory check and now: as if it had never been installed.
    return undefined;
  }
  const key = `${path}@${mtime}`;
  let loading = sessions.get(key);
  if (!loading) {
    loading = createSession(role, path, env);
    sessions.set(key, loading);
    loading.catch((err: unknown) => {
      sessions.delete(key);
      loadErrors.set(path, err instanceof Error ? err.message : String(err));
    });
  }
  return loading;
}

/** What a role's brick runs on, for its cache key: the installed model's fingerprint, or "none" (the CPU variant). */
export function modelBackendKey(role: ModelRole, env: BrickEnvironment): string {
  const path = findModel(role, env.modelsDir);
  return path ? `onnx:${modelFingerprint(path)}` : 'none';
}

/** Backend line for a role, without loading anything. */
export function modelStatus(role: ModelRole, env: BrickEnvironment): BackendStatus {
  const spec = MODEL_ROLES[role];
  const name = `onnx:${role}`;
  const dir = env.modelsDir;
  const path = findModel(role, dir);
  if (!path) {
    return { name, available: false, detail: `${spec.what}: drop ${spec.files[0]} into ${dir ?? 'the models directory (LEGO_EDIT_MODELS_DIR)'}` };
  }
  const failed = loadErrors.get(path);
  if (failed) return { name, available: false, detail: `${path} failed to load: ${failed}` };
  const provider = providerUsed.get(path);
  return { name, available: true, detail: `${path} (${provider ? `loaded on ${provider}` : `will load on ${usableProviders().join(' or ')}`})` };
}

/** Static [width, height] of a 4-D image input, when the graph fixes them. */
export function staticSize(model: LoadedModel, inputName: string): [number, number] | undefined {
  const i = model.session.inputNames.indexOf(inputName);
  const meta = model.session.inputMetadata[i];
  if (!meta?.isTensor) return undefined;
  const [, , h, w] = meta.shape;
  return typeof w === 'number' && typeof h === 'number' && w > 0 && h > 0 ? [w, h] : undefined;
}

/** The input whose name matches `pattern`, else the first float input not excluded. */
export function inputNamed(model: LoadedModel, pattern: RegExp, exclude: readonly string[] = []): string | undefined {
  const { inputNames, inputMetadata } = model.session;
  const floats = inputNames.filter((n, i) => !exclude.includes(n) && inputMetadata[i]?.isTensor && (inputMetadata[i] as { type: string }).type === 'float32');
  return floats.find((n) => pattern.test(n)) ?? floats[0];
}

/** The string-typed input (a prompt), if the graph declares one. */
export function stringInput(model: LoadedModel): string | undefined {
  const { inputNames, inputMetadata } = model.session;
  return inputNames.find((_n, i) => inputMetadata[i]?.isTensor && (inputMetadata[i] as { type: string }).type === 'string');
}

export async function tensor(data: Float32Array, dims: readonly number[]) {
  const { Tensor } = await onnxRuntime();
  return new Tensor('float32', data, dims);
}

export async function stringTensor(text: string) {
  const { Tensor } = await onnxRuntime();
  return new Tensor('string', [text], [1]);
}

/** For tests: forget loaded sessions so a new models directory is read. */
export function resetModelsForTests(): void {
  sessions.clear();
  providerUsed.clear();
  loadErrors.clear();
}
