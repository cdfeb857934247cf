/**
 * One specification for every chat platform: the same conversations through the real
 * telegraf and discord.js clients against their fake servers, answered by one chat
 * controller over the real session manager (PGlite, offline Builder, CPU bricks).
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SessionManager } from '../../src/sessions/types.ts';
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
    expect(result.text).toBe('Made it black and white.');
    expect(result.actions).toEqual(['undo', 'retry', 'plan']);
  });

  it('captions are for people: what was done in words, no brick names, no timings', async () => {
    const ann = platform.user();
    const bricks = new RegExp(`\\b(${bot.rt.registry.names().join('|')})\\b`);
    const first = await ann.edit(photo, 'make it brighter');
    const revised = await ann.reply(first, 'no, make it darker instead');
    for (const answer of [first, revised]) {
      expect(answer.text).not.toMatch(bricks);
      expect(answer.text).not.toMatch(/\d+\.\d s|Plan:/);
    }
    expect([first.text, revised.text]).toEqual(['Made it brighter.', 'Made it darker.']);
  });

  it('acknowledges a message within a second, with Cancel, while the session has said nothing yet', async () => {
    // A session manager that stays silent until the acknowledgement has been seen: no clock in the test.
    let release!: () => void;
    const silent = new Promise<void>((resolve) => (release = resolve));
    const manager = bot.sessions.manager;
    const handle: SessionManager['handle'] = async (...args) => {
      await silent;
      return manager.handle(...args);
    };
    const held = new Proxy(manager, {
      get: (target, name) => {
        if (name === 'handle') return handle;
        const value = Reflect.get(target, name) as unknown;
        // The manager's methods use its private fields, so they run on the manager itself.
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }) as SessionManager;
    const slow = await open(bot, { sessions: held });
    try {
      const status = await slow.user().edit(photo, 'make it black and white', { until: (a) => /Got it/.test(a.text) });
      expect(status.text).toBe('👀 Got it — working on it…');
      expect(status.actions).toEqual(['cancel']);
    } finally {
      release();
      await slow.stop();
    }
  });

  it('stops promptly after losing its connection to the platform', async () => {
    const lonely = await open(bot);
    await lonely.loseConnection();
    // Long enough for the client to notice and start reconnecting.
    await new Promise((r) => setTimeout(r, 1000));
    const outcome = await Promise.race([lonely.stop().then(() => 'stopped'), new Promise((r) => setTimeout(() => r('still running'), 15_000))]);
    expect(outcome).toBe('stopped');
  });

  it('a reply to a result revises that turn, from the same source photo', async () => {
    const ann = platform.user();
    const first = await ann.edit(photo, 'make it black and white');
    const revised = await ann.reply(first, 'no, make it darker instead');
    expect(revised.text).toBe('Made it darker.');
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
    const undone = await ann.press(result, 'undo', (a) => /Back to your original photo/.test(a.text) && a.files.length === 1);
    expect(undone.private).toBe(false);
    expect(await isGrayscale(undone.files[0]!.bytes)).toBe(false);
    expect(await meanBrightness(undone.files[0]!.bytes)).toBeCloseTo(await meanBrightness(photo), 0);
  });

  it('Retry of a plan with no randomness sends no duplicate image: it says so and what to ask instead', async () => {
    const ann = platform.user();
    const result = await ann.edit(photo, 'make it black and white');
    // The offline Builder and GRAYSCALE are deterministic, and GRAYSCALE has nothing to vary.
    const again = await ann.press(result, 'retry', (a) => /same picture every time/.test(a.text));
    expect(again.text).toMatch(/did not send the same picture again\. Tell me what to change instead/);
    expect(again.files).toHaveLength(0);
  });

  it('Retry of a plan with something to vary runs a variant and says which', async () => {
    const ann = platform.user();
    const result = await ann.edit(photo, 'make it brighter');
    const again = await ann.press(result, 'retry', (a) => a.actions.includes('undo') && a.files.length > 0);
    expect(again.message).not.toBe(result.message);
    expect(again.text).toMatch(/Made it brighter\.\nThis edit gives the same picture every time, so this one uses a stronger setting\./);
    expect(await meanBrightness(again.files.at(-1)!.bytes)).toBeGreaterThan(await meanBrightness(result.files[0]!.bytes));
    expect(again.actions).toEqual(['undo', 'retry', 'plan']);
  });

  it('Show plan sends the workflow drawn as a picture and as Lego-Edit JSON', async () => {
    const ann = platform.user();
    const result = await ann.edit(photo, 'make it black and white');
    const plan = await ann.press(result, 'plan', (a) => a.files.length === 2);
    // Brick names and timings live here, behind the button.
    expect(plan.text).toMatch(/^Plan of turn #1 \(offline Builder\): GRAYSCALE\n1 GRAYSCALE (\d+\.\d s|cached)$/);
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
    expect(history).toEqual([expect.stringMatching(/^#1 \[done\] "make it black and white" → GRAYSCALE$/), expect.stringMatching(/^#2 \* \[done\] "no, make it darker instead" → ADJUST/)]);
  });

  it('an image over the size limit is refused in one friendly line', async () => {
    const refusal = await platform.user().edit(photo, 'make it black and white', { declaredSize: 9_000_000 });
    expect(refusal.text).toMatch(/⚠️ That image is too large \(8\.6 MB\); the limit is 0\.2 MB/);
    expect(refusal.files).toHaveLength(0);
  });

  it('a brick that cannot run here ends the turn in one friendly line, with no stack trace', async () => {
    const failure = await platform.user().edit(photo, 'paint it like Van Gogh');
    expect(failure.text).toMatch(/⚠️ I can't make that edit here: it needs a tool this bot has not been set up with\. You can ask for something else, for example "make it black and white"/);
    // Which setting would enable it is for the operator's log and `lego-edit bricks`.
    expect(failure.text).not.toMatch(/FLUX-STYLE|LEGO_EDIT_|REDIS_URL|GPU host|\n\s+at |\.ts:\d+|went wrong on my side/);
    expect(failure.text.match(/I can't make that edit here/g)).toHaveLength(1);
    expect(failure.actions).toEqual([]);
  });
});
