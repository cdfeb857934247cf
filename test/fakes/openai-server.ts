/**
 * A fake OpenAI-compatible Chat Completions server on 127.0.0.1 for testing the
 * MLLM Builder through the real `openai` client. Each request takes the next
 * scripted step: a reply text, an HTTP error, or a hang (to exercise timeouts).
 * Every request body is recorded so tests can assert what was sent.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ScriptStep =
  | { readonly reply: string; readonly usage?: { prompt_tokens: number; completion_tokens: number } }
  | { readonly status: number; readonly error?: string; readonly headers?: Record<string, string> }
  | { readonly hangMs: number };

export interface RecordedRequest {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: {
    model: string;
    messages: Array<{ role: string; content: string | Array<{ type: string; text?: string; image_url?: { url: string } }> }>;
    [k: string]: unknown;
  };
}

export interface FakeOpenAI {
  readonly baseURL: string;
  readonly requests: RecordedRequest[];
  /** Appends steps; requests past the script get a 500. */
  script(...steps: ScriptStep[]): void;
  /** Forgets unused steps and recorded requests. */
  reset(): void;
  /** Require this bearer token (401 otherwise). */
  requireKey(key: string | undefined): void;
  close(): Promise<void>;
}

export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const queue: ScriptStep[] = [];
  const requests: RecordedRequest[] = [];
  let key: string | undefined;
  const pending = new Set<ServerResponse>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) return send(404, { error: { message: `no route ${req.method} ${req.url}`, type: 'not_found' } });
    requests.push({ path: req.url, headers: req.headers, body: JSON.parse(text) as RecordedRequest['body'] });
    if (key !== undefined && req.headers.authorization !== `Bearer ${key}`) {
      // Real servers echo part of the bad key; the client must not pass it on.
      return send(401, { error: { message: `Incorrect API key provided: ${String(req.headers.authorization).slice(7)}`, type: 'invalid_request_error', code: 'invalid_api_key' } });
    }
    const step = queue.shift();
    if (!step) return send(500, { error: { message: 'script exhausted', type: 'server_error' } });
    if ('hangMs' in step) {
      pending.add(res);
      await new Promise((r) => setTimeout(r, step.hangMs));
      pending.delete(res);
      if (res.destroyed) return;
      return send(500, { error: { message: 'hung', type: 'server_error' } });
    }
    if ('status' in step) return send(step.status, { error: { message: step.error ?? `HTTP ${step.status}`, type: 'error' } }, step.headers);
    const model = (JSON.parse(text) as { model: string }).model;
    send(200, {
      id: `chatcmpl-${requests.length}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: step.reply }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: step.usage?.prompt_tokens ?? 100, completion_tokens: step.usage?.completion_tokens ?? 50, total_tokens: (step.usage?.prompt_tokens ?? 100) + (step.usage?.completion_tokens ?? 50) },
    });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    script: (...steps) => queue.push(...steps),
    reset: () => {
      queue.length = 0;
      requests.length = 0;
      key = undefined;
    },
    requireKey: (k) => {
      key = k;
    },
    close: async () => {
      for (const res of pending) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
