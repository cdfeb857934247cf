/**
 * A model's second opinion on free text: the session manager asks the MLLM
 * Builder's endpoint (the real openai client against a fake server) what a
 * text message means when the deterministic rules can only guess between
 * editing further and revising, follows safe advice, and keeps the
 * deterministic answer when the model is down, slow or answers nonsense.
 */
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { conversations, turns } from '../../db/schema.ts';
import { MllmBuilder } from '../../src/builder/mllm-builder.ts';
import { sha256Hex } from '../../src/sessions/blob-store.ts';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai-server.ts';
import { type Harness, gradientPng, message, openHarness, recorder } from './harness.ts';

vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

let fake: FakeOpenAI;
let h: Harness | undefined;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(async () => fake.close());
afterEach(async () => {
  await h?.close();
  h = undefined;
  fake.reset();
});

/** A harness whose manager asks the fake endpoint about free text; planning stays with the offline Builder. */
async function advised(settings = {}): Promise<Harness> {
  return openHarness('pglite', {
    memory: true,
    settings,
    customise: (rt) => {
      const advisor = new MllmBuilder({ registry: rt.registry, model: 'builder', intentModel: 'sorter', baseURL: fake.baseURL, timeoutMs: 5_000, maxRetries: 0 });
      Object.assign(rt, { intentAdvisor: advisor });
    },
  });
}

/** A first edit, so there is a current image and a turn feedback could revise. */
async function brightened(harness: Harness): Promise<{ turnId: number; photo: Buffer; output: string }> {
  const photo = await gradientPng();
  const r = recorder();
  const out = await harness.manager.handle(message('ann', 'make it brighter', photo), r.listener);
  expect(out.status).toBe('done');
  return { turnId: out.turnId!, photo, output: r.of('result')[0]!.images[0]!.sha256 };
}

const turnRow = async (harness: Harness, id: number) => (await harness.database.db.select().from(turns).where(eq(turns.id, id)))[0]!;

describe('intent advice from the model', () => {
  it('revises the last edit on its source photo when the model reads free text as feedback', async () => {
    h = await advised();
    const first = await brightened(h);
    // Deterministically this is a further edit of the brightened result.
    fake.script({ reply: '```json\n{"intent": "revision"}\n```' });
    const out = await h.manager.handle(message('ann', 'hmm, I was hoping for darker overall'), recorder().listener);
    expect(out.intent).toBe('revision');
    const row = await turnRow(h, out.turnId!);
    expect(row).toMatchObject({ intent: 'revision', revisesTurnId: first.turnId, sourceImage: sha256Hex(first.photo), instruction: 'make it brighter' });

    // The model was asked with the text and the edit it might revise, under the intent model's name, without the image.
    const body = fake.requests[0]!.body;
    expect(body.model).toBe('sorter');
    expect(body.messages[0]!.content).toContain('The last edit was: "make it brighter".');
    expect(body.messages[1]!.content).toBe('hmm, I was hoping for darker overall');
  });

  it('goes back one image when the model reads the message as undo', async () => {
    h = await advised();
    const first = await brightened(h);
    fake.script({ reply: '<think>They want the previous picture back.</think>{"intent": "undo"}' });
    const r = recorder();
    const out = await h.manager.handle(message('ann', 'please take me back to how it looked before'), r.listener);
    expect(out.intent).toBe('undo');
    const [conv] = await h.database.db.select().from(conversations).where(eq(conversations.userId, 'ann'));
    expect(conv!.current).toEqual({ image: sha256Hex(first.photo), turnId: first.turnId });
    expect(conv!.redoStack).toEqual([{ image: first.output, turnId: first.turnId }]);
    expect((await h.database.db.select().from(turns)).length).toBe(1);
  });

  it('answers small talk the model recognised without planning anything', async () => {
    h = await advised();
    await brightened(h);
    fake.script({ reply: '{"intent": "chat"}' });
    const r = recorder();
    const out = await h.manager.handle(message('ann', 'you are quite good at this, aren’t you'), r.listener);
    expect(out).toEqual({ intent: 'clarify' });
    expect(r.of('clarify')[0]!.question).toMatch(/^I edit photos from instructions/);
    expect((await h.database.db.select().from(turns)).length).toBe(1);
  });

  it('asks the model’s question when the model cannot tell either', async () => {
    h = await advised();
    await brightened(h);
    fake.script({ reply: '{"intent": "unclear", "question": "Do you want the whole photo darker, or only the sky?"}' });
    const r = recorder();
    await h.manager.handle(message('ann', 'the sky thing'), r.listener);
    expect(r.of('clarify')[0]!.question).toBe('Do you want the whole photo darker, or only the sky?');
  });

  it('keeps the deterministic intent when the endpoint fails, answers nonsense, or is too slow', async () => {
    h = await advised({ adviceTimeoutMs: 300 });
    const first = await brightened(h);
    fake.script({ status: 500 }, { reply: '{"intent": "reset"}' }, { hangMs: 3_000 });
    const sources: Array<string | null> = [];
    let current = first.output;
    for (const text of ['now make it black and white', 'now make it a bit darker', 'now make it brighter']) {
      const r = recorder();
      const out = await h.manager.handle(message('ann', text), r.listener);
      expect(out).toMatchObject({ intent: 'follow-up', status: 'done' });
      sources.push((await turnRow(h, out.turnId!)).sourceImage);
      expect(sources.at(-1)).toBe(current);
      current = r.of('result')[0]!.images[0]!.sha256;
    }
    // A model may not reset: "reset" is not among the intents it is offered, and the photo history is untouched.
    expect(fake.requests).toHaveLength(3);
    expect((await h.database.db.select().from(turns)).length).toBe(4);
  });

  it('does not ask the model about commands, rules or a new photo', async () => {
    h = await advised();
    await brightened(h);
    await h.manager.handle(message('ann', 'undo'), recorder().listener);
    await h.manager.handle(message('ann', "don't use FLUX-STYLE"), recorder().listener);
    await h.manager.handle(message('ann', 'make it black and white', await gradientPng(48, 32, 3)), recorder().listener);
    expect(fake.requests).toHaveLength(0);
  });
});
