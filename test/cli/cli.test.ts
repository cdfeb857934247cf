import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/engine/image-io.ts';
import { lego } from '../support/cli.ts';
import { repoRoot } from '../support/shared.ts';

const dir = mkdtempSync(join(tmpdir(), 'lego-cli-'));
const sample = join(repoRoot, 'examples/sample.jpg');
const env = { LEGO_EDIT_DATA_DIR: dir };

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const TWO_RESULTS = file(
  'two.json',
  `Here you go:\n\`\`\`json\n{"pipeline": [{"step": 1, "model": "GRAYSCALE", "input": {"image": "init[image]"}, "output": {"image": "step1[image]"}},
  {"step": 2, "model": "RESIZE", "input": {"image": "step1[image]", "ratio": "0.25"}, "output": {"image": "step2[image]"}},
  {"result": "[step1[image], step2[image]]"}]}\n\`\`\``,
);

describe('lego-edit run', () => {
  it('writes every result and prints the per-step timing table', async () => {
    const out = join(dir, 'run.png');
    const r = await lego(['run', TWO_RESULTS, '--image', sample, '-o', out], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/step\s+brick\s+status\s+cache\s+time/);
    expect(r.stdout).toMatch(/1\s+GRAYSCALE\s+ok\s+miss/);
    const first = await decodeImage(await readFile(out));
    const second = await decodeImage(await readFile(join(dir, 'run-2.png')));
    expect([first.width, second.width]).toEqual([1024, 256]);
    expect(first.data[3 * 5000]).toBe(first.data[3 * 5000 + 1]);
  });

  it('reports an invalid workflow without a stack trace and exits non-zero', async () => {
    const bad = file('bad.json', '{"pipeline": [{"step": 1, "model": "GRAYSCAL", "input": {"image": "init[image]"}}, {"result": "[step1[image]]"}]}');
    const r = await lego(['run', bad, '--image', sample, '-o', join(dir, 'x.png')], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown brick "GRAYSCAL"; did you mean GRAYSCALE/);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
  });

  it('says plainly when the input is not an image', async () => {
    const r = await lego(['run', TWO_RESULTS, '--image', TWO_RESULTS, '-o', join(dir, 'x.png')], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not an image I can read/);
  });
});

describe('lego-edit validate', () => {
  it('prints nothing for a valid workflow', async () => {
    const r = await lego(['validate', TWO_RESULTS], env);
    expect([r.code, r.stdout]).toEqual([0, '']);
  });

  it('prints every problem with its step and field', async () => {
    const bad = file('bad2.json', '{"pipeline": [{"step": 1, "model": "RESIZE", "input": {"image": "init[mask]", "ratio": "huge"}}, {"result": "[step2[image]]"}]}');
    const r = await lego(['validate', bad], env);
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toHaveLength(3);
    expect(r.stdout).toMatch(/step 1 \(RESIZE\) input "ratio"/);
  });
});

describe('lego-edit bricks', () => {
  it('lists the catalogue in the Lego-Edit style with each brick backend', async () => {
    const r = await lego(['bricks'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/RES \(Segmentation by object specified by prompt\)\nInput: \{Image\[image\], Str\[prompt\]\}\nOutput: \{Mask\[mask\], Image\[image\]\}/);
    expect(r.stdout).toMatch(/GRAYSCALE[^\n]*\n(.*\n)*?Backend: in-process/);
  });
});

describe('lego-edit edit', () => {
  it('plans with the offline Builder, says so, and writes the edited image', async () => {
    const out = join(dir, 'edit.png');
    const r = await lego(['edit', sample, 'make it black and white', '-o', out], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/planned with the offline Builder/);
    const img = await decodeImage(await readFile(out));
    for (let i = 0; i < img.data.length; i += 3 * 4099) expect(img.data[i]).toBe(img.data[i + 2]);
  });

  it('refuses an instruction it cannot plan, with suggestions, instead of guessing', async () => {
    const r = await lego(['edit', sample, 'qwertyuiop zxcvbnm', '-o', join(dir, 'no.png')], env);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/I can, for example/);
  });
});
