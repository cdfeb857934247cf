/**
 * One specification for every chat platform: the same conversations through the real
 * telegraf and discord.js clients against their fake servers, answered by one chat
 * controller over the real session manager (PGlite, offline Builder, CPU bricks).
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { discordPlatform, telegramPlatform, type ChatPlatform } from './platforms.ts';
import { colourPhoto, gpuStyleBuilder, isGrayscale, meanBrightness, openBotSessions, type BotSessions } from './telegram/session-harness.ts';

// Every spec runs whole turns on a shared 2-core machine.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 180_000 });

describe.each([
  { name: 'Telegram', open: telegramPlatform },
  { name: 'Discord', open: discordPlatform },
])('a chat on $name', ({ open }) => {
  let bot: BotSessions;
  let platform: ChatPlatform;
  let photo: Buffer;

  beforeAll(async () => {
    // The offline Builder, except that a Van Gogh style needs FLUX-STYLE on a GPU host.
    bot = await openBotSessions({ builder: gpuStyleBuilder });
    platform = await open(bot);
    photo = await colourPhoto();
  });
  afterAll(async () => {
    await platform?.stop();
    await bot?.close();
  });

  it('a photo with an instruction comes back edited, with Undo, Retry and Show plan buttons', async () => {
    const result = await platform.user().edit(photo, 'make it black and white');
    expect(result.files).toHaveLength(1);
    expect(await isGrayscale(result.files[0]!.bytes)).toBe(true);
    expect(result.text).toMatch(/GRAYSCALE · \d+\.\d s/);
    expect(result.actions).toEqual(['undo', 'retry', 'plan']);
  });

  it('a reply to a result revises that turn, from the same source photo', async () => {
    const ann = platform.user();
    const first = await ann.edit(photo, 'make it black and white');
    const revised = await ann.reply(first, 'no, make it darker instead');
    expect(revised.text).toMatch(/ADJUST/);
    expect(await isGrayscale(revised.files[0]!.bytes)).toBe(false);
    expect(await meanBrightness(revised.files[0]!.bytes)).toBeLessThan((await meanBrightness(photo)) * 0.85);
    expect(revised.actions).toEqual(['undo', 'retry', 'plan']);
  });

  it('the buttons answer their owner only; the owner’s Undo brings back the image before the edit', async () => {
    const ann = platform.user();
    const bob = platform.user();
    const result = await ann.edit(photo, 'make it black and white');
    const refusal = await bob.press(result, 'undo', (a) => a.private);
    expect(refusal.text).toMatch(/belong to the person who asked/);
    const undone = await ann.press(result, 'undo', (a) => /Undone/.test(a.text) && a.files.length === 1);
    expect(undone.private).toBe(false);
    expect(await isGrayscale(undone.files[0]!.bytes)).toBe(false);
    expect(await meanBrightness(undone.files[0]!.bytes)).toBeCloseTo(await meanBrightness(photo), 0);
  });

  it('Retry runs the turn again, answers with a new result and its buttons, and says when nothing changed', async () => {
    const ann = platform.user();
    const result = await ann.edit(photo, 'make it black and white');
    const again = await ann.press(result, 'retry', (a) => a.actions.includes('undo') && a.files.length > 0);
    expect(again.message).not.toBe(result.message);
    expect(await isGrayscale(again.files.at(-1)!.bytes)).toBe(true);
    expect(again.actions).toEqual(['undo', 'retry', 'plan']);
    // The offline Builder and GRAYSCALE are deterministic.
    expect(again.text).toMatch(/Same result as before/);
  });

  it('Show plan sends the workflow drawn as a picture and as Lego-Edit JSON', async () => {
    const ann = platform.user();
    const result = await ann.edit(photo, 'make it black and white');
    const plan = await ann.press(result, 'plan', (a) => a.files.length === 2);
    expect(plan.text).toMatch(/^Plan of #\d+ \(offline Builder\): GRAYSCALE/);
    expect(plan.files.map((f) => f.name)).toEqual([expect.stringMatching(/^plan-\d+\.png$/), expect.stringMatching(/^plan-\d+\.json$/)]);
    expect((await sharp(plan.files[0]!.bytes).metadata()).format).toBe('png');
    const json = JSON.parse(plan.files[1]!.bytes.toString('utf8')) as { pipeline: Array<{ model?: string }> };
    expect(json.pipeline.map((p) => p.model).filter(Boolean)).toEqual(['GRAYSCALE']);
  });

  it('/history lists the conversation’s turns, the current one marked', async () => {
    const ann = platform.user();
    expect((await ann.command('history')).text).toBe('No history yet.');
    const first = await ann.edit(photo, 'make it black and white');
    await ann.reply(first, 'no, make it darker instead');
    const history = (await ann.command('history')).text.split('\n');
    expect(history).toHaveLength(2);
    expect(history).toContainEqual(expect.stringMatching(/^#\d+ \[done\] "make it black and white" → GRAYSCALE$/));
    expect(history).toContainEqual(expect.stringMatching(/^#\d+ \* \[done\] "no, make it darker instead" → ADJUST/));
  });

  it('an image over the size limit is refused in one friendly line', async () => {
    const refusal = await platform.user().edit(photo, 'make it black and white', { declaredSize: 9_000_000 });
    expect(refusal.text).toMatch(/⚠️ That image is too large \(8\.6 MB\); the limit is 0\.2 MB/);
    expect(refusal.files).toHaveLength(0);
  });

  it('a brick that cannot run here ends the turn in one friendly line, with no stack trace', async () => {
    const failure = await platform.user().edit(photo, 'paint it like Van Gogh');
    expect(failure.text).toMatch(/⚠️ .*FLUX-STYLE cannot run here: .*needs a GPU host/);
    expect(failure.text).not.toMatch(/\n\s+at |\.ts:\d+|went wrong on my side/);
    expect(failure.actions).toEqual([]);
  });
});
