/**
 * FLUX-FILL: prompted generation inside the mask. Generative, so it runs on a
 * GPU host, or locally only when the user installs an ONNX graph that takes
 * the prompt as a string input (flux-fill.onnx; see docs/bricks-edit.md).
 */
import { type AnyBrick, defineBrick, port } from '../../src/engine/brick.ts';
import { BrickUnavailableError, NeedsGpuHostError } from '../../src/engine/errors.ts';
import { gpuHostBackend } from '../lib/backends.ts';
import { modelFill } from '../lib/inpaint.ts';
import { type BrickEnvironment, NO_USER_MODELS } from '../environment.ts';
import { loadModel, modelBackendKey, modelStatus, stringInput } from '../models/onnx-models.ts';

/** FLUX-FILL using the user models of `env`. */
export function fluxFillBrick(env: BrickEnvironment): AnyBrick {
  return defineBrick({
    name: 'FLUX-FILL',
    kind: 'edit',
    description: 'Generate the prompt inside the mask',
    inputs: { image: port.image(), mask: port.mask(), prompt: port.str({ description: 'What to draw inside the mask' }), preimage: port.image({ optional: true }) },
    outputs: { image: port.image() },
    constraint: 'Adds or replaces objects; use ADD-PRED or RES (+BBOX) for the mask. Needs a GPU host (or a user-installed flux-fill.onnx).',
    version: '1',
    cpuHeavy: true,
    backendKey: () => modelBackendKey('fill', env),
    backends: () => [gpuHostBackend(), modelStatus('fill', env)],
    gpuNeed: () => (modelStatus('fill', env).available ? undefined : 'Generative fill (FLUX.1 Fill)'),
    async run({ image, mask, prompt, preimage }, ctx) {
      const model = await loadModel('fill', env);
      if (!model) throw new NeedsGpuHostError('FLUX-FILL', 'Generative fill (FLUX.1 Fill)');
      if (!stringInput(model)) {
        throw new BrickUnavailableError('FLUX-FILL', `${model.path} takes no prompt (string) input, so it cannot draw "${prompt}"`, 'Install a prompt-conditioned graph or configure a GPU host.');
      }
      return { image: (await modelFill(model, preimage ?? image, mask, { signal: ctx.signal, prompt })).image };
    },
  });
}

/** FLUX-FILL with no user models installed (CPU variants only), for tests and benches. */
export const FLUX_FILL = fluxFillBrick(NO_USER_MODELS);
