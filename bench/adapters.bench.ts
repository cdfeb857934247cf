/**
 * The chat adapter layer: how many edit messages per second the bot sustains end
 * to end through the fake Telegram Bot API (real telegraf, real session manager on
 * PGlite, offline Builder, CPU bricks, a small image), against the same turns
 * sent straight to the session manager; and the latency the adapter itself adds:
 * update received → session-manager call, and result event → platform request.
 * Loopback only, bounded loops.
 */
import { silentLogger } from '../src/logger.ts';
import type { SessionEvent } from '../src/sessions/types.ts';
import { TelegramAdapter } from '../adapters/telegram/telegram-adapter.ts';
import { AdapterTimings } from '../adapters/shared/turns.ts';
import { FakeTelegramBotApi } from '../test/fakes/telegram-bot-api.ts';
import { colourPhoto, openBotSessions } from '../test/adapters/telegram/session-harness.ts';
import { ms, percentile } from './support.ts';

const USERS = 12;
const MESSAGES_PER_USER = 5;
const SOLO_PHOTOS = 15;
// Everything (PGlite, bricks, telegraf, the fake) shares one event loop here, so the latencies include
// queueing behind CPU work of other conversations; the p50s are the adapter's own cost.
const INSTRUCTIONS = ['make it black and white', 'make it brighter', 'make it darker', 'more vivid colours', 'make it brighter'];

async function throughFakeTelegram(photo: Buffer): Promise<{ seconds: number; turns: number; timings: AdapterTimings; toServerMs: number[]; solo: { photoMs: number[]; toServerMs: number[] } }> {
  const fake = await FakeTelegramBotApi.start();
  const bot = await openBotSessions();
  const timings = new AdapterTimings();
  // Production edit pacing (1 s between status edits) so the figures include the coalescing editor as deployed.
  const adapter = new TelegramAdapter({ token: fake.token, apiRoot: fake.apiRoot, sessions: bot.sessions.manager, registry: bot.rt.registry, maxImageBytes: 1 << 20, logger: silentLogger, timings });
  await adapter.start();
  try {
    const isResult = (m: { photo?: unknown; upload?: unknown; reply_markup?: { inline_keyboard?: Array<Array<{ callback_data?: string }>> } }): boolean =>
      Boolean(m.photo && m.upload && m.reply_markup?.inline_keyboard?.flat().some((b) => b.callback_data?.startsWith('undo:')));
    const conversation = async (u: number): Promise<void> => {
      const user = fake.user(10_000 + u);
      const chat = fake.privateChat(user);
      for (let i = 0; i < MESSAGES_PER_USER; i++) {
        const sent = i === 0 ? fake.sendPhoto(user, chat, photo, INSTRUCTIONS[0]) : fake.sendText(user, chat, INSTRUCTIONS[i]!);
        await fake.waitForBotMessage(chat.id, isResult, { afterId: sent.message_id, timeoutMs: 60_000 });
      }
    };
    await conversation(-1); // warm-up: PGlite, sharp and telegraf paths
    // Alone (nothing else on the event loop): photo messages one after another.
    const soloUser = fake.user(9_999);
    const soloChat = fake.privateChat(soloUser);
    const photosBefore = timings.receivedToHandleWithImagesMs.length;
    const callsBefore = fake.callsOf('sendPhoto').length;
    for (let i = 0; i < SOLO_PHOTOS; i++) {
      const sent = fake.sendPhoto(soloUser, soloChat, photo, INSTRUCTIONS[i % INSTRUCTIONS.length]);
      await fake.waitForBotMessage(soloChat.id, isResult, { afterId: sent.message_id, timeoutMs: 60_000 });
    }
    const solo = { photoMs: timings.receivedToHandleWithImagesMs.slice(photosBefore), toServerMs: serverLag(fake.callsOf('sendPhoto').slice(callsBefore), timings) };
    const resultsBefore = timings.receivedToHandleMs.length;
    const concurrentCalls = fake.callsOf('sendPhoto').length;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: USERS }, (_, u) => conversation(u)));
    const seconds = (performance.now() - t0) / 1000;
    const toServerMs = serverLag(fake.callsOf('sendPhoto').slice(concurrentCalls), timings);
    return { seconds, turns: timings.receivedToHandleMs.length - resultsBefore, timings, toServerMs, solo };
  } finally {
    await adapter.stop(5_000);
    await bot.close();
    await fake.stop();
  }
}

/** Result event → the upload arriving at the server (status finalise, telegraf's multipart encoding, loopback HTTP). */
function serverLag(calls: ReturnType<FakeTelegramBotApi['callsOf']>, timings: AdapterTimings): number[] {
  const lags: number[] = [];
  for (const call of calls) {
    const data = (call.params.reply_markup as { inline_keyboard?: Array<Array<{ callback_data?: string }>> } | undefined)?.inline_keyboard?.[0]?.[0]?.callback_data;
    const at = timings.resultAt.get(Number(data?.split(':')[1]));
    if (at !== undefined) lags.push(call.at - at);
  }
  return lags;
}

async function straightToSessions(photo: Buffer): Promise<{ seconds: number; turns: number }> {
  const bot = await openBotSessions();
  try {
    let turns = 0;
    const conversation = async (u: number): Promise<void> => {
      const key = { platform: 'bench', chatId: String(u), userId: String(u) };
      for (let i = 0; i < MESSAGES_PER_USER; i++) {
        let got = false;
        const listener = (e: SessionEvent): void => {
          if (e.type === 'result') got = true;
        };
        await bot.sessions.manager.handle({ ...key, messageId: `${u}-${i}`, text: INSTRUCTIONS[i]!, images: i === 0 ? [{ bytes: photo }] : [] }, listener);
        if (!got) throw new Error(`turn ${u}/${i} produced no result`);
        turns++;
      }
    };
    await conversation(-1);
    turns = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: USERS }, (_, u) => conversation(u)));
    return { seconds: (performance.now() - t0) / 1000, turns };
  } finally {
    await bot.close();
  }
}

export async function run(): Promise<void> {
  const photo = await colourPhoto(96, 64, 'jpeg');
  const direct = await straightToSessions(photo);
  const viaTelegram = await throughFakeTelegram(photo);
  const directRate = direct.turns / direct.seconds;
  const rate = viaTelegram.turns / viaTelegram.seconds;
  console.log(`workload: ${USERS} conversations × ${MESSAGES_PER_USER} messages (photo + caption, then text follow-ups), ${photo.length} B JPEG 96×64, offline Builder, PGlite`);
  console.log(`session manager alone:        ${directRate.toFixed(1)} turns/s (${direct.turns} turns in ${direct.seconds.toFixed(2)} s)`);
  console.log(`end to end via fake Telegram: ${rate.toFixed(1)} messages/s (${viaTelegram.turns} in ${viaTelegram.seconds.toFixed(2)} s) = ${(rate / directRate).toFixed(2)}× the session manager alone`);
  const t = viaTelegram.timings;
  const p = (xs: number[]): string => `p50 ${ms(percentile(xs, 50))}, p99 ${ms(percentile(xs, 99))}`;
  console.log(`adapter latency, one conversation alone (${SOLO_PHOTOS} photo messages):`);
  console.log(`  photo received → session-manager call (getFile + capped download): ${p(viaTelegram.solo.photoMs)}`);
  console.log(`  result event → upload arrives at the Bot API server:               ${p(viaTelegram.solo.toServerMs)}`);
  console.log(`adapter latency under the ${USERS}-conversation load above (one event loop shared with PGlite and the bricks):`);
  console.log(`  text received → session-manager call:  ${p(t.receivedToHandleTextMs)}`);
  console.log(`  photo received → session-manager call: ${p(t.receivedToHandleWithImagesMs.slice(viaTelegram.solo.photoMs.length + 1))}`);
  console.log(`  result event → sendPhoto issued:       ${p(t.resultToRequestMs)}`);
  console.log(`  result event → upload at the server:   ${p(viaTelegram.toServerMs)}`);
}
