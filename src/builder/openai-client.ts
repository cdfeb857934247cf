/**
 * The OpenAI SDK and a client for one endpoint, imported on the first request: the SDK is a fifth of a second
 * that start-up need not pay. The MLLM Builder and the critic each hold one.
 */
import type OpenAI from 'openai';

export interface OpenAiEndpoint {
  readonly apiKey?: string | undefined;
  readonly baseURL?: string | undefined;
  readonly timeoutMs: number;
  readonly maxRetries: number;
}

export type LoadedOpenAi = { readonly sdk: typeof OpenAI; readonly client: OpenAI };

/** A function that imports the SDK and builds the client once, on its first call. */
export function lazyOpenAi(endpoint: OpenAiEndpoint): () => Promise<LoadedOpenAi> {
  let loaded: Promise<LoadedOpenAi> | undefined;
  return () =>
    (loaded ??= import('openai').then(({ default: sdk }) => ({
      sdk,
      client: new sdk({
        // Local servers (vLLM, Ollama, LM Studio) need no key, but the SDK insists on one.
        apiKey: endpoint.apiKey ?? 'none',
        ...(endpoint.baseURL ? { baseURL: endpoint.baseURL } : {}),
        timeout: endpoint.timeoutMs,
        maxRetries: endpoint.maxRetries,
        logLevel: 'off',
      }),
    })));
}
