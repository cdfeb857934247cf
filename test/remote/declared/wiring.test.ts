import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { builtinBricks } from '../../../bricks/index.ts';
import { loadConfig } from '../../../src/config.ts';
import type { BrickProgress } from '../../../src/engine/brick.ts';
import { BrickRegistry } from '../../../src/engine/registry.ts';
import type { ImageData } from '../../../src/engine/values.ts';
import { makeMask } from '../../../src/engine/values.ts';
import { declaredFromSetting, manifestFiles, wireRemoteBricks } from '../../../src/remote/declared/wiring.ts';
import { type FakeComfyUI, startFakeComfyUI } from '../../fakes/comfyui-server.ts';
import { repoRoot } from '../../support/shared.ts';
import { solidImage } from '../../support/test-bricks.ts';
import { testLogger } from '../support.ts';

const image = solidImage(24, 16, [120, 60, 30]);
const ctx = () => ({ signal: AbortSignal.timeout(10_000), logger: testLogger, progress: (_p: BrickProgress) => {} });

const styleManifest = (url: string) =>
  JSON.stringify({
    bricks: [
      {
        name: 'FLUX-STYLE',
        kind: 'edit',
        description: 'Style transfer on ComfyUI',
        inputs: { image: 'Image', mask: { type: 'Mask', optional: true }, prompt: 'Str', style: 'Str' },
        outputs: { image: 'Image' },
        backend: {
          type: 'comfyui',
          url,
          workflow: {
            '1': { class_type: 'LoadImage', inputs: { image: '{{image}}' } },
            '2': { class_type: 'LoadImageMask', inputs: { image: '{{mask}}', channel: 'red' } },
            '3': { class_type: 'KSampler', inputs: { seed: '{{seed}}', steps: 2, text: '{{style}}: {{prompt}}' } },
            '4': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'style' } },
          },
          outputs: { image: { node: '4' } },
          timeoutMs: 120000,
        },
      },
    ],
  });

describe('wiring manifest bricks next to the built-ins', () => {
  let comfy: FakeComfyUI;
  beforeAll(async () => {
    comfy = await startFakeComfyUI();
  });
  afterAll(() => comfy.close());

  function wired(url: string) {
    const dir = mkdtempSync(join(tmpdir(), 'lego-wiring-'));
    const file = join(dir, 'style.json');
    writeFileSync(file, styleManifest(url));
    const registry = new BrickRegistry(builtinBricks());
    const wiring = wireRemoteBricks(registry, loadConfig({ LEGO_EDIT_DATA_DIR: dir, LEGO_EDIT_BRICKS: file }), testLogger);
    return { registry, wiring };
  }

  it('keeps what the CPU variant can do on the CPU and sends only the rest to the manifest brick', async () => {
    const { registry } = wired(comfy.url);
    const brick = registry.get('FLUX-STYLE')!;
    const before = comfy.prompts.length;
    const sepia = (await brick.run({ image, mask: null, prompt: 'a street', style: 'sepia' } as never, ctx())) as unknown as { image: ImageData };
    expect(comfy.prompts.length).toBe(before);
    expect(sepia.image.data[0]).not.toBe(255 - 120);
    const ghibli = (await brick.run({ image, mask: null, prompt: 'a street', style: 'Ghibli' } as never, ctx())) as unknown as { image: ImageData };
    expect(comfy.prompts.length).toBe(before + 1);
    expect(comfy.prompts.at(-1)!['3']!.inputs.text).toBe('Ghibli: a street');
    expect([...ghibli.image.data.slice(0, 3)]).toEqual([135, 195, 225]);
    expect(brick.timeoutMs).toBe(120000);
  });

  it('still does sepia when ComfyUI is down, and lists ComfyUI as the generative backend', async () => {
    const { registry } = wired('http://127.0.0.1:9');
    const brick = registry.get('FLUX-STYLE')!;
    const out = (await brick.run({ image, mask: null, prompt: 'a street', style: 'sepia' } as never, ctx())) as unknown as { image: ImageData };
    expect(out.image.width).toBe(24);
    const lines = await brick.backends!();
    expect(lines.map((l) => l.name)).toEqual(['cpu-filters', 'comfyui']);
    expect(lines[1]).toMatchObject({ available: false, detail: expect.stringMatching(/^generative styles: http:\/\/127\.0\.0\.1:9 cannot be reached/) });
  });
});

describe('routing FLUX-INPAINT, whose CPU variant only stands in for diffusion', () => {
  let comfy: FakeComfyUI;
  beforeAll(async () => {
    comfy = await startFakeComfyUI();
  });
  afterAll(() => comfy.close());

  const square = makeMask(24, 16);
  for (let y = 4; y < 12; y++) for (let x = 6; x < 18; x++) square.data[y * 24 + x] = 255;
  const inputs = { image, mask: square, preimage: image, score: 0.9 };
  function wired(url: string, routes?: string) {
    const registry = new BrickRegistry(builtinBricks());
    const env = { LEGO_EDIT_DATA_DIR: mkdtempSync(join(tmpdir(), 'lego-route-')), LEGO_EDIT_BRICKS: join(repoRoot, 'examples/comfyui-pack/current'), COMFYUI_URL: url };
    wireRemoteBricks(registry, loadConfig(routes ? { ...env, LEGO_EDIT_GPU_ROUTES: routes } : env), testLogger);
    return registry.get('FLUX-INPAINT')!;
  }

  it('sends every request to a configured GPU backend, although the CPU variant never refuses one', async () => {
    const before = comfy.prompts.length;
    await wired(comfy.url).run(inputs as never, ctx());
    expect(comfy.prompts.length).toBe(before + 1);
    // The GPU backend is listed first: it is the one this brick uses when it can.
    expect((await wired(comfy.url).backends!())[0]!.name).toBe('comfyui');
  });

  it('keeps it on the CPU when the configuration says FLUX-INPAINT=cpu', async () => {
    const before = comfy.prompts.length;
    const out = (await wired(comfy.url, 'FLUX-INPAINT=cpu').run(inputs as never, ctx())) as unknown as { image: ImageData };
    expect(comfy.prompts.length).toBe(before);
    expect(out.image.width).toBe(24);
  });

  it('falls back to the CPU variant, with a warning, while ComfyUI cannot be reached', async () => {
    const warnings: string[] = [];
    const out = (await wired('http://127.0.0.1:9').run(inputs as never, { ...ctx(), warn: (m: string) => warnings.push(m) })) as unknown as { image: ImageData };
    expect(out.image.width).toBe(24);
    expect(warnings).toEqual(['FLUX-INPAINT: the GPU host could not be reached, so the CPU variant did this step.']);
  });
});

describe('LEGO_EDIT_BRICKS', () => {
  it('takes a comma-separated list, or a directory whose manifests are its YAML files and the JSON files declaring bricks', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lego-bricks-dir-'));
    mkdirSync(join(dir, 'pack'));
    writeFileSync(join(dir, 'pack', 'b.yaml'), 'bricks: []');
    writeFileSync(join(dir, 'pack', 'a.json'), '{"bricks": []}');
    writeFileSync(join(dir, 'pack', 'a.api.json'), '{"1": {"class_type": "LoadImage", "inputs": {}}}');
    expect(manifestFiles(join(dir, 'pack'))).toEqual([join(dir, 'pack', 'a.json'), join(dir, 'pack', 'b.yaml')]);
    expect(manifestFiles(`${join(dir, 'pack', 'b.yaml')}, ${join(dir, 'x.yaml')}`)).toEqual([join(dir, 'pack', 'b.yaml'), join(dir, 'x.yaml')]);
  });

  it('parses each JSON file once at start-up: a manifest found in a directory, and the workflow it names', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lego-bricks-once-'));
    const workflow = JSON.stringify({ '1': { class_type: 'LoadImage', inputs: { image: '{{image}}' } }, '2': { class_type: 'SaveImage', inputs: { images: ['1', 0] } } });
    const manifest = JSON.stringify({
      bricks: [
        {
          name: 'ONCE',
          kind: 'edit',
          description: 'Read once',
          inputs: { image: 'Image' },
          outputs: { image: 'Image' },
          backend: { type: 'comfyui', url: 'http://127.0.0.1:9', workflow: 'once.api.json', outputs: { image: { node: '2' } } },
        },
      ],
    });
    writeFileSync(join(dir, 'once.api.json'), workflow);
    writeFileSync(join(dir, 'bricks.json'), manifest);
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const bricks = declaredFromSetting(dir, loadConfig({ LEGO_EDIT_DATA_DIR: dir }), { role: 'worker', logger: testLogger });
      expect(bricks.map((b) => b.name)).toEqual(['ONCE']);
      const times = (text: string) => parse.mock.calls.filter(([arg]) => arg === text).length;
      expect({ manifest: times(manifest), workflow: times(workflow) }).toEqual({ manifest: 1, workflow: 1 });
    } finally {
      parse.mockRestore();
    }
  });

  it('refuses the same brick declared in two manifests, naming both files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lego-bricks-twice-'));
    writeFileSync(join(dir, 'one.json'), styleManifest('http://127.0.0.1:9'));
    writeFileSync(join(dir, 'two.json'), styleManifest('http://127.0.0.1:9'));
    const registry = new BrickRegistry(builtinBricks());
    expect(() => wireRemoteBricks(registry, loadConfig({ LEGO_EDIT_DATA_DIR: dir, LEGO_EDIT_BRICKS: dir }), testLogger)).toThrow(
      new RegExp(`two\\.json:\\n- FLUX-STYLE is also declared in .*one\\.json`),
    );
  });
});
