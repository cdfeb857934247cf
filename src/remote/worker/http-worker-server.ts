/**
 * The worker's HTTP API: a shared-secret bearer token guards every route but
 * /v1/health. POST /v1/bricks/:name/run takes one framed request and streams
 * records back (progress, then a result or an error), so chat progress works
 * for remote steps; a client that disconnects cancels its brick.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { AnyBrick, BrickProgress } from '../../engine/brick.ts';
import { errorMessage } from '../../engine/errors.ts';
import type { BrickPool } from '../../engine/pool/brick-pool.ts';
import { describeServed, runServedBrick } from './brick-runner.ts';
import { PayloadTooLargeError, WireFormatError, toWireError } from '../protocol/errors.ts';
import { type PixelEncoding, decodeValues, encodeValues, packFrame, packRecord, unpackFrame } from '../protocol/wire.ts';

export interface HttpWorkerServerOptions {
  readonly bricks: readonly AnyBrick[];
  /** Threads for the CPU-heavy bricks, so one request's inference does not hold up the others. */
  readonly pool?: BrickPool;
  /** Shared secret; requests must carry `Authorization: Bearer <token>`. */
  readonly token: string;
  /** Largest request body, and largest result payload. */
  readonly maxPayloadBytes: number;
  readonly maxPixels?: number;
  /** Longest one brick may run. */
  readonly jobTimeoutMs: number;
  readonly encoding: PixelEncoding;
  readonly logger: Logger;
}

export interface HttpWorkerServer {
  readonly server: Server;
  /** Starts listening; resolves with the base URL (port 0 picks a free one). */
  listen(port: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...extra });
  res.end(text);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.byteLength;
      // Past the limit, keep draining without storing, so the client can read the 413.
      if (size > limit) {
        chunks.length = 0;
        reject(new PayloadTooLargeError(size, limit));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function createHttpWorkerServer(opts: HttpWorkerServerOptions): HttpWorkerServer {
  if (!opts.token) throw new Error('the HTTP worker needs a token (LEGO_EDIT_WORKER_TOKEN)');
  const tokenDigest = digest(opts.token);
  const bricks = new Map(opts.bricks.map((b) => [b.name.toUpperCase(), b]));
  const log = opts.logger;
  const limits = { maxBytes: opts.maxPayloadBytes, ...(opts.maxPixels !== undefined ? { maxPixels: opts.maxPixels } : {}) };
  // Frame headers are small; allow them on top of the pixel budget.
  const bodyLimit = opts.maxPayloadBytes + 256 * 1024;

  const authorised = (req: IncomingMessage): boolean => {
    const h = req.headers.authorization ?? '';
    const m = /^Bearer (.+)$/.exec(h);
    // Compare digests so the comparison is constant-time whatever the lengths.
    return m !== null && timingSafeEqual(digest(m[1]!), tokenDigest);
  };

  const handleRun = async (req: IncomingMessage, res: ServerResponse, brick: AnyBrick): Promise<void> => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > bodyLimit) {
      sendJson(res, 413, toWireError(new PayloadTooLargeError(declared, opts.maxPayloadBytes)), { connection: 'close' });
      req.resume();
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(req, bodyLimit);
    } catch (err) {
      sendJson(res, 413, toWireError(err), { connection: 'close' });
      return;
    }
    let inputs;
    let encoding = opts.encoding;
    let resample: boolean;
    try {
      const { json, blobs } = unpackFrame(body);
      // Answer in the caller's encoding: it knows whether its link favours size (png) or speed (raw).
      if (json.encoding === 'png' || json.encoding === 'raw') encoding = json.encoding;
      resample = json.resample === true;
      inputs = await decodeValues(json.inputs, blobs, limits);
    } catch (err) {
      const wire = toWireError(err instanceof Error && !(err as { code?: unknown }).code ? new WireFormatError(errorMessage(err)) : err);
      sendJson(res, wire.code === 'payload-too-large' ? 413 : 400, wire);
      return;
    }
    // From here the response streams; a dropped connection aborts the brick.
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    res.writeHead(200, { 'content-type': 'application/x-lego-edit-records', 'cache-control': 'no-store' });
    const started = performance.now();
    const onProgress = (p: BrickProgress): void => {
      if (!res.writableEnded) res.write(packRecord('P', Buffer.from(JSON.stringify(p))));
    };
    try {
      const { outputs, warnings } = await runServedBrick(brick, inputs, {
        signal: controller.signal,
        onProgress,
        logger: log.child({ brick: brick.name }),
        timeoutMs: opts.jobTimeoutMs,
        ...(resample ? { resample: true } : {}),
        ...(opts.pool ? { pool: opts.pool } : {}),
      });
      const { header, blobs } = await encodeValues(outputs, encoding, limits);
      // Warnings ride in the result frame's JSON, which callers that predate them read past.
      res.end(packRecord('R', packFrame({ outputs: header, ...(warnings.length ? { warnings } : {}) }, blobs)));
      log.info({ brick: brick.name, ms: Math.round(performance.now() - started) }, 'brick served');
    } catch (err) {
      const wire = toWireError(err);
      log.warn({ brick: brick.name, code: wire.code, err: wire.message }, 'brick failed');
      if (!res.writableEnded) res.end(packRecord('E', Buffer.from(JSON.stringify(wire))));
    }
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://worker');
    if (req.method === 'GET' && url.pathname === '/v1/health') return sendJson(res, 200, { ok: true });
    if (!authorised(req)) {
      req.resume();
      return sendJson(res, 401, { code: 'unauthorised', message: 'missing or wrong bearer token', retryable: false }, { 'www-authenticate': 'Bearer' });
    }
    if (req.method === 'GET' && url.pathname === '/v1/bricks') {
      void Promise.all([...bricks.values()].map(describeServed)).then(
        (served) => sendJson(res, 200, { bricks: served }),
        (err: unknown) => sendJson(res, 500, toWireError(err)),
      );
      return;
    }
    const m = /^\/v1\/bricks\/([^/]+)\/run$/.exec(url.pathname);
    if (req.method === 'POST' && m) {
      const name = decodeURIComponent(m[1]!).toUpperCase();
      const brick = bricks.get(name);
      if (!brick) {
        req.resume();
        return sendJson(res, 404, { code: 'unknown-brick', message: `this worker does not serve ${name}`, retryable: false, planFixable: true });
      }
      handleRun(req, res, brick).catch((err: unknown) => {
        log.error({ err: errorMessage(err) }, 'request handler failed');
        if (!res.headersSent) sendJson(res, 500, toWireError(err));
        else res.destroy();
      });
      return;
    }
    req.resume();
    sendJson(res, 404, { code: 'not-found', message: 'no such route', retryable: false });
  });
  // Bounded: a stalled client cannot hold a request open forever.
  server.requestTimeout = opts.jobTimeoutMs + 60_000;
  server.headersTimeout = 30_000;

  return {
    server,
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const a = server.address() as AddressInfo;
          resolve(`http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`);
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
