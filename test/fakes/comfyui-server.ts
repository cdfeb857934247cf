/**
 * A fake ComfyUI on 127.0.0.1: the routes a ComfyUI-backed brick uses
 * (upload, prompt, ws, history, view, interrupt, queue, system_stats), with
 * ComfyUI's message shapes. "Executing" a prompt inverts the image its
 * LoadImage node names; a node of class "FailNode" raises an execution error;
 * a "SlowNode" runs `steps` progress steps of `stepMs` each until interrupted.
 */
import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { type WebSocket, WebSocketServer } from 'ws';

interface Node {
  class_type: string;
  inputs: Record<string, unknown>;
}

export interface FakeComfyUI {
  readonly url: string;
  /** Prompts as submitted (placeholders filled), in order. */
  readonly prompts: Record<string, Node>[];
  readonly uploads: Map<string, Buffer>;
  readonly interrupts: unknown[];
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

export async function startFakeComfyUI(): Promise<FakeComfyUI> {
  const uploads = new Map<string, Buffer>();
  const outputs = new Map<string, Buffer>();
  const history: Record<string, unknown> = {};
  const prompts: Record<string, Node>[] = [];
  const interrupts: unknown[] = [];
  const clients = new Map<string, WebSocket>();
  let running: { id: string; interrupted: boolean } | undefined;

  const send = (clientId: string, type: string, data: Record<string, unknown>): void => {
    clients.get(clientId)?.send(JSON.stringify({ type, data }));
  };

  const execute = async (id: string, clientId: string, prompt: Record<string, Node>): Promise<void> => {
    running = { id, interrupted: false };
    const me = running;
    send(clientId, 'execution_start', { prompt_id: id });
    // Binary preview frames are part of the real protocol; the client must ignore them.
    clients.get(clientId)?.send(Buffer.from([0, 0, 0, 1, 1, 2, 3]));
    try {
      const outs: Record<string, unknown> = {};
      let image: Buffer | undefined;
      for (const [nodeId, node] of Object.entries(prompt)) {
        send(clientId, 'executing', { node: nodeId, prompt_id: id });
        if (node.class_type === 'LoadImage') {
          image = uploads.get(String(node.inputs.image));
          if (!image) throw Object.assign(new Error(`Invalid image file: ${String(node.inputs.image)}`), { nodeType: 'LoadImage', nodeId });
        } else if (node.class_type === 'FailNode') {
          throw Object.assign(new Error('Allocation on device 0 would exceed allowed memory. (out of memory)'), { nodeType: 'FailNode', nodeId });
        } else if (node.class_type === 'SlowNode' || node.class_type === 'KSampler') {
          const steps = Number(node.inputs.steps ?? 4);
          for (let s = 1; s <= steps; s++) {
            await new Promise((r) => setTimeout(r, Number(node.inputs.stepMs ?? 10)));
            if (me.interrupted) {
              send(clientId, 'execution_interrupted', { prompt_id: id, node_id: nodeId, node_type: node.class_type, executed: [] });
              return;
            }
            send(clientId, 'progress', { value: s, max: steps, prompt_id: id, node: nodeId });
          }
        } else if (node.class_type === 'SaveImage' && image) {
          const { data, info } = await sharp(image).raw().toBuffer({ resolveWithObject: true });
          for (let i = 0; i < data.length; i++) data[i] = 255 - data[i]!;
          const png = await sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } }).png().toBuffer();
          const filename = `${String(node.inputs.filename_prefix ?? 'out')}_${id.slice(0, 8)}.png`;
          outputs.set(filename, png);
          outs[nodeId] = { images: [{ filename, subfolder: '', type: 'output' }] };
          send(clientId, 'executed', { node: nodeId, prompt_id: id, output: outs[nodeId] });
        }
      }
      history[id] = { prompt: [0, id, prompt, {}, Object.keys(outs)], outputs: outs, status: { status_str: 'success', completed: true, messages: [] } };
      send(clientId, 'execution_success', { prompt_id: id, timestamp: Date.now() });
      send(clientId, 'executing', { node: null, prompt_id: id });
    } catch (err) {
      const e = err as Error & { nodeType?: string; nodeId?: string };
      send(clientId, 'execution_error', {
        prompt_id: id,
        node_id: e.nodeId,
        node_type: e.nodeType,
        executed: [],
        exception_message: e.message,
        exception_type: 'RuntimeError',
        traceback: [],
      });
    } finally {
      if (running === me) running = undefined;
    }
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    void (async () => {
      if (req.method === 'GET' && url.pathname === '/system_stats') return json(res, 200, { system: { os: 'fake' }, devices: [] });
      if (req.method === 'POST' && url.pathname === '/upload/image') {
        const form = await new Response(await body(req), { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
        const file = form.get('image');
        if (!(file instanceof Blob)) return json(res, 400, { error: 'no image' });
        const name = (file as File).name;
        uploads.set(name, Buffer.from(await file.arrayBuffer()));
        return json(res, 200, { name, subfolder: '', type: String(form.get('type') ?? 'input') });
      }
      if (req.method === 'POST' && url.pathname === '/prompt') {
        const { prompt, client_id } = JSON.parse((await body(req)).toString()) as { prompt: Record<string, Node>; client_id: string };
        const bad = Object.entries(prompt).find(([, n]) => typeof n?.class_type !== 'string');
        if (bad) return json(res, 400, { error: { type: 'invalid_prompt', message: 'Cannot execute because a node is missing the class_type property.', details: `Node ID '#${bad[0]}'` }, node_errors: {} });
        prompts.push(prompt);
        const id = randomUUID();
        json(res, 200, { prompt_id: id, number: prompts.length, node_errors: {} });
        setTimeout(() => void execute(id, client_id, prompt), 5);
        return;
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
        interrupts.push(b ? JSON.parse(b) : {});
        if (running) running.interrupted = true;
        return json(res, 200, {});
      }
      if (req.method === 'POST' && url.pathname === '/queue') {
        await body(req);
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
      ws.send(JSON.stringify({ type: 'status', data: { status: { exec_info: { queue_remaining: 0 } }, sid: clientId } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    prompts,
    uploads,
    interrupts,
    async close() {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
