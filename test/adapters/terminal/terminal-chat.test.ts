/** The terminal adapter on a real session manager: lines in, plan, progress and result files out. */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TerminalChat } from '../../../adapters/terminal/terminal-chat.ts';
import { productShare, productShot } from '../../support/pixels.ts';
import { type Harness, gradientPng, openHarness } from '../../sessions/harness.ts';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

describe('terminal chat', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness('pglite', { memory: true });
  });
  afterAll(async () => h?.close());

  it('runs a conversation: photo and instruction, feedback, /undo, /history, /rules, /forget, /plan, /quit', async () => {
    const photoPath = join(h.dir, 'photo.png');
    await writeFile(photoPath, await gradientPng());
    const input = new PassThrough();
    const output = new PassThrough();
    let text = '';
    output.on('data', (d: Buffer) => (text += d.toString()));
    const chat = new TerminalChat({
      manager: h.manager,
      input,
      output,
      resultsDir: join(h.dir, 'results'),
      key: { platform: 'terminal', chatId: 'local', userId: 'tester' },
      initialImage: photoPath,
    });
    const done = chat.run();
    input.end(
      ['make it black and white', 'make it brighter', "don't use RESIZE", '/rules', '/forget 1', '/rules', '/undo', '/history', '/plan', '/bogus', '/quit', 'never read'].join('\n') + '\n',
    );
    await done;

    expect(text).toContain(`Photo ${photoPath} will go with your next message.`);
    // The status prints each line as it changes, as the chat platforms edit their status message.
    expect(text).toMatch(/Plan: GRAYSCALE\n/);
    expect(text).toMatch(/1\/1 GRAYSCALE ✓ \d+\.\d s/);
    const written = [...text.matchAll(/wrote (\S+)/g)].map((m) => m[1]!).filter((p) => /result-/.test(p));
    // The rule needs no re-plan (the last edit used no RESIZE), so it writes no third image.
    expect(written).toEqual([join(h.dir, 'results', 'result-1.png'), join(h.dir, 'results', 'result-2.png')]);
    for (const path of written) expect(existsSync(path)).toBe(true);
    const meta = await sharp(written[0]).metadata();
    expect([meta.width, meta.height]).toEqual([48, 32]);
    expect(text).toMatch(/Rule stored: never use RESIZE\. .*already follows it/);
    expect(text).toMatch(/1\. don't use RESIZE/);
    expect(text).toMatch(/Forgot rule 1/);
    expect(text).toMatch(/No rules yet\./);
    expect(text).toMatch(/Undone: the current image is now the one from turn 1/);
    expect(text).toMatch(/wrote .*current-[0-9a-f]{12}\.png/);
    expect(text).toMatch(/#1 \* \[done\] "make it black and white" → GRAYSCALE/);
    expect(text).toMatch(/"model": "ADJUST"/);
    expect(text).toMatch(/Unknown command \/bogus/);
    expect(text).not.toMatch(/never read/);
  });

  it('says clearly when the photo cannot be read, and keeps going', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let text = '';
    output.on('data', (d: Buffer) => (text += d.toString()));
    const bad = join(h.dir, 'bad.png');
    await writeFile(bad, 'not an image');
    const chat = new TerminalChat({ manager: h.manager, input, output, resultsDir: join(h.dir, 'results'), key: { platform: 'terminal', chatId: 'other', userId: 'tester' } });
    const done = chat.run();
    input.end(`/open ${join(h.dir, 'missing.png')}\n/open ${bad}\nmake it darker\n/quit\n`);
    await done;
    expect(text).toMatch(/Cannot read .*missing\.png: ENOENT/);
    expect(text).toMatch(/⚠️ That file is not an image I can read \(unknown or damaged format\)\./);
  });

  it('/with sends a second photo along with the opened one: "add this" pastes it in', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let text = '';
    output.on('data', (d: Buffer) => (text += d.toString()));
    const photo = join(h.dir, 'base.png');
    const thing = join(h.dir, 'thing.png');
    await writeFile(photo, await gradientPng(96, 64));
    await writeFile(thing, await productShot());
    const chat = new TerminalChat({ manager: h.manager, input, output, resultsDir: join(h.dir, 'results-with'), key: { platform: 'terminal', chatId: 'with', userId: 'tester' } });
    const done = chat.run();
    input.end(`/with ${thing}
/open ${photo}
/with ${thing}
add this on the left
/quit
`);
    await done;
    expect(text).toMatch(/Open the photo to edit first/);
    expect(text).toMatch(/Plan: ADD-PRED\('object on the left'\) → PASTE/);
    const written = [...text.matchAll(/wrote (\S+)/g)].map((m) => m[1]!);
    expect(written).toHaveLength(1);
    expect((await productShare(await readFile(written[0]!))).red).toBeGreaterThan(0.01);
  });
});
