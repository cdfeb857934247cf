/**
 * FLUX-POSE: posture and expression edits. Generative, so it runs on a GPU
 * host, or locally only with a user-installed prompt-taking flux-pose.onnx.
 */
import { type AnyBrick, defineBrick, port } from '../../src/engine/brick.ts';
import { BrickUnavailableError, NeedsGpuHostError } from '../../src/engine/errors.ts';
import { makeMask } from '../../src/engine/values.ts';
import { gpuHostBackend } from '../lib/backends.ts';
import { modelFill } from '../lib/inpaint.ts';
import { type BrickEnvironment, NO_USER_MODELS } from '../environment.ts';
import { loadModel, modelBackendKey, modelStatus, stringInput } from '../models/onnx-models.ts';

/** FLUX-POSE using the user models of `env`. */
export function fluxPoseBrick(env: BrickEnvironment): AnyBrick {
  return defineBrick({
    name: 'FLUX-POSE',
    kind: 'edit',
    description: 'Change posture or expression',
    inputs: { image: port.image(), prompt: port.str({ description: 'The new pose or expression' }) },
    outputs: { image: port.image() },
    constraint: 'People and animals only. Needs a GPU host (or a user-installed flux-pose.onnx).',
    version: '1',
    cpuHeavy: true,
    backendKey: () => modelBackendKey('pose', env),
    backends: () => [gpuHostBackend(), modelStatus('pose', env)],
    gpuNeed: () => (modelStatus('pose', env).available ? undefined : 'Pose and expression editing'),
    async run({ image, prompt }, ctx) {
      const model = await loadModel('pose', env);
      if (!model) throw new NeedsGpuHostError('FLUX-POSE', 'Pose and expression editing');
      if (!stringInput(model)) {
        throw new BrickUnavailableError('FLUX-POSE', `${model.path} takes no prompt (string) input`, 'Install a prompt-conditioned graph or configure a GPU host.');
      }
      // The whole frame may change, so the model sees the whole image as its "hole".
      const all = makeMask(image.width, image.height, new Uint8Array(image.width * image.height).fill(255));
      return { image: (await modelFill(model, image, all, { signal: ctx.signal, prompt, feather: false })).image };
    },
  });
}

/** FLUX-POSE with no user models installed (CPU variants only), for tests and benches. */
export const FLUX_POSE = fluxPoseBrick(NO_USER_MODELS);
