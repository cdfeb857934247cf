/** The terminal adapter on a real session manager: lines in, plan, progress and result files out. */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
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

  /** A terminal chat of `userId` in `chatId` on the shared manager, with `photo` (written to <chatId>.png) opened for its first message; `text` is the screen so far. */
  async function openChat(chatId: string, userId: string, photo?: Buffer) {
    const photoPath = join(h.dir, `${chatId}.png`);
    if (photo) await writeFile(photoPath, photo);
    const input = new PassThrough();
    const output = new PassThrough();
    const resultsDir = join(h.dir, `results-${chatId}`);
    const screen = { input, photoPath, resultsDir, text: '', done: Promise.resolve() };
    output.on('data', (d: Buffer) => (screen.text += d.toString()));
    const chat = new TerminalChat({ manager: h.manager, input, output, resultsDir, key: { platform: 'terminal', chatId, userId }, ...(photo ? { initialImage: photoPath } : {}) });
    screen.done = chat.run();
    return screen;
  }

  it('runs a conversation: photo and instruction, feedback, /undo, /history, /rules, /forget, /plan, /quit', async () => {
    const chat = await openChat('local', 'tester', await gradientPng());
    chat.input.end(
      ['make it black and white', 'make it brighter', "don't use RESIZE", '/rules', '/forget 1', '/rules', '/undo', '/history', '/plan', '/bogus', '/quit', 'never read'].join('\n') + '\n',
    );
    await chat.done;
    const { text, photoPath, resultsDir } = chat;

    expect(text).toContain(`Photo ${photoPath} will go with your next message.`);
    // The status prints each line as it changes, as the chat platforms edit their status message: in words.
    expect(text).toMatch(/Making it black and white…\n/);
    expect(text).toMatch(/Made it black and white\.\n/);
    // The plan, with its bricks and timings, is behind /plan.
    expect(text).toMatch(/Plan of turn #2 \(offline Builder\): ADJUST\(1\.3\)\n1 ADJUST (\d+\.\d s|cached)\n/);
    const written = [...text.matchAll(/wrote (\S+)/g)].map((m) => m[1]!).filter((p) => /result-/.test(p));
    // The rule needs no re-plan (the last edit used no RESIZE), so it writes no third image.
    expect(written).toEqual([join(resultsDir, 'result-1.png'), join(resultsDir, 'result-2.png')]);
    for (const path of written) expect(existsSync(path)).toBe(true);
    const meta = await sharp(written[0]).metadata();
    expect([meta.width, meta.height]).toEqual([48, 32]);
    expect(text).toMatch(/Rule stored: never use RESIZE\. .*already follows it/);
    expect(text).toMatch(/1\. don't use RESIZE/);
    expect(text).toMatch(/Forgot rule 1/);
    expect(text).toMatch(/No rules yet\./);
    expect(text).toMatch(/Back to the result of #1 \("make it black and white"\)\./);
    expect(text).toMatch(/wrote .*current-[0-9a-f]{12}\.png/);
    expect(text).toMatch(/#1 \* \[done\] "make it black and white" → GRAYSCALE/);
    expect(text).toMatch(/"model": "ADJUST"/);
    expect(text).toMatch(/Unknown command \/bogus/);
    expect(text).not.toMatch(/never read/);
  });

  it('a failed first edit keeps the photo for the next instruction, and says why in one friendly line', async () => {
    const chat = await openChat('snow', 'newcomer', await gradientPng());
    chat.input.write('make it look like a watercolour painting\n');
    await vi.waitFor(() => expect(chat.text).toMatch(/⚠️/), { timeout: 60_000 });
    chat.input.end('ok, make it black and white then\n/quit\n');
    await chat.done;
    const { text } = chat;
    expect(text.match(/⚠️ I can't make that edit here: it needs a tool this bot has not been set up with\./g)).toHaveLength(1);
    expect(text).not.toMatch(/Send me a photo first|LEGO_EDIT_|REDIS_URL|Trying another/);
    expect(text).toMatch(/Made it black and white\./);
  });

  it('a rule as the first message is a rule; undo says where it went back to; turns are numbered in the chat', async () => {
    const chat = await openChat('first', 'newcomer', await gradientPng());
    // Sent one at a time: the first message takes the photo along.
    chat.input.write('never use FLUX-STYLE\n');
    await vi.waitFor(() => expect(chat.text).toMatch(/Rule stored/), { timeout: 60_000 });
    chat.input.end(['/rules', 'make it look like a watercolour painting', 'ok, make it black and white then', 'undo that and make it brighter', '/undo', '/history', '/quit'].join('\n') + '\n');
    await chat.done;
    const { text } = chat;
    expect(text).toMatch(/Rule stored: never use FLUX-STYLE\. It applies to every edit from now on\. Now tell me what to change in your photo\./);
    expect(text).toMatch(/1\. never use FLUX-STYLE/);
    expect(text).toMatch(/⚠️ Every way I know to do "make it look like a watercolour painting" would break your rule "never use FLUX-STYLE"/);
    expect(text).not.toMatch(/Send me a photo first/);
    expect(text).toMatch(/Made it black and white\./);
    expect(text).toMatch(/Made it brighter\./);
    expect(text).toMatch(/Back to the result of #3 \("ok, make it black and white then"\)\./);
    // Numbered in this conversation, the current one marked.
    expect(text).toMatch(/#3 \* \[done\] "ok, make it black and white then" → GRAYSCALE\n#4 \[done\] "undo that and make it brighter" → ADJUST\(1\.3\)/);
  });

  it('"try again" runs a variant or says there is none, never the same picture twice; "prefer" says what the last edit used', async () => {
    const chat = await openChat('again', 'tester', await gradientPng());
    chat.input.end(['make it brighter', 'try again', 'make it black and white', 'again', 'prefer FASTINPAINT', '/quit'].join('\n') + '\n');
    await chat.done;
    const { text, resultsDir } = chat;
    expect(text).toMatch(/This edit gives the same picture every time, so this one uses a stronger setting\./);
    expect(text).toMatch(/This edit gives the same picture every time and there is nothing in it I can vary, so I did not send the same picture again\./);
    expect(text).toMatch(/your last edit \("make it black and white"\) did not use FASTINPAINT\./);
    expect(text).not.toMatch(/already follows/);
    const written = [...text.matchAll(/wrote (\S+)/g)].map((m) => m[1]!).filter((p) => /result-/.test(p));
    // The first edit, its variant and the black and white one; "again" on that one wrote nothing.
    expect(written).toHaveLength(3);
    expect(written.every((path) => path.startsWith(resultsDir))).toBe(true);
    const mean = async (path: string) => (await sharp(path).stats()).channels.reduce((sum, c) => sum + c.mean, 0);
    expect(await mean(written[1]!)).toBeGreaterThan(await mean(written[0]!));
  });

  it("numbers results per conversation and never overwrites a file already in the results folder", async () => {
    const chat = await openChat('numbered', 'tester', await gradientPng());
    // Left by an earlier conversation: its first result had the same name.
    await mkdir(chat.resultsDir, { recursive: true });
    await writeFile(join(chat.resultsDir, 'result-1.png'), 'an earlier result');
    chat.input.end(['make it black and white', '/quit'].join('\n') + '\n');
    await chat.done;
    const written = [...chat.text.matchAll(/wrote (.+)/g)].map((m) => m[1]!.trim());
    expect(written).toEqual([join(chat.resultsDir, 'result-1 (2).png')]);
    expect(await readFile(join(chat.resultsDir, 'result-1.png'), 'utf8')).toBe('an earlier result');
    expect((await sharp(written[0]).metadata()).width).toBe(48);
  });

  it('says clearly when the photo cannot be read, and keeps going', async () => {
    const bad = join(h.dir, 'bad.png');
    await writeFile(bad, 'not an image');
    const chat = await openChat('other', 'tester');
    chat.input.end(`/open ${join(h.dir, 'missing.png')}\n/open ${bad}\nmake it darker\n/quit\n`);
    await chat.done;
    const { text } = chat;
    expect(text).toMatch(/Cannot read .*missing\.png: ENOENT/);
    expect(text).toMatch(/⚠️ That file is not an image I can read \(unknown or damaged format\)\./);
  });

  it('/with sends a second photo along with the opened one: "add this" pastes it in', async () => {
    const photo = join(h.dir, 'base.png');
    const thing = join(h.dir, 'thing.png');
    await writeFile(photo, await gradientPng(96, 64));
    await writeFile(thing, await productShot());
    const chat = await openChat('with', 'tester');
    chat.input.end(`/with ${thing}
/open ${photo}
/with ${thing}
add this on the left
/quit
`);
    await chat.done;
    const { text } = chat;
    expect(text).toMatch(/Open the photo to edit first/);
    expect(text).toMatch(/Added it to the picture\./);
    const written = [...text.matchAll(/wrote (\S+)/g)].map((m) => m[1]!);
    expect(written).toHaveLength(1);
    expect((await productShare(await readFile(written[0]!))).red).toBeGreaterThan(0.01);
  });
});
