/**
 * FLUX-INPAINT: high-quality removal refining a FASTINPAINT pre-fill. With a
 * user-supplied LaMa model (lama.onnx in the models directory) it runs that;
 * otherwise a CPU exemplar pass (PatchMatch over the hole's surroundings,
 * guided by the pre-fill) replaces diffusion blur with real texture.
 */
import { type AnyBrick, defineBrick, port } from '../../src/engine/brick.ts';
import { GPU_HOST_MISSING } from '../lib/backends.ts';
import { exemplarRefine, modelFill } from '../lib/inpaint.ts';
import { requireFillableMask, requireImageSize } from '../lib/input-checks.ts';
import { type BrickEnvironment, NO_USER_MODELS } from '../environment.ts';
import { loadModel, modelBackendKey, modelStatus } from '../models/onnx-models.ts';
import { openCvStatus } from '../models/opencv.ts';

/** FLUX-INPAINT using the user models of `env`. */
export function fluxInpaintBrick(env: BrickEnvironment): AnyBrick {
  return defineBrick({
    name: 'FLUX-INPAINT',
    kind: 'edit',
    description: 'High-quality removal refining a FASTINPAINT pre-fill',
    inputs: {
      image: port.image({ description: 'The original image' }),
      mask: port.mask({ description: 'The same removal mask FASTINPAINT got' }),
      preimage: port.image({ description: 'FASTINPAINT result' }),
      score: port.float({ description: 'FASTINPAINT score' }),
    },
    outputs: { image: port.image() },
    constraint:
      'Use after FASTINPAINT when its score is low or the region is large. With lama.onnx installed it runs LaMa; on plain CPU it copies texture ' +
      'from around the hole (grass stays grass, walls stay walls) but cannot continue structures such as a road edge across a wide hole, nor invent ' +
      'what is hidden. Pixels outside the slightly dilated mask are untouched.',
    version: '1',
    // The CPU variants stand in for diffusion; a configured GPU backend does every request.
    gpuRoute: 'gpu',
    cpuHeavy: true,
    backendKey: () => modelBackendKey('inpaint', env),
    backends: () => [
      modelStatus('inpaint', env),
      openCvStatus('PatchMatch exemplar refinement of the pre-fill'),
      { ...GPU_HOST_MISSING, detail: `generative inpainting: ${GPU_HOST_MISSING.detail}` },
    ],
    async run({ image, mask, preimage, score }, ctx) {
      requireImageSize('FLUX-INPAINT', image);
      requireFillableMask('FLUX-INPAINT', mask);
      const model = await loadModel('inpaint', env);
      if (model) {
        ctx.logger.debug({ model: model.path, provider: model.provider }, 'FLUX-INPAINT with user model');
        return { image: (await modelFill(model, image, mask, { signal: ctx.signal })).image };
      }
      return { image: (await exemplarRefine(image, mask, preimage, { signal: ctx.signal, score })).image };
    },
  });
}

/** FLUX-INPAINT with no user models installed (CPU variants only), for tests and benches. */
export const FLUX_INPAINT = fluxInpaintBrick(NO_USER_MODELS);
