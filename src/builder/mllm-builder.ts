/**
 * The MLLM Builder: any OpenAI-compatible Chat Completions endpoint (OpenAI, a
 * vLLM server with the released Lego-Edit Builder, Ollama, LM Studio) plans the
 * workflow from the image, the instruction and the conversation. Its replies
 * are read leniently, validated against the registry and the user's rules, and
 * every problem goes back to the model for a corrected workflow, up to a limit.
 */
import type OpenAI from 'openai';
import { lazyOpenAi, type LoadedOpenAi } from './openai-client.ts';
import type { Logger } from 'pino';
import { z } from 'zod';
import { LegoEditError } from '../engine/errors.ts';
import { jpegDataUrl } from '../engine/image-io.ts';
import type { BrickRegistry } from '../engine/registry.ts';
import { WorkflowParseError, parseBuilderReply, parseLenientJson, splitReasoning } from '../engine/workflow/parse.ts';
import { serialiseWorkflow, summariseWorkflow } from '../engine/workflow/serialise.ts';
import type { Workflow } from '../engine/workflow/types.ts';
import { formatIssues, providedInputs, validateWorkflow } from '../engine/workflow/validate.ts';
import { silentLogger } from '../logger.ts';
import type { Builder, Plan, PlanAttempt, PlanRequest, PriorTurn } from './builder.ts';
import { ADVISED_INTENTS, type IntentAdvice, type IntentAdvisor, type IntentQuestion } from './intent-advisor.ts';
import { renderPrompt, workedExamples } from './prompt.ts';
import { checkRules, describeRule } from './rules.ts';

export interface MllmBuilderOptions {
  readonly registry: BrickRegistry;
  readonly model: string;
  /** Endpoint, e.g. http://localhost:8000/v1; the SDK's default (api.openai.com) when omitted. */
  readonly baseURL?: string;
  /** Local servers usually need none. Never logged or shown. */
  readonly apiKey?: string;
  /** Corrections asked for after the first reply (default 2). */
  readonly maxRepairs?: number;
  /** Timeout of one HTTP call in ms (default 60 s). */
  readonly timeoutMs?: number;
  /** SDK retries with exponential backoff on 408/409/429/5xx and connection errors (default 2). */
  readonly maxRetries?: number;
  /** Longest side of the image sent (default 768 px): enough to plan, small enough to send fast. */
  readonly imageMaxSide?: number;
  readonly temperature?: number;
  readonly logger?: Logger;
  /** Model for `adviseIntent` on the same endpoint (default: `model`). */
  readonly intentModel?: string;
}

/** The endpoint cannot be used right now: down, unreachable, timing out, overloaded. */
export class BuilderUnavailableError extends LegoEditError {
  constructor(message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super('builder-unavailable', message, { retryable: true, ...options });
  }

  /** Where the model was and what failed are for the operator's log; the user learns only that planning is down. */
  override get userMessage(): string {
    return 'I can’t reach my planner right now, so I can’t plan edits. Please try again in a few minutes.';
  }
}

/** The endpoint refused our credentials or does not serve the model: a configuration problem. */
export class BuilderConfigError extends LegoEditError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('builder-config', message, options);
  }

  override get userMessage(): string {
    return 'I cannot plan edits right now because of a setup problem on my side; the bot’s operator has been told in the log.';
  }
}

/** The model did not produce an acceptable workflow within the allowed attempts. */
export class PlanInvalidError extends LegoEditError {
  constructor(
    message: string,
    readonly attempts: readonly PlanAttempt[],
  ) {
    super('plan-invalid', message);
  }
}

/** The reply `adviseIntent` asks for; a question longer than a chat line is dropped, not shown. */
const IntentReply = z.object({
  intent: z.enum(ADVISED_INTENTS),
  question: z.string().max(300).optional().catch(undefined),
});

/** The model's reply to "what does this message mean" could not be read as one of the intents offered. */
export class IntentReplyError extends LegoEditError {
  constructor(
    message: string,
    readonly raw: string,
  ) {
    super('intent-unreadable', message);
  }
}

function describeTurn(turn: PriorTurn, index: number): string {
  const lines = [`Turn ${index}: "${turn.instruction}" → ${turn.status}`];
  if (turn.workflow) lines.push(`  workflow: ${summariseWorkflow(turn.workflow)}`);
  for (const t of turn.trace ?? []) {
    const bits = [`${t.brick} ${t.status}`];
    if (t.durationMs !== undefined) bits.push(`${Math.round(t.durationMs)} ms`);
    if (t.emptyMasks.length) bits.push(`EMPTY ${t.emptyMasks.join(', ')}`);
    if (t.error) bits.push(`error: ${t.error}`);
    lines.push(`  step ${t.step}: ${bits.join(', ')}`);
  }
  if (turn.error) lines.push(`  error: ${turn.error}`);
  return lines.join('\n');
}

export class MllmBuilder implements Builder, IntentAdvisor {
  readonly name: string;
  /** The SDK and its client, imported on the first request. */
  readonly #openai: () => Promise<LoadedOpenAi>;
  readonly #options: MllmBuilderOptions;
  readonly #logger: Logger;
  readonly #secret: string | undefined;

  constructor(options: MllmBuilderOptions) {
    this.#options = options;
    this.name = options.model;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'mllm-builder', model: options.model });
    this.#secret = options.apiKey;
    this.#openai = lazyOpenAi({ apiKey: options.apiKey, baseURL: options.baseURL, timeoutMs: options.timeoutMs ?? 60_000, maxRetries: options.maxRetries ?? 2 });
  }


  /** The system prompt for a request (prompt.md, "system"): format, catalogue, availability, examples, rules, context. */
  systemPrompt(request: PlanRequest): string {
    const registry = this.#options.registry;
    const rules = request.rules?.length ? request.rules.map((r, i) => `${i + 1}. "${r.text}": ${describeRule(r)}.`).join('\n') : renderPrompt('no-rules');
    const history = (request.history ?? []).map((t, i) => describeTurn(t, i + 1));
    if (request.revise) {
      const { turn, feedback } = request.revise;
      history.push(
        renderPrompt('revise', {
          turn: describeTurn(turn, history.length + 1),
          workflow: turn.workflow ? renderPrompt('revise-workflow', { workflow: serialiseWorkflow(turn.workflow, 0) }) : '',
          feedback,
        }),
      );
    }
    return renderPrompt('system', {
      has_mask: request.hasMask ? 'yes' : 'no',
      has_reference: request.hasReference ? 'yes' : 'no',
      catalogue: registry.catalogue(),
      available: [...request.available].sort().join(', ') || 'none',
      examples: workedExamples(new Set(registry.names())),
      rules,
      context: history.length ? history.join('\n\n') : renderPrompt('first-turn'),
    });
  }

  async plan(request: PlanRequest): Promise<Plan> {
    const started = performance.now();
    const image = await jpegDataUrl(request.image, this.#options.imageMaxSide ?? 768, 85);
    const userText = request.revise ? renderPrompt('revise-user', { feedback: request.revise.feedback, instruction: request.revise.turn.instruction }) : request.instruction;
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
      { role: 'system', content: this.systemPrompt(request) },
      { role: 'user', content: [{ type: 'image_url', image_url: { url: image } }, { type: 'text', text: userText }] },
    ];
    const attempts: PlanAttempt[] = [];
    const usage = { promptTokens: 0, completionTokens: 0 };
    const maxAttempts = 1 + Math.max(0, this.#options.maxRepairs ?? 2);
    const provided = providedInputs(request);
    const catalogue = this.#options.registry.list();

    for (let n = 1; n <= maxAttempts; n++) {
      const t0 = performance.now();
      const completion = await this.#complete(messages, request.signal);
      const latencyMs = performance.now() - t0;
      const used = { promptTokens: completion.usage?.prompt_tokens ?? 0, completionTokens: completion.usage?.completion_tokens ?? 0 };
      usage.promptTokens += used.promptTokens;
      usage.completionTokens += used.completionTokens;
      const raw = completion.choices[0]?.message?.content ?? '';
      this.#logger.debug({ attempt: n, latencyMs: Math.round(latencyMs), usage: completion.usage }, 'builder reply');

      let problems: string[];
      let workflow: Workflow | undefined;
      let reasoning: string | undefined;
      try {
        const parsed = parseBuilderReply(raw);
        reasoning = parsed.reasoning;
        const checked = validateWorkflow(parsed.workflow, this.#options.registry, { provided });
        if (checked.ok) {
          workflow = checked.workflow;
          problems = checkRules(workflow, request.rules ?? [], catalogue);
        } else {
          workflow = parsed.workflow;
          problems = formatIssues(checked.issues).split('\n');
        }
      } catch (err) {
        if (!(err instanceof WorkflowParseError)) throw err;
        problems = [`- The reply could not be read as a workflow: ${err.message}`];
      }
      attempts.push({ raw, ...(workflow ? { workflow } : {}), problems, latencyMs, ...(completion.usage ? { usage: used } : {}) });
      if (problems.length === 0 && workflow) {
        return { workflow, ...(reasoning ? { reasoning } : {}), builder: this.name, attempts, usage, latencyMs: performance.now() - started };
      }
      this.#logger.info({ attempt: n, problems }, 'builder workflow rejected');
      messages.push({ role: 'assistant', content: raw });
      messages.push({ role: 'user', content: renderPrompt('invalid-reply', { problems: problems.map((p) => (p.startsWith('-') ? p : `- ${p}`)).join('\n') }) });
    }
    const last = attempts.at(-1)?.problems ?? [];
    throw new PlanInvalidError(
      `The planning model did not produce a usable workflow in ${attempts.length} attempt${attempts.length > 1 ? 's' : ''}. Last problems:\n${last.map((p) => (p.startsWith('-') ? p : `- ${p}`)).join('\n')}`,
      attempts,
    );
  }

  /**
   * Asks for a corrected plan after a run failed in a way the plan can fix (an
   * empty mask, an unknown brick, a type mismatch): the failure ("run-failed"
   * in prompt.md) goes back to the model as feedback on the failed turn, with
   * its workflow and trace. See `Builder.repairAfterFailure` for the contract;
   * a model that cannot produce a usable plan ends in `PlanInvalidError`.
   */
  async repairAfterFailure(request: PlanRequest, failed: PriorTurn): Promise<Plan> {
    const why = failed.error ?? failed.trace?.find((t) => t.error || t.emptyMasks.length)?.error ?? 'a step produced an empty mask';
    const error = failed.errorCode && !why.includes(failed.errorCode) ? `${why.replace(/\.$/, '')} (${failed.errorCode})` : why.replace(/\.$/, '');
    return this.plan({ ...request, revise: { turn: failed, feedback: renderPrompt('run-failed', { error }) } });
  }

  /**
   * What a free-text message means, asked without the image (a text-only call is fast and cheap).
   * Throws the same typed errors as `plan` when the endpoint fails, and IntentReplyError when the reply is not one of the intents offered.
   */
  async adviseIntent(question: IntentQuestion): Promise<IntentAdvice> {
    const last = question.lastInstruction ? renderPrompt('intent-last', { instruction: question.lastInstruction }) : '';
    const completion = await this.#complete(
      [
        { role: 'system', content: renderPrompt('intent', { last }) },
        { role: 'user', content: question.text },
      ],
      question.signal,
      this.#options.intentModel,
    );
    const raw = completion.choices[0]?.message?.content ?? '';
    let reply: unknown;
    try {
      reply = parseLenientJson(splitReasoning(raw).rest);
    } catch (err) {
      if (!(err instanceof WorkflowParseError)) throw err;
      throw new IntentReplyError('The model did not answer with JSON.', raw);
    }
    const parsed = IntentReply.safeParse(reply);
    if (!parsed.success) throw new IntentReplyError(`The model's answer is not one of ${ADVISED_INTENTS.join(', ')}.`, raw);
    this.#logger.debug({ intent: parsed.data.intent, usage: completion.usage }, 'intent advice');
    return parsed.data.question ? { intent: parsed.data.intent, question: parsed.data.question } : { intent: parsed.data.intent };
  }


  async #complete(messages: OpenAI.Chat.ChatCompletionMessageParam[], signal: AbortSignal | undefined, model = this.#options.model): Promise<OpenAI.Chat.ChatCompletion> {
    const { sdk, client } = await this.#openai();
    try {
      return await client.chat.completions.create(
        { model, messages, temperature: this.#options.temperature ?? 0 },
        signal ? { signal } : {},
      );
    } catch (err) {
      throw this.#userError(sdk, err);
    }
  }

  /** A message a user can act on, with the key scrubbed from anything the endpoint echoed. */
  #userError(sdk: typeof OpenAI, err: unknown): Error {
    const where = this.#options.baseURL ? new URL(this.#options.baseURL).host : 'the OpenAI API';
    const scrub = (text: string): string => (this.#secret ? text.split(this.#secret).join('[redacted]') : text);
    const detail = scrub(err instanceof Error ? err.message : String(err)).slice(0, 300);
    if (err instanceof sdk.APIUserAbortError) return new LegoEditError('cancelled', 'Planning was cancelled.');
    if (err instanceof sdk.APIConnectionTimeoutError) {
      return new BuilderUnavailableError(`The planning model at ${where} did not answer within ${Math.round((this.#options.timeoutMs ?? 60_000) / 1000)} s. Try again, or raise BUILDER_TIMEOUT_MS.`);
    }
    if (err instanceof sdk.APIConnectionError) {
      return new BuilderUnavailableError(`The planning model at ${where} is not reachable (${detail}). Is the server running? Check OPENAI_BASE_URL.`);
    }
    if (err instanceof sdk.AuthenticationError || err instanceof sdk.PermissionDeniedError) {
      return new BuilderConfigError(`The planning model at ${where} rejected the API key (HTTP ${err.status}). Check OPENAI_API_KEY.`);
    }
    if (err instanceof sdk.NotFoundError) {
      return new BuilderConfigError(`The endpoint at ${where} does not serve the model "${this.#options.model}" (HTTP 404). Check BUILDER_MODEL and OPENAI_BASE_URL.`);
    }
    if (err instanceof sdk.RateLimitError) {
      return new BuilderUnavailableError(`The planning model at ${where} is rate-limiting us (HTTP 429) even after retries. Try again in a minute.`);
    }
    if (err instanceof sdk.APIError) {
      return new BuilderUnavailableError(`The planning model at ${where} failed (HTTP ${err.status ?? '?'}: ${detail}).`, { retryable: (err.status ?? 500) >= 500 });
    }
    return err instanceof Error ? new LegoEditError('builder-failed', scrub(err.message), { cause: undefined }) : new LegoEditError('builder-failed', detail);
  }
}
