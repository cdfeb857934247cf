import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOnnxSession, usableProviders } from '../../../bricks/models/onnx-session.ts';
import { LegoEditError } from '../../../src/engine/errors.ts';
import { negativeInpainter } from '../edit/onnx-graphs.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lego-onnx-session-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the ONNX session factory', () => {
  it('loads a model on the first usable provider and says which it got', async () => {
    const path = join(dir, 'lama.onnx');
    writeFileSync(path, negativeInpainter());
    const { session, provider } = await createOnnxSession(path);
    expect(provider).toBe(usableProviders()[0]);
    expect(session.inputNames).toContain('image');
  });

  it('always offers CPU, and never a provider that was not asked for', () => {
    expect(usableProviders(['cpu'])).toEqual(['cpu']);
    expect(usableProviders()).toContain('cpu');
    expect(usableProviders(['cuda'])).not.toContain('cpu');
  });

  it('refuses a damaged model with an error naming the file and every provider it tried', async () => {
    const path = join(dir, 'broken.onnx');
    writeFileSync(path, 'not a model');
    const err = await createOnnxSession(path, { providers: ['cpu'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LegoEditError);
    expect((err as LegoEditError).message).toContain(path);
    expect((err as LegoEditError).message).toContain('cpu:');
  });
});
