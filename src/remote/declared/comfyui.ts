/**
 * Bricks backed by a ComfyUI server. The brick holds an API-format workflow
 * with "{{port}}" placeholders; a run uploads the input images, submits the
 * filled workflow under its own client id, follows that client's WebSocket for
 * progress and errors, then downloads the output images. Cancellation
 * interrupts the prompt on the server, so the GPU is freed at once.
 */
import { createHash, randomInt, randomUUID } from 'node:crypto';
import sharp from 'sharp';
import WebSocket from 'ws';
import type { AnyBrick, BackendStatus, BrickContext } from '../../engine/brick.ts';
import { CancelledError, LegoEditError, errorMessage } from '../../engine/errors.ts';
import { decodeImage, hashValue, imageToMask, sharpFromImage } from '../../engine/image-io.ts';
import type { ImageData, MaskData, Value } from '../../engine/values.ts';
import { makeMask } from '../../engine/values.ts';
import { featherForInputs, fitToInputs, referenceImage } from '../client/full-size.ts';
import { type ObjectInfo, missingFromServer, serverSchema } from './comfyui-schema.ts';

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
  /** Placeholders computed from Float inputs: offset + scale × input, clamped. */
  readonly derived?: Readonly<Record<string, DerivedValue>>;
}

export interface DerivedValue {
  readonly from: string;
  readonly scale: number;
  readonly offset: number;
  readonly min?: number | undefined;
  readonly max?: number | undefined;
}

function derive(d: DerivedValue, x: number): number {
  const v = d.offset + d.scale * x;
  return Math.min(d.max ?? Infinity, Math.max(d.min ?? -Infinity, Math.round(v * 1e6) / 1e6));
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

/** One problem ComfyUI's validation found: which node, which input, what. */
export interface ComfyUINodeProblem {
  readonly node: string;
  readonly classType: string;
  readonly input?: string;
  readonly type: string;
  readonly message: string;
}

/** ComfyUI refused the graph (POST /prompt answered 400): `problems` name each node and input, for the operator. */
export class ComfyUIRejectedError extends LegoEditError {
  constructor(
    readonly brick: string,
    readonly summary: string,
    readonly problems: readonly ComfyUINodeProblem[],
  ) {
    const where = problems.map((p) => `node ${p.node} (${p.classType})${p.input ? ` input "${p.input}"` : ''}: ${p.message}`).join('; ');
    super('comfyui-rejected', `${brick}: ComfyUI rejected the workflow (${summary})${where ? `: ${where}` : ''}.`);
  }

  /** One line for the chat: the operator's log has the node and input. */
  override get userMessage(): string {
    const missing = this.problems.some((p) => p.type === 'value_not_in_list');
    return missing
      ? `${this.brick} is not set up on the GPU host yet (a model file it needs is missing there); the operator has been told which.`
      : `${this.brick} cannot run on the GPU host: it refused the workflow. The operator has been told why.`;
  }
}

/** ComfyUI's node_errors, flattened: `{ "5": { class_type, errors: [{ type, message, details, extra_info: { input_name } }] } }`. */
export function nodeProblems(nodeErrors: unknown): ComfyUINodeProblem[] {
  if (!nodeErrors || typeof nodeErrors !== 'object') return [];
  const out: ComfyUINodeProblem[] = [];
  for (const [node, v] of Object.entries(nodeErrors as Record<string, unknown>)) {
    const entry = (v ?? {}) as { class_type?: unknown; errors?: unknown };
    const errors = Array.isArray(entry.errors) ? (entry.errors as { type?: unknown; message?: unknown; details?: unknown; extra_info?: { input_name?: unknown } }[]) : [];
    for (const e of errors) {
      const input = typeof e.extra_info?.input_name === 'string' ? e.extra_info.input_name : undefined;
      out.push({
        node,
        classType: String(entry.class_type ?? '?'),
        ...(input ? { input } : {}),
        type: String(e.type ?? 'error'),
        message: [e.message, e.details].filter((x) => typeof x === 'string' && x !== '').join(': ') || 'invalid',
      });
    }
  }
  return out;
}

async function jsonOrThrow(res: Response, what: string): Promise<unknown> {
  const text = await res.text();
  if (!res.ok) throw new ComfyUIUnavailableError(`ComfyUI ${what} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as unknown;
}

/**
 * Values for optional Image and Mask inputs left out, so no "{{mask}}" reaches
 * ComfyUI: an absent mask means the whole image (as for the built-in bricks),
 * an absent extra image (a pre-fill) the main image.
 */
function withAbsentInputs(brick: AnyBrick, inputs: Record<string, Value | null>): Record<string, Value | null> {
  const out = { ...inputs };
  const ref = referenceImage(brick, inputs);
  for (const [name, spec] of Object.entries(brick.inputs)) {
    if (out[name] !== null && out[name] !== undefined) continue;
    if (spec.type === 'Mask' && ref) out[name] = makeMask(ref.width, ref.height, new Uint8Array(ref.width * ref.height).fill(255));
    else if (spec.type === 'Image' && ref) out[name] = ref;
  }
  return out;
}

/** Each mask value's grey-and-alpha pixel (grey = v, alpha = 255 − v) as one 16-bit word in the platform's byte order: one load and one store a pixel. */
const GREY_ALPHA = (() => {
  const pair = new Uint8Array(512);
  for (let v = 0; v < 256; v++) [pair[2 * v], pair[2 * v + 1]] = [v, 255 - v];
  return new Uint16Array(pair.buffer);
})();

/**
 * A mask as ComfyUI reads it whichever way a workflow loads it: a grey band
 * holding the mask (LoadImageMask "red"/"green"/"blue": ComfyUI converts a
 * grey-and-alpha PNG to RGBA with R = G = B = grey) and an alpha band holding
 * it inverted, as ComfyUI's mask editor stores it (LoadImageMask "alpha" and
 * LoadImage's MASK output compute 1 − alpha). Two bands, not four: half the
 * bytes to build and compress.
 */
export async function maskUploadPng(mask: MaskData): Promise<Buffer> {
  const la = new Uint8Array(mask.width * mask.height * 2);
  const px = new Uint16Array(la.buffer);
  const d = mask.data;
  for (let p = 0; p < d.length; p++) px[p] = GREY_ALPHA[d[p]!]!;
  return sharp(la, { raw: { width: mask.width, height: mask.height, channels: 2 } }).png(UPLOAD_PNG).toBuffer();
}

/** PNG settings for uploads: fast compression, since it crosses a LAN once and ComfyUI decodes it at once (level 1 is ~4× faster to write than the default 6). */
const UPLOAD_PNG = { compressionLevel: 1, adaptiveFiltering: false } as const;

function uploadPng(v: ImageData): Promise<Buffer> {
  return sharpFromImage(v).png(UPLOAD_PNG).toBuffer();
}

async function runOnComfy(brick: AnyBrick, backend: ComfyUIBackend, given: Record<string, Value | null>, ctx: BrickContext): Promise<Record<string, Value>> {
  const base = backend.url.replace(/\/+$/, '');
  const clientId = randomUUID();
  // Chosen here, not by the server: a cancel or deadline that strikes while POST /prompt is in flight can still name it.
  const promptId = randomUUID();
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

  const inputs = withAbsentInputs(brick, given);
  const used = templatePlaceholders(backend.template);
  // Encoding starts at once, while the WebSocket connects; an input the workflow does not name (a mask used only to composite the result) is not uploaded.
  const encoded = Object.entries(inputs).flatMap(([name, v]) =>
    typeof v === 'object' && v !== null && used.has(name) ? [{ name, v, png: v.kind === 'mask' ? maskUploadPng(v) : uploadPng(v) }] : [],
  );
  for (const e of encoded) e.png.catch(() => undefined);
  // The composite's weights depend only on the inputs, so they need not wait for the result.
  const feather = featherForInputs(brick, given);

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
  let submitting = false;
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', (err) => reject(new ComfyUIUnavailableError(`ComfyUI at ${base} cannot be reached (${errorMessage(err)}).`, { cause: err })));
      signal.addEventListener('abort', () => reject(ctx.signal.aborted ? new CancelledError() : new ComfyUIUnavailableError('ComfyUI did not accept a connection in time.')), { once: true });
    });

    const values: Record<string, string | number> = {};
    for (const [name, v] of Object.entries(inputs)) if (typeof v === 'string' || typeof v === 'number') values[name] = v;
    const uploads = encoded.map(async ({ name, v, png }) => {
      const form = new FormData();
      form.append('image', new Blob([new Uint8Array(await png)], { type: 'image/png' }), `lego-edit-${v.kind}-${hashValue(v).slice(0, 24)}.png`);
      form.append('type', 'input');
      form.append('overwrite', 'true');
      const up = (await jsonOrThrow(await req('/upload/image', { method: 'POST', body: form }), 'upload')) as { name: string; subfolder?: string };
      values[name] = up.subfolder ? `${up.subfolder}/${up.name}` : up.name;
    });
    // Image and mask encode and travel at once; the first failure is the one reported.
    // The weights are made beside the uploads; waiting for them here means a failure to make them costs no GPU time.
    const settled = await Promise.allSettled([...uploads, ...(feather ? [feather] : [])]);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    for (const [name, d] of Object.entries(backend.derived ?? {})) {
      const x = values[d.from];
      if (typeof x === 'number') values[name] = derive(d, x);
    }
    // Same inputs, same seed: a rerun reproduces the result, as the executor's cache assumes. "Try again" asks for a new sample.
    // Sorted, because the parallel uploads fill `values` in whichever order they finish.
    values.seed ??= ctx.resample
      ? randomInt(2 ** 32)
      : parseInt(createHash('sha256').update(JSON.stringify(Object.entries(values).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))).digest('hex').slice(0, 12), 16) % 2 ** 32;
    const prompt = fillTemplate(backend.template, values);
    const left = [...templatePlaceholders(prompt)];
    if (left.length) throw new LegoEditError('comfyui-rejected', `${brick.name}: no value for ${left.map((n) => `{{${n}}}`).join(', ')} in its ComfyUI workflow.`);

    submitting = true;
    const submitted = await req('/prompt', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt, client_id: clientId, prompt_id: promptId }) });
    const submitBody = (await submitted.json().catch(() => ({}))) as { prompt_id?: string; error?: { message?: string; details?: string } | string; node_errors?: unknown };
    if (!submitted.ok) {
      submitting = false;
      const e = submitBody.error;
      const summary = (typeof e === 'string' ? e : [e?.message, e?.details].filter(Boolean).join(': ')) || `HTTP ${submitted.status}`;
      const problems = nodeProblems(submitBody.node_errors);
      for (const p of problems) ctx.logger.error({ brick: brick.name, node: p.node, classType: p.classType, input: p.input, type: p.type }, `ComfyUI rejected the workflow: ${p.message}`);
      if (!problems.length) ctx.logger.error({ brick: brick.name }, `ComfyUI rejected the workflow: ${summary}`);
      throw new ComfyUIRejectedError(brick.name, summary, problems);
    }
    ctx.progress({ fraction: 0, message: 'queued on ComfyUI' });

    // ComfyUI writes the history after execution_success and only then says `executing` with node null: wait for that.
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
        break;
      } else if (m.type === 'execution_error') {
        ctx.logger.error({ brick: brick.name, node: d.node_id, classType: d.node_type }, `ComfyUI failed: ${String(d.exception_message ?? '').trim()}`);
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
    const fitted = await fitToInputs(brick, given, out, 'all', feather);
    ctx.progress({ fraction: 1 });
    return fitted;
  } catch (err) {
    // Submitted or maybe submitted (the POST was in flight): stop it there, or it keeps the GPU busy for nobody.
    if (signal.aborted && submitting) await interrupt(base, promptId, ctx);
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
    // The manifest's limit, not the executor's default: a GPU workflow may queue behind others.
    timeoutMs: backend.timeoutMs,
    // Ready only when the server's own schema says it can run the workflow: its nodes, its inputs, its model files.
    async backends(): Promise<BackendStatus[]> {
      let info: ObjectInfo;
      try {
        info = await serverSchema(backend.url);
      } catch (err) {
        return [{ name: 'comfyui', available: false, detail: `${backend.url} cannot be reached (${(err as { cause?: { code?: string } }).cause?.code ?? errorMessage(err)})` }];
      }
      const missing = missingFromServer(backend.template, info);
      return [missing.length ? { name: 'comfyui', available: false, detail: `${backend.url}: ${missing.join('; ')}` } : { name: 'comfyui', available: true, detail: `${backend.url} (ready)` }];
    },
    run: (inputs, ctx) => runOnComfy(shape as AnyBrick, backend, inputs as Record<string, Value | null>, ctx) as ReturnType<AnyBrick['run']>,
  };
}
