/**
 * The MLLM critic's protocol, through the real `openai` client against the
 * fake OpenAI server: what it sends (instruction, plan summary, before, after
 * and the edited region overlaid, downscaled), how it reads good, bad and
 * garbled verdicts, and that a slow or failing critic lets the result go out
 * unchanged. Inside the pipeline, "wrong" re-plans once with the critic's reason.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { builtinBricks } from '../../bricks/index.ts';
import type { Plan, PlanRequest, PriorTurn } from '../../src/builder/builder.ts';
import { OfflineBuilder } from '../../src/builder/offline-builder.ts';
import { Critic } from '../../src/critic/critic.ts';
import { MllmCritic, overlay, parseVerdict } from '../../src/critic/mllm-critic.ts';
import { Executor, type RunOutcome } from '../../src/engine/executor.ts';
import { BrickRegistry } from '../../src/engine/registry.ts';
import { makeImage } from '../../src/engine/values.ts';
import { runPipeline } from '../../src/pipeline/index.ts';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai-server.ts';
import { rectMask } from '../support/pixels.ts';

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());

const registry = new BrickRegistry(builtinBricks());
const executor = new Executor(registry, { cacheBytes: 0 });
/** A 900×600 picture, left half dark red, right half light blue: "make it black and white" changes it everywhere. */
const image = makeImage(900, 600, 3, new Uint8Array(900 * 600 * 3).map((_, i) => ((i / 3) % 900 < 450 ? [120, 20, 20][i % 3]! : [150, 190, 230][i % 3]!)));
const request = (instruction: string): PlanRequest => ({ image, instruction, available: new Set(registry.names()) });
const run = (plan: Plan): Promise<RunOutcome> => executor.run(plan.workflow, { image });
const mllm = (timeoutMs = 5_000): MllmCritic => new MllmCritic({ model: 'critic-model', baseURL: fake.baseURL, apiKey: 'sk-test', timeoutMs });

async function judged(answer: Parameters<FakeOpenAI['script']>[0], critic = mllm()) {
  fake.script(answer);
  const r = request('make it black and white');
  const plan = await new OfflineBuilder(registry).plan(r);
  const outcome = await run(plan);
  if (outcome.status !== 'ok') throw new Error(outcome.status);
  return new Critic(registry, critic).review({ request: r, plan, inputs: { image }, outcome, attempt: 0 });
}

describe('MllmCritic', () => {
  it('sends the instruction, the plan summary and the before and after pictures, downscaled to 512 px', async () => {
    const review = await judged({ reply: '{"verdict": "done", "reason": "the photo is black and white"}', usage: { prompt_tokens: 900, completion_tokens: 14 } });
    const body = fake.requests[0]!.body;
    expect(body.model).toBe('critic-model');
    expect(body.messages[0]!.content).toMatch(/one JSON object/);
    const parts = body.messages[1]!.content as Array<{ type: string; text?: string; image_url?: { url: string } }>;
    expect(parts[0]!.text).toBe('Instruction: make it black and white\nPlan: GRAYSCALE (make it black and white)\nPictures: before, after.');
    const urls = parts.filter((p) => p.type === 'image_url').map((p) => p.image_url!.url);
    expect(urls).toHaveLength(2);
    const sharp = (await import('sharp')).default;
    const meta = await sharp(Buffer.from(urls[0]!.split(',')[1]!, 'base64')).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 512, 341]);
    expect(review.problem).toBeUndefined();
    const v = review.verdicts.find((x) => x.by === 'mllm')!;
    expect([v.verdict, v.reason, v.model, v.usage]).toEqual(['done', 'the photo is black and white', 'critic-model', { promptTokens: 900, completionTokens: 14 }]);
    expect(v.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('adds the after picture with the edited region tinted red when the edit had a mask', async () => {
    fake.script({ reply: '{"verdict":"done","reason":"the left half is purple"}' });
    const left = rectMask(900, 600, 0, 0, 450, 600);
    const plan: Plan = {
      builder: 'test',
      workflow: {
        nodes: [
          {
            step: 1,
            brick: 'FLUX-RCM',
            inputs: { image: { kind: 'ref', source: { kind: 'init', name: 'image' } }, mask: { kind: 'ref', source: { kind: 'init', name: 'mask' } }, prompt: { kind: 'literal', value: 'purple' } },
            outputs: ['image'],
          },
        ],
        results: [{ kind: 'step', step: 1, output: 'image' }],
      },
    };
    const outcome = await executor.run(plan.workflow, { image, mask: left });
    if (outcome.status !== 'ok') throw new Error(outcome.status);
    const review = await new Critic(registry, mllm()).review({ request: { ...request('make the left half purple'), hasMask: true }, plan, inputs: { image, mask: left }, outcome, attempt: 0 });
    expect(review.verdicts.map((v) => v.verdict)).toEqual(['done', 'done']);
    const parts = fake.requests[0]!.body.messages[1]!.content as Array<{ type: string; text?: string }>;
    expect(parts[0]!.text).toMatch(/Pictures: before, after, after with the edited region tinted red\.$/);
    expect(parts.filter((p) => p.type === 'image_url')).toHaveLength(3);
  });

  it('turns "wrong" into a problem carrying the critic’s reason', async () => {
    const review = await judged({ reply: '```json\n{"verdict": "wrong", "reason": "the left sheep was recoloured, not the right one."}\n```' });
    expect(review.problem?.code).toBe('check-failed');
    expect(review.problem?.reason).toBe('the left sheep was recoloured, not the right one');
    expect(review.verdicts.map((v) => `${v.by}:${v.verdict}`)).toEqual(['offline:done', 'mllm:wrong']);
  });

  it('keeps "partly" without re-planning', async () => {
    const review = await judged({ reply: "{verdict: 'partly', reason: 'the sky is still blue'}" });
    expect(review.problem).toBeUndefined();
    expect(review.verdicts[1]!.verdict).toBe('partly');
  });

  it('calls a garbled answer unchecked and lets the result go out', async () => {
    const review = await judged({ reply: 'Looks great to me!!' });
    expect(review.problem).toBeUndefined();
    expect(review.verdicts[1]).toMatchObject({ by: 'mllm', verdict: 'unchecked', reason: 'the critic\'s answer could not be read: "Looks great to me!!"' });
  });

  it('lets the result go out unchecked when the critic is slow or failing, saying which', async () => {
    const slow = await judged({ hangMs: 3_000 }, mllm(300));
    expect(slow.problem).toBeUndefined();
    expect(slow.verdicts[1]).toMatchObject({ verdict: 'unchecked', reason: 'the critic did not answer within 0.3 s', unanswered: 'timeout' });
    const down = await judged({ status: 503, error: 'overloaded' });
    expect(down.verdicts[1]).toMatchObject({ verdict: 'unchecked', reason: 'the critic could not be reached', unanswered: 'error' });
  });

  it('is not asked when the offline checks already found the result wrong', async () => {
    const grey = makeImage(64, 48, 3, new Uint8Array(64 * 48 * 3).fill(128));
    const r = { ...request('make it black and white'), image: grey };
    const plan = await new OfflineBuilder(registry).plan(r);
    const outcome = await executor.run(plan.workflow, { image: grey });
    if (outcome.status !== 'ok') throw new Error(outcome.status);
    const review = await new Critic(registry, mllm()).review({ request: r, plan, inputs: { image: grey }, outcome, attempt: 0 });
    expect(fake.requests).toHaveLength(0);
    expect(review.verdicts.map((v) => v.verdict)).toEqual(['wrong']);
  });

  it('re-plans once in the pipeline with the critic’s reason, and says what was checked and changed', async () => {
    fake.script({ reply: '{"verdict":"wrong","reason":"the picture should be sepia, not grey"}' }, { reply: '{"verdict":"done","reason":"sepia"}' });
    const r = request('make it black and white');
    const critic = new Critic(registry, mllm());
    const failures: PriorTurn[] = [];
    const offline = new OfflineBuilder(registry);
    const result = await runPipeline({
      builder: { name: 'offline', plan: (x) => offline.plan(x), repairAfterFailure: async (x, failed) => (failures.push(failed), offline.plan({ ...x, instruction: 'make it sepia' })) },
      request: r,
      maxRepairs: 2,
      run,
      review: (plan, outcome, attempt) => critic.review({ request: r, plan, inputs: { image }, outcome, attempt }),
    });
    expect(failures.map((f) => [f.errorCode, f.error])).toEqual([['check-failed', 'The result failed the check after the run: the picture should be sepia, not grey']]);
    if (result.status !== 'ran') throw new Error(result.status);
    expect(result.review?.verdicts.map((v) => `${v.by}:${v.verdict}:${v.attempt}`)).toEqual(['offline:done:0', 'mllm:wrong:0', 'offline:done:1', 'mllm:done:1']);
    expect(result.review?.note).toMatch(/^I checked the result \(the picture should be sepia, not grey\) and re-planned once/);
  });
});

describe('parseVerdict', () => {
  it('reads a verdict after a reasoning block, in any case, and repairs loose JSON', () => {
    expect(parseVerdict('<think>hmm {"verdict":"done"}</think>{"Verdict":"x"}')).toEqual({ verdict: 'unchecked', reason: 'the critic\'s answer could not be read: "{"Verdict":"x"}"' });
    expect(parseVerdict('<think>look</think> {"verdict": "WRONG", "reason": "nothing changed",}')).toEqual({ verdict: 'wrong', reason: 'nothing changed' });
    expect(parseVerdict('{"verdict":"done"}')).toEqual({ verdict: 'done', reason: 'the critic said "done" without a reason' });
  });

  it('reads a verdict in a code fence, an unclosed reasoning block or full-width punctuation, as the Builder’s replies are read', () => {
    expect(parseVerdict('Here is my verdict:\n```json\n{"verdict": "partly", "reason": "the sky is still blue"}\n```\nHope that helps {sic}')).toEqual({ verdict: 'partly', reason: 'the sky is still blue' });
    expect(parseVerdict('<think>the car is red now {"verdict": "done"')).toEqual({ verdict: 'done', reason: 'the critic said "done" without a reason' });
    expect(parseVerdict('｛"verdict"："wrong"，"reason"：“左边的羊被改了，不是右边的”｝')).toEqual({ verdict: 'wrong', reason: '左边的羊被改了，不是右边的' });
    expect(parseVerdict('["done"]')).toEqual({ verdict: 'unchecked', reason: 'the critic\'s answer could not be read: "["done"]"' });
  });
});

describe('overlay', () => {
  it('tints the region red at half strength and leaves the rest', () => {
    const out = overlay(makeImage(4, 2, 3, new Uint8Array(24).fill(100)), rectMask(4, 2, 0, 0, 2, 2));
    expect([...out.data.slice(0, 3)]).toEqual([178, 50, 50]);
    expect([...out.data.slice(9, 12)]).toEqual([100, 100, 100]);
  });
});
