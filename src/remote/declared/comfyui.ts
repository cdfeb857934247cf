/**
 * Bricks backed by a ComfyUI server. The brick holds an API-format workflow
 * with "{{port}}" placeholders; a run uploads the input images, submits the
 * filled workflow under its own client id, follows that client's WebSocket for
 * progress and errors, then downloads the output images. Cancellation
 * interrupts the prompt on the server, so the GPU is freed at once.
 */
import { createHash, randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import type { AnyBrick, BackendStatus, BrickContext } from '../../engine/brick.ts';
import { CancelledError, LegoEditError, errorMessage } from '../../engine/errors.ts';
import { decodeImage, encodeImage, hashValue, imageToMask } from '../../engine/image-io.ts';
import type { Value } from '../../engine/values.ts';

export interface ComfyUIOutput {
  /** Id of the node whose saved images hold this output (a SaveImage node). */
  readonly node: string;
  /** Which of that node's images (default 0). */
  readonly index?: number;
}

export interface ComfyUIBackend {
  readonly url: string;
  /** The API-format workflow ("Save (API)" in ComfyUI), with "{{input}}" placeholders. */
  readonly template: Record<string, unknown>;
  readonly outputs: Readonly<Record<string, ComfyUIOutput>>;
  readonly timeoutMs: number;
}

/** ComfyUI reported an error while executing the workflow. */
export class ComfyUIExecutionError extends LegoEditError {
  constructor(brick: string, readonly nodeType: string, detail: string) {
    // A GPU out of memory may pass on a less busy moment or another host; a wrong model name will not.
    super('comfyui-execution', `${brick}: ComfyUI failed in ${nodeType}: ${detail}`, { retryable: /out of memory|OOM|CUDA error/i.test(detail) });
  }
}

export class ComfyUIUnavailableError extends LegoEditError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('comfyui-unavailable', message, { retryable: true, cause: options.cause });
  }
}

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_-]+)\s*\}\}/g;

/** Names of the placeholders a template uses. */
export function templatePlaceholders(template: unknown): Set<string> {
  const found = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') for (const m of v.matchAll(PLACEHOLDER)) found.add(m[1]!);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(template);
  return found;
}

/** Fills placeholders: a string that is only "{{x}}" takes x's value and type (numbers stay numbers); others are interpolated. */
export function fillTemplate(template: unknown, values: Readonly<Record<string, string | number>>): unknown {
  const fill = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const whole = /^\{\{\s*([A-Za-z0-9_-]+)\s*\}\}$/.exec(v);
      if (whole && whole[1]! in values) return values[whole[1]!];
      return v.replace(PLACEHOLDER, (m, name: string) => (name in values ? String(values[name]) : m));
    }
    if (Array.isArray(v)) return v.map(fill);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]));
    return v;
  };
  return fill(template);
}

interface WsMessage {
  readonly type: string;
  readonly data?: Record<string, unknown>;
}

async function jsonOrThrow(res: Response, what: string): Promise<unknown> {
  const text = await res.text();
  if (!res.ok) throw new ComfyUIUnavailableError(`ComfyUI ${what} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as unknown;
}

async function runOnComfy(brick: AnyBrick, backend: ComfyUIBackend, inputs: Record<string, Value | null>, ctx: BrickContext): Promise<Record<string, Value>> {
  const base = backend.url.replace(/\/+$/, '');
  const clientId = randomUUID();
  const deadline = AbortSignal.timeout(backend.timeoutMs);
  const signal = AbortSignal.any([ctx.signal, deadline]);
  const req = async (path: string, init: RequestInit = {}): Promise<Response> => {
    try {
      return await fetch(`${base}${path}`, { ...init, signal });
    } catch (err) {
      if (ctx.signal.aborted) throw new CancelledError();
      if (deadline.aborted) throw new ComfyUIUnavailableError(`${brick.name}: ComfyUI did not finish within ${backend.timeoutMs} ms.`);
      throw new ComfyUIUnavailableError(`ComfyUI at ${base} cannot be reached (${(err as { cause?: { code?: string } }).cause?.code ?? errorMessage(err)}).`, { cause: err });
    }
  };

  // Listen before submitting, so no message about our prompt can be missed.
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws?clientId=${clientId}`);
  const messages: WsMessage[] = [];
  let wake: (() => void) | undefined;
  let wsClosed: Error | undefined;
  ws.on('message', (data, isBinary) => {
    if (isBinary) return; // live previews
    try {
      messages.push(JSON.parse(data.toString()) as WsMessage);
    } catch {
      return;
    }
    wake?.();
  });
  ws.on('close', () => {
    wsClosed ??= new Error('WebSocket closed');
    wake?.();
  });
  ws.on('error', (err) => {
    wsClosed = err;
    wake?.();
  });
  const onAbort = (): void => wake?.();
  signal.addEventListener('abort', onAbort);
  let promptId: string | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', (err) => reject(new ComfyUIUnavailableError(`ComfyUI at ${base} cannot be reached (${errorMessage(err)}).`, { cause: err })));
      signal.addEventListener('abort', () => reject(ctx.signal.aborted ? new CancelledError() : new ComfyUIUnavailableError('ComfyUI did not accept a connection in time.')), { once: true });
    });

    const values: Record<string, string | number> = {};
    for (const [name, v] of Object.entries(inputs)) {
      if (v === null || v === undefined) continue;
      if (typeof v === 'string' || typeof v === 'number') {
        values[name] = v;
        continue;
      }
      const png = await encodeImage(v, 'png');
      const form = new FormData();
      form.append('image', new Blob([new Uint8Array(png)], { type: 'image/png' }), `lego-edit-${hashValue(v).slice(0, 24)}.png`);
      form.append('type', 'input');
      form.append('overwrite', 'true');
      const up = (await jsonOrThrow(await req('/upload/image', { method: 'POST', body: form }), 'upload')) as { name: string; subfolder?: string };
      values[name] = up.subfolder ? `${up.subfolder}/${up.name}` : up.name;
    }
    // Same inputs, same seed: a rerun reproduces the result, as the executor's cache assumes.
    values.seed ??= parseInt(createHash('sha256').update(JSON.stringify(values)).digest('hex').slice(0, 12), 16) % 2 ** 32;
    const prompt = fillTemplate(backend.template, values);

    const submitted = await req('/prompt', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt, client_id: clientId }) });
    const submitBody = (await submitted.json().catch(() => ({}))) as { prompt_id?: string; error?: { message?: string; details?: string }; node_errors?: unknown };
    if (!submitted.ok || !submitBody.prompt_id) {
      const detail = [submitBody.error?.message, submitBody.error?.details].filter(Boolean).join(': ') || `HTTP ${submitted.status}`;
      throw new LegoEditError('comfyui-rejected', `${brick.name}: ComfyUI rejected the workflow (${detail}).`);
    }
    promptId = submitBody.prompt_id;
    ctx.progress({ fraction: 0, message: 'queued on ComfyUI' });

    for (;;) {
      const m = messages.shift();
      if (!m) {
        if (signal.aborted) break;
        if (wsClosed) throw new ComfyUIUnavailableError(`${brick.name}: lost the ComfyUI connection mid-run (${wsClosed.message}).`);
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
        continue;
      }
      const d = m.data ?? {};
      if (d.prompt_id !== undefined && d.prompt_id !== promptId) continue;
      if (m.type === 'progress' && typeof d.value === 'number' && typeof d.max === 'number' && d.max > 0) {
        ctx.progress({ fraction: Math.min(1, d.value / d.max), message: `ComfyUI node ${String(d.node ?? '')}`.trim() });
      } else if (m.type === 'executing' && d.prompt_id === promptId && d.node === null) {
        break; // older servers end with executing(null) instead of execution_success
      } else if (m.type === 'execution_success') {
        break;
      } else if (m.type === 'execution_error') {
        throw new ComfyUIExecutionError(brick.name, String(d.node_type ?? 'a node'), String(d.exception_message ?? 'unknown error').trim());
      } else if (m.type === 'execution_interrupted') {
        throw new CancelledError('ComfyUI interrupted the run.');
      }
    }
    if (signal.aborted) throw ctx.signal.aborted ? new CancelledError() : new ComfyUIUnavailableError(`${brick.name}: ComfyUI did not finish within ${backend.timeoutMs} ms.`);

    const history = (await jsonOrThrow(await req(`/history/${encodeURIComponent(promptId)}`), 'history')) as Record<
      string,
      { outputs?: Record<string, { images?: { filename: string; subfolder?: string; type?: string }[] }> }
    >;
    const entry = history[promptId];
    const out: Record<string, Value> = {};
    for (const [port, where] of Object.entries(backend.outputs)) {
      const img = entry?.outputs?.[where.node]?.images?.[where.index ?? 0];
      if (!img) throw new LegoEditError('comfyui-output', `${brick.name}: ComfyUI produced no image at node ${where.node} for output "${port}".`);
      const q = new URLSearchParams({ filename: img.filename, subfolder: img.subfolder ?? '', type: img.type ?? 'output' });
      const res = await req(`/view?${q}`);
      if (!res.ok) throw new ComfyUIUnavailableError(`ComfyUI /view answered ${res.status} for ${img.filename}.`);
      const decoded = await decodeImage(new Uint8Array(await res.arrayBuffer()));
      out[port] = brick.outputs[port]?.type === 'Mask' ? imageToMask(decoded) : decoded;
    }
    ctx.progress({ fraction: 1 });
    return out;
  } catch (err) {
    if (promptId && signal.aborted) await interrupt(base, promptId, ctx);
    if (signal.aborted && ctx.signal.aborted && !(err instanceof CancelledError)) throw new CancelledError();
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
    ws.removeAllListeners();
    ws.on('error', () => {});
    ws.terminate();
  }
}

/** Stops our prompt if it runs, and drops it if it still waits in ComfyUI's queue. */
async function interrupt(base: string, promptId: string, ctx: BrickContext): Promise<void> {
  const post = (path: string, body: unknown) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(3_000) }).catch((err: unknown) =>
      ctx.logger.warn({ err: errorMessage(err) }, `ComfyUI ${path} failed`),
    );
  await Promise.all([post('/interrupt', { prompt_id: promptId }), post('/queue', { delete: [promptId] })]);
}

/** A brick that runs `backend`'s workflow on ComfyUI; `shape` gives its name, ports and texts. */
export function comfyuiBrick(shape: Omit<AnyBrick, 'run' | 'backends'>, backend: ComfyUIBackend): AnyBrick {
  return {
    ...shape,
    async backends(): Promise<BackendStatus[]> {
      try {
        const res = await fetch(`${backend.url.replace(/\/+$/, '')}/system_stats`, { signal: AbortSignal.timeout(2_000) });
        return [{ name: 'comfyui', available: res.ok, detail: res.ok ? backend.url : `${backend.url} answered ${res.status}` }];
      } catch (err) {
        return [{ name: 'comfyui', available: false, detail: `${backend.url} cannot be reached (${(err as { cause?: { code?: string } }).cause?.code ?? errorMessage(err)})` }];
      }
    },
    run: (inputs, ctx) => runOnComfy(shape as AnyBrick, backend, inputs as Record<string, Value | null>, ctx) as ReturnType<AnyBrick['run']>,
  };
}
