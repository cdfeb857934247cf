import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImage, encodeImage } from '../../src/engine/image-io.ts';
import { makeImage, makeMask } from '../../src/engine/values.ts';
import { lego, type CliResult } from '../support/cli.ts';
import { rectMask } from '../support/pixels.ts';
import { repoRoot } from '../support/shared.ts';

const dir = mkdtempSync(join(tmpdir(), 'lego-cli-'));
const sample = join(repoRoot, 'examples/sample.jpg');
const env = { LEGO_EDIT_DATA_DIR: dir };

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function png(name: string, value: Parameters<typeof encodeImage>[0]): Promise<string> {
  const path = join(dir, name);
  writeFileSync(path, await encodeImage(value, 'png'));
  return path;
}

/**
 * Runs the real `lego-edit` bin with `file` piped into its stdin through a
 * shell pipe (Node's own stdin "pipe" is a socket, which /dev/stdin cannot open).
 * A pipe can be read once: a second read of /dev/stdin finds it drained.
 */
function legoFromPipe(file: string, args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', 'cat "$0" | "$@"', file, process.execPath, join(repoRoot, 'bin/lego-edit.js'), ...args], {
      cwd: repoRoot,
      env: { ...process.env, LOG_LEVEL: 'silent', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const TWO_RESULTS = file(
  'two.json',
  `Here you go:\n\`\`\`json\n{"pipeline": [{"step": 1, "model": "GRAYSCALE", "input": {"image": "init[image]"}, "output": {"image": "step1[image]"}},
  {"step": 2, "model": "SCALE", "input": {"image": "step1[image]", "ratio": "0.25"}, "output": {"image": "step2[image]"}},
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

  it('fails the step that leaves out an output the result needs, without a stack trace', async () => {
    const wf = file('inverse.json', '{"pipeline": [{"step": 1, "model": "INVERSE", "input": {"mask2": "init[mask]"}, "output": {"image": "step1[image]"}}, {"result": "[step1[image]]"}]}');
    const mask = await png('some-mask.png', rectMask(64, 64, 8, 8, 32, 32));
    const r = await lego(['run', wf, '--image', sample, '--mask', mask, '-o', join(dir, 'inverse.png')], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: Step 1 \(INVERSE\): INVERSE returned no "image" output \(needed by the result\)/);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
  });

  it('refuses to inpaint with an all-black mask instead of returning the image unchanged', async () => {
    const wf = file('fastinpaint.json', '{"pipeline": [{"step": 1, "model": "FASTINPAINT", "input": {"image": "init[image]", "mask": "init[mask]"}, "output": {"image": "step1[image]"}}, {"result": "[step1[image]]"}]}');
    const black = await png('black.png', makeMask(64, 64));
    const out = join(dir, 'fastinpaint.png');
    const r = await lego(['run', wf, '--image', sample, '--mask', black, '-o', out], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: The mask you gave \(init\[mask\]\) is empty, so step 1 \(FASTINPAINT\) would change nothing/);
    expect(existsSync(out)).toBe(false);
  });

  it('prints what a brick warned about: MASK-SEG keeping the rough mask on a flat photo', async () => {
    const wf = file('mask-seg.json', '{"pipeline": [{"step": 1, "model": "MASK-SEG", "input": {"image": "init[image]", "mask": "init[mask]"}, "output": {"mask": "step1[mask]"}}, {"result": "[step1[mask]]"}]}');
    const grey = makeImage(80, 60, 3);
    grey.data.fill(120);
    const r = await lego(['run', wf, '--image', await png('grey.png', grey), '--mask', await png('box.png', rectMask(80, 60, 20, 15, 40, 30)), '-o', join(dir, 'seg.png')], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: Step 1 \(MASK-SEG\): found no object outline inside your mask/);
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

  it('tells the operator which setting would make a GPU-only brick ready, the hint a chat user never sees', async () => {
    const r = await lego(['bricks'], env);
    expect(r.stdout).toMatch(/^FLUX-FILL \(.*\n(.*\n)*?Status: not ready — no GPU host configured \(LEGO_EDIT_WORKER_URL or REDIS_URL\)/m);
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

  it('reads the image once, so it can come from a pipe', async () => {
    const out = join(dir, 'piped.png');
    const r = await legoFromPipe(sample, ['edit', '/dev/stdin', 'make it black and white', '-o', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const img = await decodeImage(await readFile(out));
    expect(img.width).toBe(1024);
    for (let i = 0; i < img.data.length; i += 3 * 4099) expect(img.data[i]).toBe(img.data[i + 2]);
  });

  it('re-plans once when the segmenter finds nothing, then stops with the reason and writes nothing', async () => {
    const out = join(dir, 'unicorn.png');
    const r = await lego(['edit', sample, 'remove the pink unicorn', '-o', out], env);
    expect(r.stdout).toMatch(/planned with the offline Builder: RES\('the pink unicorn'\)/);
    expect(r.stdout).toMatch(/found nothing for "the pink unicorn".*Re-planning…/);
    expect(r.stdout).toMatch(/planned with the offline Builder: RES\('the unicorn'\)/);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/found nothing for "the unicorn"/);
    expect(existsSync(out)).toBe(false);
  });

  it('asks for no new plan when RUN_REPAIRS is 0, and stops with the run’s own error', async () => {
    const out = join(dir, 'unicorn-0.png');
    const r = await lego(['edit', sample, 'remove the pink unicorn', '-o', out], { ...env, RUN_REPAIRS: '0' });
    expect(r.stdout).toMatch(/planned with the offline Builder: RES\('the pink unicorn'\)/);
    expect(r.stdout).not.toMatch(/Re-planning/);
    expect(r.stdout).not.toMatch(/RES\('the unicorn'\)/);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/found nothing for "the pink unicorn"/);
  });

  it('refuses an instruction it cannot plan, with suggestions, instead of guessing', async () => {
    const r = await lego(['edit', sample, 'qwertyuiop zxcvbnm', '-o', join(dir, 'no.png')], env);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/I can, for example/);
  });
});
