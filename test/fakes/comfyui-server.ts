/**
 * A fake ComfyUI on 127.0.0.1, speaking ComfyUI's API: /upload/image,
 * /prompt, /ws, /history, /view, /interrupt, /queue, /object_info and
 * /system_stats, with ComfyUI's message order (execution_start, executing,
 * progress, executed, execution_success, history written, then executing with
 * node null) and its validation: given an /object_info dump, each submitted
 * graph is checked as validate_prompt does and refused with ComfyUI's error
 * shape. Prompts run one at a time from a queue.
 *
 * "Generating" is a stand-in with the properties that matter to a client:
 * the picture from the first LoadImage is inverted inside the mask the graph
 * loads (LoadImageMask with ComfyUI's channel rules, or LoadImage's MASK
 * output, 1 − alpha) and everywhere when it loads none; outside the mask the
 * pixels drift by a few levels, as a VAE round trip makes them; and the
 * result is cropped to multiples of 8, as the VAE does. Test-only node
 * classes: FailNode raises an execution error, SlowNode runs `steps` progress
 * steps of `stepMs` each until interrupted.
 */
import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { type WebSocket, WebSocketServer } from 'ws';
import { type NodeInfo, type ObjectInfo, type PromptNode, comboChoices, validatePrompt } from './comfyui-validate.ts';

interface Node {
  class_type: string;
  inputs: Record<string, unknown>;
}

/** Model folders and the loader inputs that list their files, as ComfyUI's folder_paths feeds them. */
export const FOLDER_INPUTS: Readonly<Record<string, readonly (readonly [string, string])[]>> = {
  diffusion_models: [['UNETLoader', 'unet_name']],
  text_encoders: [
    ['DualCLIPLoader', 'clip_name1'],
    ['DualCLIPLoader', 'clip_name2'],
    ['CLIPLoader', 'clip_name'],
  ],
  vae: [['VAELoader', 'vae_name']],
  loras: [
    ['LoraLoaderModelOnly', 'lora_name'],
    ['LoraLoader', 'lora_name'],
  ],
  checkpoints: [['CheckpointLoaderSimple', 'ckpt_name']],
};

/** Node classes only the fake has, for tests of failures and cancellation. */
const TEST_NODES: ObjectInfo = {
  FailNode: { input: { optional: { image: ['IMAGE'] } }, output: [], output_node: true },
  SlowNode: { input: { optional: { image: ['IMAGE'], steps: ['INT', { min: 1, max: 10_000 }], stepMs: ['INT', { min: 0, max: 60_000 }] } }, output: [], output_node: true },
};

export interface FakeComfyUIOptions {
  /** The /object_info to serve and validate against; without it graphs are not validated (only class_type is required). */
  readonly objectInfo?: ObjectInfo;
  /** Model files the server "has", by folder: they join the combo lists of the loaders reading that folder. */
  readonly models?: Partial<Record<keyof typeof FOLDER_INPUTS, readonly string[]>>;
  /** How long after execution_success the history is written (ComfyUI writes it after that message). */
  readonly historyDelayMs?: number;
  /** How long POST /prompt takes to answer; the prompt is queued before the answer, as in ComfyUI. */
  readonly promptDelayMs?: number;
  /** Milliseconds per sampler step unless a SlowNode says otherwise (default 2). */
  readonly stepMs?: number;
  /** Levels by which pixels outside the mask drift (a VAE round trip). */
  readonly driftLevels?: number;
}

export interface FakeComfyUI {
  readonly url: string;
  /** Prompts as submitted (placeholders filled), in order. */
  readonly prompts: Record<string, Node>[];
  /** The ids of submitted prompts, in order, as the client chose them or the server assigned them. */
  readonly promptIds: string[];
  /** How each prompt ended: "success", "error", "interrupted", "deleted". */
  readonly outcomes: Map<string, string>;
  readonly uploads: Map<string, Buffer>;
  readonly interrupts: unknown[];
  /** Bodies of POST /queue. */
  readonly queueRequests: unknown[];
  /** Milliseconds each prompt spent executing on the "GPU" (from dequeue to executing(null)), in order. */
  readonly executeMs: number[];
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function json(res: ServerResponse, status: number, v: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(v));
}

/** The dump with the fake's model files added to the loaders' combo lists, and the test-only classes. */
function serverInfo(info: ObjectInfo, models: FakeComfyUIOptions['models'] = {}): ObjectInfo {
  const out: Record<string, NodeInfo> = structuredClone(info) as Record<string, NodeInfo>;
  for (const [folder, files] of Object.entries(models)) {
    for (const [cls, input] of FOLDER_INPUTS[folder] ?? []) {
      const spec = out[cls]?.input.required?.[input] ?? out[cls]?.input.optional?.[input];
      const choices = spec ? comboChoices(spec) : undefined;
      if (choices) choices.push(...(files ?? []));
    }
  }
  return { ...out, ...TEST_NODES };
}

/** The mask a graph loads, as ComfyUI computes it: LoadImageMask by channel (alpha inverted; a missing band gives an empty mask), or LoadImage's MASK. */
async function loadedMask(prompt: Record<string, Node>, uploads: Map<string, Buffer>, width: number, height: number): Promise<Uint8Array | undefined> {
  const read = async (file: string, channel: string): Promise<Uint8Array> => {
    const png = uploads.get(file);
    if (!png) return new Uint8Array(width * height);
    const { data, info } = await sharp(png).resize(width, height, { fit: 'fill', kernel: 'nearest' }).raw().toBuffer({ resolveWithObject: true });
    const out = new Uint8Array(width * height);
    const band = { red: 0, green: 1, blue: 2, alpha: 3 }[channel] ?? 0;
    const hasAlpha = info.channels === 4 || info.channels === 2;
    const alphaBand = info.channels - 1;
    // ComfyUI converts a grey (or grey-and-alpha) picture to RGBA: red, green and blue are all the grey band.
    const colourBand = info.channels <= 2 ? 0 : band;
    for (let p = 0; p < out.length; p++) {
      if (band === 3) out[p] = hasAlpha ? 255 - data[p * info.channels + alphaBand]! : 0;
      else out[p] = data[p * info.channels + colourBand]!;
    }
    return out;
  };
  for (const node of Object.values(prompt)) {
    if (node.class_type === 'LoadImageMask') return read(String(node.inputs.image), String(node.inputs.channel ?? 'alpha'));
  }
  for (const [id, node] of Object.entries(prompt)) {
    if (node.class_type !== 'LoadImage') continue;
    const usesMask = Object.values(prompt).some((n) => Object.values(n.inputs ?? {}).some((v) => Array.isArray(v) && String(v[0]) === id && v[1] === 1));
    if (usesMask) return read(String(node.inputs.image), 'alpha');
  }
  return undefined;
}

export async function startFakeComfyUI(options: FakeComfyUIOptions = {}): Promise<FakeComfyUI> {
  const info = options.objectInfo ? serverInfo(options.objectInfo, options.models) : undefined;
  const drift = options.driftLevels ?? 6;
  const uploads = new Map<string, Buffer>();
  const outputs = new Map<string, Buffer>();
  const history: Record<string, unknown> = {};
  const prompts: Record<string, Node>[] = [];
  const promptIds: string[] = [];
  const outcomes = new Map<string, string>();
  const interrupts: unknown[] = [];
  const queueRequests: unknown[] = [];
  const executeMs: number[] = [];
  const clients = new Map<string, WebSocket>();
  const pending: { id: string; number: number; clientId: string; prompt: Record<string, Node> }[] = [];
  let running: { id: string; interrupted: boolean; prompt: Record<string, Node>; number: number } | undefined;

  const send = (clientId: string, type: string, data: Record<string, unknown>): void => {
    clients.get(clientId)?.send(JSON.stringify({ type, data }));
  };

  const generate = async (prompt: Record<string, Node>, image: Buffer): Promise<Buffer> => {
    const { data, info: meta } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const { width, height } = meta;
    const mask = await loadedMask(prompt, uploads, width, height);
    for (let p = 0; p < width * height; p++) {
      const inside = mask ? mask[p]! > 127 : true;
      for (let k = 0; k < 3; k++) {
        const i = p * 3 + k;
        data[i] = inside ? 255 - data[i]! : Math.min(255, data[i]! + drift);
      }
    }
    // The VAE works in 8-pixel blocks: the decoded picture loses the remainder.
    const w8 = Math.max(8, width - (width % 8));
    const h8 = Math.max(8, height - (height % 8));
    return sharp(data, { raw: { width, height, channels: 3 } }).extract({ left: 0, top: 0, width: Math.min(w8, width), height: Math.min(h8, height) }).png().toBuffer();
  };

  const execute = async (id: string, clientId: string, prompt: Record<string, Node>, number: number): Promise<void> => {
    running = { id, interrupted: false, prompt, number };
    const me = running;
    const started = performance.now();
    send(clientId, 'execution_start', { prompt_id: id, timestamp: Date.now() });
    // Binary preview frames are part of the real protocol; the client must ignore them.
    clients.get(clientId)?.send(Buffer.from([0, 0, 0, 1, 1, 2, 3]));
    try {
      const outs: Record<string, unknown> = {};
      let image: Buffer | undefined;
      for (const [nodeId, node] of Object.entries(prompt)) {
        send(clientId, 'executing', { node: nodeId, display_node: nodeId, prompt_id: id });
        if (node.class_type === 'LoadImage' && !image) {
          image = uploads.get(String(node.inputs.image));
          if (!image) throw Object.assign(new Error(`Invalid image file: ${String(node.inputs.image)}`), { nodeType: 'LoadImage', nodeId });
        } else if (node.class_type === 'FailNode') {
          throw Object.assign(new Error('Allocation on device 0 would exceed allowed memory. (out of memory)'), { nodeType: 'FailNode', nodeId });
        } else if (node.class_type === 'SlowNode' || node.class_type === 'KSampler') {
          const steps = Number(node.inputs.steps ?? 4);
          for (let s = 1; s <= steps; s++) {
            await new Promise((r) => setTimeout(r, Number(node.inputs.stepMs ?? options.stepMs ?? 2)));
            if (me.interrupted) {
              outcomes.set(id, 'interrupted');
              send(clientId, 'execution_interrupted', { prompt_id: id, node_id: nodeId, node_type: node.class_type, executed: [] });
              return;
            }
            send(clientId, 'progress', { value: s, max: steps, prompt_id: id, node: nodeId });
          }
        } else if (node.class_type === 'SaveImage' && image) {
          const png = await generate(prompt, image);
          const filename = `${String(node.inputs.filename_prefix ?? 'out')}_${id.slice(0, 8)}_${nodeId}.png`;
          outputs.set(filename, png);
          outs[nodeId] = { images: [{ filename, subfolder: '', type: 'output' }] };
          send(clientId, 'executed', { node: nodeId, display_node: nodeId, prompt_id: id, output: outs[nodeId] });
        }
      }
      send(clientId, 'execution_success', { prompt_id: id, timestamp: Date.now() });
      // ComfyUI stores the history after execution_success, then announces the end with executing(null).
      await new Promise((r) => setTimeout(r, options.historyDelayMs ?? 5));
      history[id] = { prompt: [number, id, prompt, {}, Object.keys(outs)], outputs: outs, status: { status_str: 'success', completed: true, messages: [] } };
      outcomes.set(id, 'success');
      send(clientId, 'executing', { node: null, prompt_id: id });
    } catch (err) {
      const e = err as Error & { nodeType?: string; nodeId?: string };
      outcomes.set(id, 'error');
      send(clientId, 'execution_error', {
        prompt_id: id,
        node_id: e.nodeId,
        node_type: e.nodeType,
        executed: [],
        exception_message: e.message,
        exception_type: 'RuntimeError',
        traceback: [],
      });
      send(clientId, 'executing', { node: null, prompt_id: id });
    } finally {
      executeMs.push(performance.now() - started);
      if (running === me) running = undefined;
    }
  };

  let pumping = false;
  const pump = async (): Promise<void> => {
    if (pumping) return;
    pumping = true;
    try {
      for (let next = pending.shift(); next; next = pending.shift()) await execute(next.id, next.clientId, next.prompt, next.number);
    } finally {
      pumping = false;
    }
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    void (async () => {
      if (req.method === 'GET' && url.pathname === '/system_stats') {
        return json(res, 200, { system: { os: 'posix', comfyui_version: 'fake', python_version: '3.12', embedded_python: false }, devices: [{ name: 'fake', type: 'cpu', vram_total: 0, vram_free: 0 }] });
      }
      if (req.method === 'GET' && url.pathname === '/object_info') return json(res, 200, info ?? {});
      const oi = /^\/object_info\/(.+)$/.exec(url.pathname);
      if (req.method === 'GET' && oi) {
        const cls = decodeURIComponent(oi[1]!);
        return json(res, 200, info?.[cls] ? { [cls]: info[cls] } : {});
      }
      if (req.method === 'GET' && url.pathname === '/queue') {
        const entry = (p: { number: number; id: string; prompt: unknown }) => [p.number, p.id, p.prompt, {}, []];
        return json(res, 200, { queue_running: running ? [entry(running)] : [], queue_pending: pending.map(entry) });
      }
      if (req.method === 'POST' && url.pathname === '/upload/image') {
        const form = await new Response(await body(req), { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
        const file = form.get('image');
        if (!(file instanceof Blob)) return json(res, 400, { error: 'no image' });
        const name = (file as File).name;
        uploads.set(name, Buffer.from(await file.arrayBuffer()));
        return json(res, 200, { name, subfolder: '', type: String(form.get('type') ?? 'input') });
      }
      if (req.method === 'POST' && url.pathname === '/prompt') {
        const submitted = JSON.parse((await body(req)).toString()) as { prompt: Record<string, PromptNode>; client_id: string; prompt_id?: string };
        const { prompt, client_id } = submitted;
        if (info) {
          const failure = validatePrompt(prompt, info, (name) => uploads.has(name));
          if (failure) return json(res, 400, failure);
        } else {
          const bad = Object.entries(prompt).find(([, n]) => typeof n?.class_type !== 'string');
          if (bad) return json(res, 400, { error: { type: 'invalid_prompt', message: 'Cannot execute because a node is missing the class_type property.', details: `Node ID '#${bad[0]}'`, extra_info: {} }, node_errors: {} });
        }
        const graph = prompt as Record<string, Node>;
        prompts.push(graph);
        const id = submitted.prompt_id ?? randomUUID();
        promptIds.push(id);
        const number = prompts.length;
        pending.push({ id, number, clientId: client_id, prompt: graph });
        setTimeout(() => void pump(), 1);
        if (options.promptDelayMs) await new Promise((r) => setTimeout(r, options.promptDelayMs));
        return json(res, 200, { prompt_id: id, number, node_errors: {} });
      }
      const h = /^\/history\/(.+)$/.exec(url.pathname);
      if (req.method === 'GET' && h) return json(res, 200, history[h[1]!] ? { [h[1]!]: history[h[1]!] } : {});
      if (req.method === 'GET' && url.pathname === '/view') {
        const png = outputs.get(url.searchParams.get('filename') ?? '');
        if (!png) return json(res, 404, { error: 'not found' });
        res.writeHead(200, { 'content-type': 'image/png' });
        return res.end(png);
      }
      if (req.method === 'POST' && url.pathname === '/interrupt') {
        const b = (await body(req)).toString();
        const parsed = (b ? JSON.parse(b) : {}) as { prompt_id?: string };
        interrupts.push(parsed);
        // With a prompt_id, only that prompt is interrupted (ComfyUI ignores the request when another one runs).
        if (running && (!parsed.prompt_id || parsed.prompt_id === running.id)) running.interrupted = true;
        return json(res, 200, {});
      }
      if (req.method === 'POST' && url.pathname === '/queue') {
        const b = JSON.parse((await body(req)).toString() || '{}') as { delete?: string[]; clear?: boolean };
        queueRequests.push(b);
        for (const id of b.delete ?? []) {
          const at = pending.findIndex((p) => p.id === id);
          if (at >= 0) {
            pending.splice(at, 1);
            outcomes.set(id, 'deleted');
          }
        }
        if (b.clear) for (const p of pending.splice(0)) outcomes.set(p.id, 'deleted');
        return json(res, 200, {});
      }
      json(res, 404, { error: 'no route' });
    })().catch((err: unknown) => json(res, 500, { error: String(err) }));
  });

  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (url.pathname !== '/ws') return socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => {
      const clientId = url.searchParams.get('clientId') ?? randomUUID();
      clients.set(clientId, ws);
      ws.on('close', () => clients.delete(clientId));
      ws.send(JSON.stringify({ type: 'status', data: { status: { exec_info: { queue_remaining: pending.length } }, sid: clientId } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    prompts,
    promptIds,
    outcomes,
    uploads,
    interrupts,
    queueRequests,
    executeMs,
    async close() {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
