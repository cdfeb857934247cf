import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinBricks } from '../../../bricks/index.ts';
import { loadConfig } from '../../../src/config.ts';
import { BrickRegistry } from '../../../src/engine/registry.ts';
import { ManifestError, loadManifest, parseManifest } from '../../../src/remote/declared/manifest.ts';
import { wireRemoteBricks } from '../../../src/remote/declared/wiring.ts';
import { repoRoot } from '../../support/shared.ts';
import { testLogger } from '../support.ts';

function problems(text: string, file = 'bricks.yaml'): string[] {
  try {
    parseManifest(text, file);
  } catch (err) {
    if (err instanceof ManifestError) return [...err.problems];
    throw err;
  }
  return [];
}

describe('bricks manifest', () => {
  it('accepts the shipped examples', () => {
    for (const recipe of ['current', 'lego-edit']) {
      expect(loadManifest(join(repoRoot, `examples/comfyui-pack/${recipe}/bricks.yaml`)).bricks.map((b) => b.name)).toEqual([
        'FLUX-FILL',
        'FLUX-INPAINT',
        'FLUX-RCM',
        'FLUX-STYLE',
        'FLUX-ENV',
        'FLUX-POSE',
        'FLUX-CBG',
      ]);
    }
    expect(loadManifest(join(repoRoot, 'examples/bricks/lama.onnx.yaml')).bricks.map((b) => b.name)).toEqual(['INPAINT']);
  });

  it('reports every bad field with its path, in one error', () => {
    const found = problems(
      [
        'bricks:',
        '  - name: "bad name!"',
        '    kind: paint',
        '    description: ""',
        '    inputs: { image: Picture }',
        '    outputs: {}',
        '    backend: { type: onnx, model: m.onnx, inputs: {}, outputs: {}, colour: red }',
      ].join('\n'),
    );
    expect(found).toContainEqual(expect.stringMatching(/^bricks\[0\]\.name: brick names are letters, digits and dashes/));
    expect(found).toContainEqual(expect.stringMatching(/^bricks\[0\]\.kind:/));
    expect(found).toContainEqual(expect.stringMatching(/^bricks\[0\]\.description:/));
    expect(found).toContainEqual(expect.stringMatching(/^bricks\[0\]\.inputs\.image:/));
    expect(found).toContainEqual(expect.stringMatching(/^bricks\[0\]\.outputs: a brick needs at least one output/));
    expect(found).toContainEqual(expect.stringMatching(/^bricks\[0\]\.backend:.*colour/));
  });

  it('checks a backend against the brick’s ports', () => {
    const found = problems(
      [
        'bricks:',
        '  - { name: A, kind: edit, description: a, inputs: { image: Image }, outputs: { image: Image },',
        '      backend: { type: onnx, model: m.onnx, inputs: { image: { tensor: x, preprocess: mask-01 }, other: { tensor: y, preprocess: rgb-01 } }, outputs: { image: { tensor: o, postprocess: mask-01 } } } }',
        '  - { name: B, kind: edit, description: b, inputs: { image: Image }, outputs: { image: Image, score: Float },',
        '      backend: { type: comfyui, workflow: { "1": { class_type: X, inputs: { t: "{{prompt}}" } } }, outputs: { image: { node: 9 } } } }',
        '  - { name: a, kind: edit, description: dup, inputs: {}, outputs: { image: Image }, backend: { type: queue } }',
      ].join('\n'),
    );
    expect(found).toEqual(
      expect.arrayContaining([
        'bricks[0].backend.inputs.image: mask-01 does not fit a Image input',
        'bricks[0].backend.inputs.other: not an input of the brick',
        'bricks[0].backend.outputs.image: mask-01 does not produce a Image',
        'bricks[1].backend.outputs: output "score" has no ComfyUI node',
        'bricks[1].backend.workflow: placeholder {{prompt}} is not an input',
        'bricks[2].name: A is declared twice',
      ]),
    );
  });

  it('refuses a workflow placeholder that an absent optional input would leave unfilled', () => {
    const found = problems(
      [
        'bricks:',
        '  - { name: A, kind: edit, description: a, inputs: { image: Image, strength: { type: Float, optional: true }, note: { type: Str, optional: true, default: "" }, mask: { type: Mask, optional: true } }, outputs: { image: Image },',
        '      backend: { type: comfyui, workflow: { "1": { class_type: X, inputs: { s: "{{strength}}", n: "{{note}}", m: "{{mask}}", i: "{{image}}" } } }, outputs: { image: { node: 1 } } } }',
        '  - { name: B, kind: edit, description: b, inputs: { mask: { type: Mask, optional: true } }, outputs: { image: Image },',
        '      backend: { type: comfyui, workflow: { "1": { class_type: X, inputs: { m: "{{mask}}" } } }, outputs: { image: { node: 1 } } } }',
      ].join('\n'),
    );
    expect(found).toEqual([
      'bricks[0].backend.workflow: placeholder {{strength}} is an optional input without a default, so a run without it would leave {{strength}} in the workflow',
      'bricks[1].backend.workflow: placeholder {{mask}} is an optional Mask input, and no required Image input can stand in when it is absent',
    ]);
  });

  it('names the file and the syntax problem for unreadable YAML or JSON', () => {
    expect(problems('bricks: [', 'x.yaml')[0]).toMatch(/^not valid YAML/);
    expect(problems('{', 'x.json')[0]).toMatch(/^not valid JSON/);
    expect(() => loadManifest('/nonexistent/bricks.yaml')).toThrow(/cannot read it \(ENOENT\)/);
  });

  it('puts declared bricks in the registry catalogue the Builder reads, replacing a built-in of the same name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lego-manifest-'));
    const config = loadConfig({ LEGO_EDIT_DATA_DIR: dir, LEGO_EDIT_BRICKS: join(repoRoot, 'examples/bricks/lama.onnx.yaml') });
    const registry = new BrickRegistry(builtinBricks());
    const wiring = wireRemoteBricks(registry, config, testLogger);
    expect(wiring.declaredBricks).toEqual(['INPAINT']);
    expect(registry.catalogue()).toContain('INPAINT (Remove what the mask covers and fill it with plausible background)\nInput: {Image[image], Mask[mask]}\nOutput: {Image[image]}\nConstraint: Removal only');
    const status = (await registry.status()).find((s) => s.brick.name === 'INPAINT')!;
    expect(status.active).toBeUndefined();
    expect(status.backends[0]!.detail).toContain(`model file ${join(dir, 'models', 'lama_fp32.onnx')} not found`);
    await wiring.close();
  });

  it('registers an http-declared brick as unavailable, with the reason, when no worker is configured', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lego-manifest-'));
    const file = join(dir, 'b.json');
    writeFileSync(file, JSON.stringify({ bricks: [{ name: 'UPSCALE', kind: 'function', description: 'Upscale 4x', inputs: { image: 'Image' }, outputs: { image: 'Image' }, backend: { type: 'http' } }] }));
    const registry = new BrickRegistry();
    wireRemoteBricks(registry, loadConfig({ LEGO_EDIT_DATA_DIR: dir, LEGO_EDIT_BRICKS: file }), testLogger);
    const [s] = await registry.status();
    expect(s!.active).toBeUndefined();
    expect(s!.backends[0]!.detail).toMatch(/no HTTP worker configured/);
  });
});
