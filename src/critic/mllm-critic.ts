/**
 * The MLLM critic (CRITIC_MODEL): shows a multimodal model the instruction,
 * the plan's summary and the before and after pictures (downscaled), with the
 * edited region overlaid when there is one, and asks for a verdict: done,
 * partly or wrong, with a one-line reason. Only "wrong" sends the plan back
 * for repair; "partly" is kept with the turn. A critic that is slow, down or
 * unreadable never holds the result back: its verdict is "unchecked" and the
 * result goes out as it is.
 */
import type OpenAI from 'openai';
import { lazyOpenAi, type LoadedOpenAi } from '../builder/openai-client.ts';
import type { Logger } from 'pino';
import { jpegDataUrl } from '../engine/image-io.ts';
import type { ImageData, MaskData } from '../engine/values.ts';
import { parseLenientJson, splitReasoning } from '../engine/workflow/parse.ts';
import { summariseWorkflow } from '../engine/workflow/serialise.ts';
import { silentLogger } from '../logger.ts';
import type { ModelCritic, RunUnderReview } from './critic.ts';
import { CheckFailedError } from './errors.ts';
import type { Review, Verdict } from './types.ts';

export interface MllmCriticOptions {
  readonly model: string;
  readonly baseURL?: string;
  readonly apiKey?: string;
  /** After this long the result goes out unchecked (CRITIC_TIMEOUT_MS). */
  readonly timeoutMs?: number;
  /** Long side of the pictures sent. */
  readonly imageMaxSide?: number;
  readonly logger?: Logger;
}

export const CRITIC_SYSTEM_PROMPT = [
  'You check the work of an image-editing bot before it is sent to the user.',
  'You are given the user\'s instruction, a summary of the plan the bot ran, the picture before and the picture after the edit,',
  'and, when the edit was limited to a region, the after picture with that region tinted red.',
  'Judge only whether the after picture does what the instruction asked, where it asked, and leaves the rest alone.',
  'Answer with one JSON object and nothing else: {"verdict": "done" | "partly" | "wrong", "reason": "<one short sentence>"}.',
  '"done": the instruction was carried out. "partly": carried out, but incompletely or with visible flaws.',
  '"wrong": the wrong object or region was changed, nothing visible changed, or something else was done than asked.',
  'The reason names what you see, e.g. "the left sheep was recoloured, not the right one".',
].join(' ');

const VERDICTS = ['done', 'partly', 'wrong'] as const;

export class MllmCritic implements ModelCritic {
  /** The SDK and its client, imported on the first review. */
  readonly #openai: () => Promise<LoadedOpenAi>;
  readonly #options: MllmCriticOptions;
  readonly #logger: Logger;

  constructor(options: MllmCriticOptions) {
    this.#options = options;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'mllm-critic', model: options.model });
    // A critic that fails once has cost enough: the result goes out unchecked rather than later.
    this.#openai = lazyOpenAi({ apiKey: options.apiKey, baseURL: options.baseURL, timeoutMs: options.timeoutMs ?? 20_000, maxRetries: 0 });
  }


  async review(run: RunUnderReview, region?: MaskData): Promise<Review> {
    const started = performance.now();
    const base = { by: 'mllm' as const, model: this.#options.model, attempt: run.attempt };
    const after = run.outcome.results.find((v): v is ImageData => typeof v === 'object' && v !== null && v.kind === 'image');
    if (!after) return { verdicts: [{ ...base, verdict: 'unchecked', reason: 'the run made no picture to judge' }] };
    const side = this.#options.imageMaxSide ?? 512;
    const shown = [run.inputs.image, after, ...(region ? [overlay(after, region)] : [])];
    const pictures = await Promise.all(shown.map((picture) => jpegDataUrl(picture, side, 80)));
    const text = [
      `Instruction: ${run.request.instruction}`,
      `Plan: ${summariseWorkflow(run.plan.workflow)}${run.plan.workflow.process ? ` (${run.plan.workflow.process})` : ''}`,
      `Pictures: before, after${region ? ', after with the edited region tinted red' : ''}.`,
    ].join('\n');
    const { sdk, client } = await this.#openai();
    let completion: OpenAI.Chat.ChatCompletion;
    try {
      completion = await client.chat.completions.create(
        {
          model: this.#options.model,
          temperature: 0,
          messages: [
            { role: 'system', content: CRITIC_SYSTEM_PROMPT },
            { role: 'user', content: [{ type: 'text', text }, ...pictures.map((url) => ({ type: 'image_url' as const, image_url: { url } }))] },
          ],
        },
        run.request.signal ? { signal: run.request.signal } : {},
      );
    } catch (err) {
      const unanswered = err instanceof sdk.APIConnectionTimeoutError ? 'timeout' : 'error';
      const latencyMs = Math.round(performance.now() - started);
      this.#logger.warn({ err: err instanceof Error ? err.message : String(err), latencyMs }, 'critic did not answer; the result goes out unchecked');
      const reason = unanswered === 'timeout' ? `the critic did not answer within ${(this.#options.timeoutMs ?? 20_000) / 1000} s` : 'the critic could not be reached';
      return { verdicts: [{ ...base, verdict: 'unchecked', reason, latencyMs, unanswered }] };
    }
    const latencyMs = Math.round(performance.now() - started);
    const usage = completion.usage ? { promptTokens: completion.usage.prompt_tokens, completionTokens: completion.usage.completion_tokens } : undefined;
    const parsed = parseVerdict(completion.choices[0]?.message?.content ?? '');
    const verdict: Verdict = { ...base, ...parsed, latencyMs, ...(usage ? { usage } : {}) };
    if (verdict.verdict !== 'wrong') return { verdicts: [verdict] };
    return { verdicts: [verdict], problem: new CheckFailedError(verdict.reason) };
  }
}

/**
 * The verdict and reason in a model's answer, read as leniently as a Builder's reply (a reasoning trace, code
 * fences, bent JSON, full-width punctuation); anything else is "unchecked".
 */
export function parseVerdict(answer: string): Pick<Verdict, 'verdict' | 'reason'> {
  const body = splitReasoning(answer).rest.trim();
  let v: { verdict?: unknown; reason?: unknown } | undefined;
  try {
    const parsed = parseLenientJson(body);
    if (typeof parsed === 'object' && parsed !== null) v = parsed;
  } catch {
    // No JSON to read: "unchecked" below.
  }
  const verdict = typeof v?.verdict === 'string' ? v.verdict.trim().toLowerCase() : '';
  if ((VERDICTS as readonly string[]).includes(verdict)) {
    const reason = typeof v?.reason === 'string' && v.reason.trim() ? oneLine(v.reason) : `the critic said "${verdict}" without a reason`;
    return { verdict: verdict as Verdict['verdict'], reason };
  }
  return { verdict: 'unchecked', reason: `the critic's answer could not be read: "${body.replace(/\s+/g, ' ').slice(0, 80)}"` };
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().replace(/[.!]$/, '').slice(0, 200);
}

/** The picture with `region` tinted red at half strength. */
export function overlay(image: ImageData, region: MaskData): ImageData {
  const { width, height, channels } = image;
  const out = new Uint8Array(image.data);
  for (let y = 0; y < height; y++) {
    const my = Math.min(region.height - 1, Math.floor((y * region.height) / height));
    for (let x = 0; x < width; x++) {
      const a = region.data[my * region.width + Math.min(region.width - 1, Math.floor((x * region.width) / width))]! / 510;
      if (a === 0) continue;
      const p = (y * width + x) * channels;
      out[p] = Math.round(out[p]! * (1 - a) + 255 * a);
      out[p + 1] = Math.round(out[p + 1]! * (1 - a));
      out[p + 2] = Math.round(out[p + 2]! * (1 - a));
    }
  }
  return { ...image, data: out };
}
