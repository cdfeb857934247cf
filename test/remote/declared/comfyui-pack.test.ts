/**
 * The ComfyUI brick pack (examples/comfyui-pack): every workflow of both
 * recipes passes the validation of a fake ComfyUI that checks graphs against
 * a real /object_info dump, as ComfyUI's validate_prompt does, and each of the
 * seven bricks runs end to end from `lego-edit edit` through that fake.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import type { BrickProgress } from '../../../src/engine/brick.ts';
import { decodeImage, encodeImage } from '../../../src/engine/image-io.ts';
import type { ImageData, MaskData } from '../../../src/engine/values.ts';
import { makeImage, makeMask } from '../../../src/engine/values.ts';
import { declaredBricks } from '../../../src/remote/declared/wiring.ts';
import { type FakeComfyUI, type FakeComfyUIOptions, startFakeComfyUI } from '../../fakes/comfyui-server.ts';
import { validatePrompt } from '../../fakes/comfyui-validate.ts';
import { type FakeOpenAI, startFakeOpenAI } from '../../fakes/openai-server.ts';
import { lego } from '../../support/cli.ts';
import { describeWithObjectInfo, objectInfo } from '../../support/comfyui.ts';
import { repoRoot } from '../../support/shared.ts';
import { testLogger } from '../support.ts';

const PACK = join(repoRoot, 'examples/comfyui-pack');
const RECIPES = ['current', 'lego-edit'] as const;

/** The model files as their publishers name them (docs/gpu-host.md), by ComfyUI folder. */
const MODELS: NonNullable<FakeComfyUIOptions['models']> = {
  diffusion_models: ['flux1-dev-kontext_fp8_scaled.safetensors', 'flux1-fill-dev.safetensors', 'flux1-canny-dev.safetensors'],
  text_encoders: ['clip_l.safetensors', 't5xxl_fp8_e4m3fn_scaled.safetensors', 't5xxl_fp8_e4m3fn.safetensors'],
  vae: ['ae.safetensors'],
  loras: ['mat768.safetensors', 'style768.safetensors', 'env768.safetensors', 'pose768.safetensors', 'inpaint.safetensors'],
};

/** 60×40 with a gradient; the mask a centred box. */
function picture(): ImageData {
  const img = makeImage(61, 41, 3);
  for (let p = 0; p < 61 * 41; p++) {
    img.data[p * 3] = (p % 61) * 4;
    img.data[p * 3 + 1] = Math.floor(p / 61) * 6;
    img.data[p * 3 + 2] = 90;
  }
  return img;
}
function box(): MaskData {
  const m = makeMask(61, 41);
  for (let y = 10; y < 30; y++) for (let x = 15; x < 45; x++) m.data[y * 61 + x] = 255;
  return m;
}

const INPUTS: Record<string, Record<string, unknown>> = {
  'FLUX-FILL': { mask: box(), prompt: 'a red balloon' },
  'FLUX-INPAINT': { mask: box(), preimage: picture(), score: 0.4 },
  'FLUX-RCM': { mask: box(), prompt: 'walnut wood' },
  'FLUX-STYLE': { mask: null, prompt: 'a street', style: 'Ghibli' },
  'FLUX-ENV': { prompt: 'a snowy winter night' },
  'FLUX-POSE': { prompt: 'raising both arms' },
  'FLUX-CBG': { mask: box(), prompt: 'a beach at sunset' },
};

describeWithObjectInfo('the ComfyUI brick pack against ComfyUI’s node schema', () => {
  const info = () => objectInfo();

  for (const recipe of RECIPES) {
    it(`${recipe}: every workflow passes validate_prompt with the publishers’ model files present`, async () => {
      const comfy = await startFakeComfyUI({ objectInfo: info(), models: MODELS });
      try {
        const config = loadConfig({ LEGO_EDIT_DATA_DIR: '/nonexistent', COMFYUI_URL: comfy.url });
        const bricks = declaredBricks(join(PACK, recipe, 'bricks.yaml'), config, { role: 'worker', logger: testLogger });
        expect(bricks.map((b) => b.name).sort()).toEqual(Object.keys(INPUTS).sort());
        for (const brick of bricks) {
          const ctx = { signal: AbortSignal.timeout(20_000), logger: testLogger, progress: (_p: BrickProgress) => {} };
          const out = (await brick.run({ image: picture(), ...INPUTS[brick.name] } as never, ctx)) as unknown as { image: ImageData };
          expect([brick.name, out.image.width, out.image.height]).toEqual([brick.name, 61, 41]);
        }
        expect(JSON.stringify(comfy.prompts)).not.toContain('{{');
        // FASTINPAINT's score 0.4 (a poor pre-fill) redraws most of it.
        const inpaint = comfy.prompts.find((p) => p['50']?.inputs.filename_prefix === 'lego-edit-flux-inpaint')!;
        expect(inpaint['30']!.inputs.denoise).toBeCloseTo(0.88);
      } finally {
        await comfy.close();
      }
    });
  }

  it('the lego-edit recipe uses the diptych prompt at guidance 50 and 25 steps, cropping the right half', () => {
    const rcm = JSON.parse(readFileSync(join(PACK, 'lego-edit', 'flux-rcm.api.json'), 'utf8')) as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
    const byClass = (c: string) => Object.values(rcm).filter((n) => n.class_type === c);
    expect(byClass('CLIPTextEncode').map((n) => n.inputs.text)).toContain(
      'A diptych with two side-by-side images of the same scene. On the right, the scene is exactly the same as on the left but {{prompt}}',
    );
    expect(byClass('FluxGuidance')[0]!.inputs.guidance).toBe(50);
    expect(byClass('KSampler')[0]!.inputs.steps).toBe(25);
    expect(byClass('ImageScale')[0]!.inputs.width).toBe(768);
    expect(byClass('ImageCrop')[0]!.inputs).toMatchObject({ x: 768, width: 768 });
    expect(byClass('LoraLoaderModelOnly')[0]!.inputs.lora_name).toBe('mat768.safetensors');
  });

  it('ComfyUI’s schema refuses each workflow when a model file is missing, naming the loader input', () => {
    for (const recipe of RECIPES) {
      for (const file of readdirSync(join(PACK, recipe)).filter((f) => f.endsWith('.api.json'))) {
        const graph = JSON.parse(readFileSync(join(PACK, recipe, file), 'utf8')) as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
        const failure = validatePrompt(graph, info(), () => true);
        expect(failure?.error.type, `${recipe}/${file}`).toBe('prompt_outputs_failed_validation');
        const errors = Object.values(failure!.node_errors).flatMap((n) => n.errors.map((e) => `${n.class_type}.${String(e.extra_info.input_name)}:${e.type}`));
        expect(errors, `${recipe}/${file}`).toContain('VAELoader.vae_name:value_not_in_list');
      }
    }
  });
});

describeWithObjectInfo('readiness from the live server’s /object_info', () => {
  it('is ready when every node, input and model file is there, and says exactly which file is missing otherwise', async () => {
    const full = await startFakeComfyUI({ objectInfo: objectInfo(), models: MODELS });
    const lacking = await startFakeComfyUI({
      objectInfo: objectInfo(),
      models: { ...MODELS, diffusion_models: ['flux1-fill-dev.safetensors', 'flux1-canny-dev.safetensors'], loras: [] },
    });
    try {
      for (const recipe of RECIPES) {
        const config = loadConfig({ LEGO_EDIT_DATA_DIR: '/nonexistent', COMFYUI_URL: full.url });
        for (const b of declaredBricks(join(PACK, recipe, 'bricks.yaml'), config, { role: 'worker', logger: testLogger })) {
          expect([b.name, (await b.backends!())[0]!.available]).toEqual([b.name, true]);
        }
      }
      const config = loadConfig({ LEGO_EDIT_DATA_DIR: '/nonexistent', COMFYUI_URL: lacking.url });
      const current = declaredBricks(join(PACK, 'current', 'bricks.yaml'), config, { role: 'worker', logger: testLogger });
      const rcm = (await current.find((b) => b.name === 'FLUX-RCM')!.backends!())[0]!;
      expect(rcm).toMatchObject({ available: false, detail: `${lacking.url}: flux1-dev-kontext_fp8_scaled.safetensors is not in ComfyUI's diffusion_models` });
      expect((await current.find((b) => b.name === 'FLUX-FILL')!.backends!())[0]!.available).toBe(true);
      const lego = declaredBricks(join(PACK, 'lego-edit', 'bricks.yaml'), config, { role: 'worker', logger: testLogger });
      expect((await lego.find((b) => b.name === 'FLUX-ENV')!.backends!())[0]!.detail).toBe(`${lacking.url}: env768.safetensors is not in ComfyUI's loras`);
    } finally {
      await full.close();
      await lacking.close();
    }
  });
});

describe('the fake’s validate_prompt', () => {
  const info = {
    Load: { input: { required: { name: [['a.safetensors']] } }, output: ['MODEL'] },
    Use: { input: { required: { model: ['MODEL'], steps: ['INT', { min: 1, max: 100 }] }, optional: { extra: ['IMAGE'] } }, output: ['IMAGE'] },
    Save: { input: { required: { images: ['IMAGE'] } }, output: [], output_node: true },
  };

  it('answers in ComfyUI’s shape for unknown classes, missing inputs, bad links, wrong types, bounds and combo values', () => {
    expect(validatePrompt({ '1': { class_type: 'Nope', inputs: {} } }, info, () => true)?.error).toMatchObject({ type: 'missing_node_type' });
    expect(validatePrompt({ '1': { class_type: 'Load', inputs: { name: 'a.safetensors' } } }, info, () => true)?.error).toMatchObject({ type: 'prompt_no_outputs' });
    const failure = validatePrompt(
      {
        '1': { class_type: 'Load', inputs: { name: 'b.safetensors' } },
        '2': { class_type: 'Use', inputs: { model: ['1', 0], steps: 500, extra: ['1', 0] } },
        '3': { class_type: 'Save', inputs: { images: ['2', 0] } },
        '4': { class_type: 'Save', inputs: { images: ['9', 0] } },
        '5': { class_type: 'Save', inputs: {} },
      },
      info,
      () => true,
    )!;
    expect(failure.error.type).toBe('prompt_outputs_failed_validation');
    const flat = Object.entries(failure.node_errors).flatMap(([id, n]) => n.errors.map((e) => `${id}:${e.type}`));
    expect(flat.sort()).toEqual(['1:value_not_in_list', '2:return_type_mismatch', '2:value_bigger_than_max', '4:bad_linked_input', '5:required_input_missing']);
    expect(failure.node_errors['2']!.errors.find((e) => e.type === 'return_type_mismatch')!.details).toBe('extra, received_type(MODEL) mismatch input_type(IMAGE)');
  });
});

describeWithObjectInfo('each generative brick end to end from `lego-edit edit` through the fake ComfyUI', () => {
  let comfy: FakeComfyUI;
  let llm: FakeOpenAI;
  const dir = mkdtempSync(join(tmpdir(), 'lego-pack-cli-'));
  const photo = join(dir, 'photo.png');
  const maskFile = join(dir, 'mask.png');
  beforeAll(async () => {
    comfy = await startFakeComfyUI({ objectInfo: objectInfo(), models: MODELS });
    llm = await startFakeOpenAI();
    writeFileSync(photo, await encodeImage(picture(), 'png'));
    writeFileSync(maskFile, await encodeImage(box(), 'png'));
  });
  afterAll(async () => {
    await comfy.close();
    await llm.close();
  });

  const step = (n: number, model: string, input: Record<string, string>) => ({ step: n, model, input, output: { image: `step${n}[image]` } });
  const PLANS: Record<string, object[]> = {
    'FLUX-FILL': [step(1, 'FLUX-FILL', { image: 'init[image]', mask: 'init[mask]', prompt: 'a red balloon' })],
    'FLUX-INPAINT': [
      { step: 1, model: 'FASTINPAINT', input: { image: 'init[image]', mask: 'init[mask]' }, output: { image: 'step1[image]', score: 'step1[score]' } },
      step(2, 'FLUX-INPAINT', { image: 'init[image]', mask: 'init[mask]', preimage: 'step1[image]', score: 'step1[score]' }),
    ],
    'FLUX-RCM': [step(1, 'FLUX-RCM', { image: 'init[image]', mask: 'init[mask]', prompt: 'walnut wood' })],
    'FLUX-STYLE': [step(1, 'FLUX-STYLE', { image: 'init[image]', prompt: 'a street', style: 'Ghibli' })],
    'FLUX-ENV': [step(1, 'FLUX-ENV', { image: 'init[image]', prompt: 'a blizzard' })],
    'FLUX-POSE': [step(1, 'FLUX-POSE', { image: 'init[image]', prompt: 'raising both arms' })],
    'FLUX-CBG': [step(1, 'FLUX-CBG', { image: 'init[image]', mask: 'init[mask]', prompt: 'a beach at sunset' })],
  };

  it('`lego-edit bricks` says "ready" or what is missing, and the Builder is offered only ready bricks', async () => {
    const lacking = await startFakeComfyUI({ objectInfo: objectInfo(), models: { ...MODELS, diffusion_models: ['flux1-dev-kontext_fp8_scaled.safetensors', 'flux1-canny-dev.safetensors'] } });
    try {
      const env = { LEGO_EDIT_DATA_DIR: dir, COMFYUI_URL: lacking.url, LEGO_EDIT_BRICKS: join(PACK, 'current') };
      const listed = await lego(['bricks'], env);
      const block = (name: string) => listed.stdout.split('\n\n').find((b) => b.startsWith(`${name} (`)) ?? '';
      expect(block('FLUX-FILL')).toContain("Status: not ready — ");
      expect(block('FLUX-FILL')).toContain("flux1-fill-dev.safetensors is not in ComfyUI's diffusion_models");
      expect(block('FLUX-POSE')).toContain('Status: ready');
      llm.script({ reply: JSON.stringify({ pipeline: [step(1, 'FLUX-POSE', { image: 'init[image]', prompt: 'waving' }), { result: '[step1[image]]' }] }) });
      const asked = llm.requests.length;
      const r = await lego(['edit', photo, 'make her wave', '-o', join(dir, 'wave.png')], { ...env, OPENAI_BASE_URL: llm.baseURL, OPENAI_API_KEY: 'test', BUILDER_MODEL: 'fake' });
      expect(r.code, r.stderr).toBe(0);
      const system = String(llm.requests[asked]!.body.messages[0]!.content);
      const runnable = /Bricks that can run right now: ([^\n]*)\./.exec(system)![1]!.split(', ');
      expect(runnable).toContain('FLUX-POSE');
      expect(runnable).not.toContain('FLUX-FILL');
    } finally {
      await lacking.close();
    }
  }, 60_000);

  for (const [brick, pipeline] of Object.entries(PLANS)) {
    it(`${brick}: planned, sent to ComfyUI, written at the photo’s size`, async () => {
      const last = pipeline.length;
      llm.script({ reply: JSON.stringify({ pipeline: [...pipeline, { result: `[step${last}[image]]` }] }) });
      const before = comfy.prompts.length;
      const out = join(dir, `${brick}.png`);
      const r = await lego(['edit', photo, `do the ${brick} thing`, '--mask', maskFile, '-o', out], {
        LEGO_EDIT_DATA_DIR: dir,
        OPENAI_BASE_URL: llm.baseURL,
        OPENAI_API_KEY: 'test',
        BUILDER_MODEL: 'fake',
        COMFYUI_URL: comfy.url,
        LEGO_EDIT_BRICKS: join(PACK, 'current'),
      });
      expect(r.stderr, r.stdout).toBe('');
      expect(r.code).toBe(0);
      expect(comfy.prompts.length).toBe(before + 1);
      const written = await decodeImage(readFileSync(out));
      expect([written.width, written.height]).toEqual([61, 41]);
    }, 60_000);
  }
});
