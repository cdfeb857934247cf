import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { builtinBricks } from '../../bricks/index.ts';
import type { Rule } from '../../src/builder/builder.ts';
import { BuilderConfigError, BuilderUnavailableError, IntentReplyError, MllmBuilder, PlanInvalidError } from '../../src/builder/mllm-builder.ts';
import { checkRules, parseRule } from '../../src/builder/rules.ts';
import { defineBrick, port } from '../../src/engine/brick.ts';
import { BrickRegistry } from '../../src/engine/registry.ts';
import { makeImage } from '../../src/engine/values.ts';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai-server.ts';

const registry = new BrickRegistry(builtinBricks());
const image = makeImage(64, 48, 3, new Uint8Array(64 * 48 * 3).fill(128));
const available = new Set(['SOS', 'FASTINPAINT', 'GRAYSCALE', 'RES']);

const step = (n: number, model: string, input: Record<string, string | number>, outputs: string[]) => ({
  step: n,
  model,
  input,
  output: Object.fromEntries(outputs.map((o) => [o, `step${n}[${o}]`])),
});
const resRemove = JSON.stringify({
  process: 'Remove the dog',
  pipeline: [step(1, 'RES', { image: 'init[image]', prompt: 'the dog' }, ['mask', 'image']), step(2, 'FASTINPAINT', { image: 'init[image]', mask: 'step1[mask]' }, ['image', 'score']), { result: '[step2[image]]' }],
});
const sosRemove = JSON.stringify({
  process: 'Remove the dog',
  pipeline: [step(1, 'SOS', { image: 'init[image]' }, ['mask', 'image']), step(2, 'FASTINPAINT', { image: 'init[image]', mask: 'step1[mask]' }, ['image', 'score']), { result: '[step2[image]]' }],
});

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());

const builder = (extra: Partial<ConstructorParameters<typeof MllmBuilder>[0]> = {}) =>
  new MllmBuilder({ registry, model: 'lego-edit-builder', baseURL: fake.baseURL, maxRepairs: 2, timeoutMs: 5_000, maxRetries: 2, ...extra });

describe('MllmBuilder against an OpenAI-compatible server', () => {
  it('keeps the <think> trace as reasoning and reads a fenced workflow', async () => {
    fake.script({ reply: `<think>The user wants the dog gone: RES finds it, FASTINPAINT fills.</think>\n\`\`\`json\n${resRemove}\n\`\`\``, usage: { prompt_tokens: 1200, completion_tokens: 80 } });
    const plan = await builder().plan({ image, instruction: 'remove the dog', available });
    expect(plan.builder).toBe('lego-edit-builder');
    expect(plan.reasoning).toBe('The user wants the dog gone: RES finds it, FASTINPAINT fills.');
    expect(plan.workflow.nodes.map((n) => n.brick)).toEqual(['RES', 'FASTINPAINT']);
    expect(plan.attempts).toHaveLength(1);
    expect(plan.usage).toEqual({ promptTokens: 1200, completionTokens: 80 });
    expect(plan.latencyMs).toBeGreaterThan(0);
  });

  it('sends the downscaled image as a data URL and a system prompt built from the registry', async () => {
    fake.script({ reply: resRemove });
    const rules: Rule[] = [parseRule('never use FLUX-STYLE', registry.list())!];
    await builder({ imageMaxSide: 32 }).plan({ image, instruction: 'remove the dog', available, rules });
    const body = fake.requests[0]!.body;
    expect(body.model).toBe('lego-edit-builder');
    const system = body.messages[0]!.content as string;
    expect(system).toContain('FLUX-RCM (Change the colour or material of the masked object)');
    expect(system).toContain('Input: {Image[image], Mask[mask], Str[prompt]}');
    // Port details follow the published lines: descriptions, choices, bounds and defaults.
    expect(system).toContain('- prompt: Target colour or material: "light blue", "matte black", "#1e90ff", "gold", "chrome"');
    expect(system).toContain('- mode: one of "blur", "pixelate", default "blur"');
    expect(system).toContain('- brightness: Multiplier; 1 keeps it (0 to 4, default 1)');
    expect(system).toContain('Bricks that can run right now: FASTINPAINT, GRAYSCALE, RES, SOS.');
    expect(system).toContain('"never use FLUX-STYLE": never use FLUX-STYLE');
    expect(system).toMatch(/"model": "FLUX-RCM"/);
    const user = body.messages[1]!.content as Array<{ type: string; text?: string; image_url?: { url: string } }>;
    expect(user.find((p) => p.type === 'text')!.text).toBe('remove the dog');
    const url = user.find((p) => p.type === 'image_url')!.image_url!.url;
    expect(url).toMatch(/^data:image\/jpeg;base64,/);
    const sharp = (await import('sharp')).default;
    const meta = await sharp(Buffer.from(url.split(',')[1]!, 'base64')).metadata();
    expect(Math.max(meta.width!, meta.height!)).toBe(32);
  });

  it('repairs broken JSON with jsonrepair, and asks again when there is no JSON at all', async () => {
    const sloppy = resRemove.replace(/"/g, "'").replace(']}', '],}');
    fake.script({ reply: `Here you go: ${sloppy}` });
    expect((await builder().plan({ image, instruction: 'remove the dog', available })).attempts).toHaveLength(1);

    fake.requests.length = 0;
    fake.script({ reply: 'I would remove the dog with an inpainting model.' }, { reply: resRemove });
    const plan = await builder().plan({ image, instruction: 'remove the dog', available });
    expect(plan.attempts).toHaveLength(2);
    expect(plan.attempts![0]!.problems[0]).toMatch(/could not be read as a workflow/);
    expect(fake.requests[1]!.body.messages.at(-1)!.content).toMatch(/could not be read as a workflow/);
  });

  it('sends an unknown brick back with a suggestion and accepts the corrected plan', async () => {
    fake.script({ reply: resRemove.replace('FASTINPAINT', 'FAST-INPAINT') }, { reply: `<think>Fixed the name.</think>${resRemove}` });
    const plan = await builder().plan({ image, instruction: 'remove the dog', available });
    expect(plan.attempts).toHaveLength(2);
    expect(plan.attempts![0]!.problems.join('\n')).toMatch(/unknown brick "FAST-INPAINT"; did you mean FASTINPAINT/);
    const repair = fake.requests[1]!.body.messages;
    expect(repair.at(-2)!.role).toBe('assistant');
    expect(repair.at(-1)!.content).toMatch(/did you mean FASTINPAINT/);
    expect(plan.workflow.nodes[1]!.brick).toBe('FASTINPAINT');
    expect(plan.reasoning).toBe('Fixed the name.');
  });

  it('rejects a workflow that breaks a standing rule and accepts the compliant one', async () => {
    const rules = [parseRule("don't use RES before INPAINT", registry.list())!];
    fake.script({ reply: resRemove }, { reply: sosRemove });
    const plan = await builder().plan({ image, instruction: 'remove the dog', available, rules });
    expect(plan.attempts).toHaveLength(2);
    expect(plan.attempts![0]!.problems[0]).toMatch(/step 1 \(RES\) feeds step 2 \(FASTINPAINT\)/);
    expect(checkRules(plan.workflow, rules, registry.list())).toEqual([]);
    expect(plan.workflow.nodes[0]!.brick).toBe('SOS');
  });

  it('gives up after the configured number of repairs, recording each attempt', async () => {
    const rules = [parseRule("don't use RES before INPAINT", registry.list())!];
    fake.script({ reply: resRemove }, { reply: resRemove }, { reply: resRemove });
    const err = await builder({ maxRepairs: 1 })
      .plan({ image, instruction: 'remove the dog', available, rules })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlanInvalidError);
    expect((err as PlanInvalidError).attempts).toHaveLength(2);
    expect(fake.requests).toHaveLength(2);
  });

  it('retries a 429 with backoff and then succeeds', async () => {
    fake.script({ status: 429, error: 'Rate limit reached', headers: { 'retry-after-ms': '20' } }, { reply: sosRemove });
    const plan = await builder().plan({ image, instruction: 'remove the dog', available });
    expect(plan.workflow.nodes[0]!.brick).toBe('SOS');
    expect(fake.requests.length).toBeGreaterThanOrEqual(2);
  });

  it('reports a timeout plainly', async () => {
    fake.script({ hangMs: 3_000 });
    const err = await builder({ timeoutMs: 200, maxRetries: 0 })
      .plan({ image, instruction: 'remove the dog', available })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BuilderUnavailableError);
    expect((err as Error).message).toMatch(/did not answer within/);
  });

  it('says the key was rejected on a 401 without ever showing the key', async () => {
    const secret = 'sk-test-VERY-SECRET-123456';
    fake.requireKey('sk-the-right-one');
    const err = await builder({ apiKey: secret, maxRetries: 0 })
      .plan({ image, instruction: 'remove the dog', available })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BuilderConfigError);
    expect((err as Error).message).toMatch(/rejected the API key \(HTTP 401\)\. Check OPENAI_API_KEY/);
    expect(JSON.stringify(err)).not.toContain('VERY-SECRET');
    expect(String((err as Error).stack)).not.toContain('VERY-SECRET');
    expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${secret}`);
  });

  it('says the endpoint is down when nothing listens there', async () => {
    const err = await builder({ baseURL: 'http://127.0.0.1:9/v1', maxRetries: 0 })
      .plan({ image, instruction: 'remove the dog', available })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BuilderUnavailableError);
    expect((err as Error).message).toMatch(/127\.0\.0\.1:9 is not reachable/);
  });

  it('records each attempt\'s prompt and completion tokens, and their sum on the plan', async () => {
    fake.script({ reply: 'no workflow here', usage: { prompt_tokens: 1000, completion_tokens: 30 } }, { reply: resRemove, usage: { prompt_tokens: 1100, completion_tokens: 70 } });
    const plan = await builder().plan({ image, instruction: 'remove the dog', available });
    expect(plan.attempts!.map((a) => a.usage)).toEqual([
      { promptTokens: 1000, completionTokens: 30 },
      { promptTokens: 1100, completionTokens: 70 },
    ]);
    expect(plan.usage).toEqual({ promptTokens: 2100, completionTokens: 100 });
  });

  it('lists a brick registered later in the system prompt\'s catalogue, with its ports', async () => {
    const withUpscaler = new BrickRegistry([
      ...builtinBricks(),
      defineBrick({
        name: 'UPSCALER',
        kind: 'edit',
        description: 'Upscale the image with a super-resolution model',
        inputs: { image: port.image(), factor: port.float({ min: 1, max: 8 }) },
        outputs: { image: port.image() },
        constraint: 'Only enlarges; never crops.',
        version: '1',
        run: async ({ image: i }) => ({ image: i }),
      }),
    ]);
    fake.script({ reply: resRemove });
    await builder({ registry: withUpscaler }).plan({ image, instruction: 'upscale it 4x', available });
    const system = fake.requests[0]!.body.messages[0]!.content as string;
    expect(system).toContain('UPSCALER (Upscale the image with a super-resolution model)\nInput: {Image[image], Float[factor]}\nOutput: {Image[image]}\nConstraint: Only enlarges; never crops.');
  });

  it('sends the run-time error back with repairAfterFailure: in the feedback and in the user message, with its code', async () => {
    fake.script({ reply: sosRemove });
    const { parseWorkflow } = await import('../../src/engine/workflow/parse.ts');
    const error = 'Step 1 (RES) found nothing for "the dog": its mask is empty, so the edit would change nothing.';
    const turn = { instruction: 'remove the dog', workflow: parseWorkflow(resRemove), status: 'failed' as const, error, errorCode: 'empty-mask' as const };
    const plan = await builder().repairAfterFailure({ image, instruction: 'remove the dog', available }, turn);
    expect(plan.workflow.nodes[0]!.brick).toBe('SOS');
    const [system, user] = fake.requests[0]!.body.messages;
    const expected = `Running the workflow failed: ${error.replace(/\.$/, '')} (empty-mask). Change the plan so it works`;
    expect(system!.content as string).toContain(`Feedback: "${expected}`);
    const text = (user!.content as Array<{ type: string; text?: string }>).find((p) => p.type === 'text')!.text!;
    expect(text).toBe(`Feedback on the last edit: ${expected} (e.g. a simpler RES prompt, another segmenter).\n(Original instruction: remove the dog)`);
    for (const m of fake.requests[0]!.body.messages) expect(JSON.stringify(m.content)).not.toContain('{{');
  });

  it('gives the model the previous workflow, its trace and the feedback when revising', async () => {
    fake.script({ reply: sosRemove });
    const { parseWorkflow } = await import('../../src/engine/workflow/parse.ts');
    const turn = {
      instruction: 'remove the dog',
      workflow: parseWorkflow(resRemove),
      status: 'failed' as const,
      trace: [{ step: 1, brick: 'RES', status: 'ok' as const, inputs: {}, emptyMasks: ['mask'] }],
      error: 'Step 1 (RES) found nothing',
    };
    const plan = await builder().repairAfterFailure({ image, instruction: 'remove the dog', available }, turn);
    expect(plan.workflow.nodes[0]!.brick).toBe('SOS');
    const system = fake.requests[0]!.body.messages[0]!.content as string;
    expect(system).toContain('EMPTY mask');
    expect(system).toContain('"model":"RES"');
    expect(system).toMatch(/Feedback: "Running the workflow failed: Step 1 \(RES\) found nothing/);
  });
});

describe('MllmBuilder as an intent advisor', () => {
  it('reads the intent and question from a reply with a think trace and sloppy JSON, asking without the image', async () => {
    fake.script({ reply: "<think>They cannot decide.</think> Sure: {'intent': 'unclear', 'question': 'Which car?',}" });
    const advice = await builder().adviseIntent({ text: 'that one', lastInstruction: 'paint the car red' });
    expect(advice).toEqual({ intent: 'unclear', question: 'Which car?' });
    const [system, user] = fake.requests[0]!.body.messages;
    expect(system!.content).toContain('The last edit was: "paint the car red".');
    expect(user).toEqual({ role: 'user', content: 'that one' });
    expect(JSON.stringify(fake.requests[0]!.body)).not.toContain('image_url');
  });

  it('refuses an intent it did not offer, and a workflow instead of an intent, with IntentReplyError', async () => {
    fake.script({ reply: '{"intent": "reset"}' }, { reply: resRemove });
    for (const text of ['start over please', 'remove the dog']) {
      const err = await builder().adviseIntent({ text }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IntentReplyError);
      expect((err as IntentReplyError).code).toBe('intent-unreadable');
    }
  });

  it('fails with the Builder’s typed errors when the endpoint is down or the advice is cancelled', async () => {
    const down = await builder({ baseURL: 'http://127.0.0.1:9/v1', maxRetries: 0 })
      .adviseIntent({ text: 'hm' })
      .catch((e: unknown) => e);
    expect(down).toBeInstanceOf(BuilderUnavailableError);
    fake.script({ hangMs: 3_000 });
    const slow = await builder({ maxRetries: 0 })
      .adviseIntent({ text: 'hm', signal: AbortSignal.timeout(200) })
      .catch((e: unknown) => e);
    expect((slow as { code?: string }).code).toBe('cancelled');
  });
});

