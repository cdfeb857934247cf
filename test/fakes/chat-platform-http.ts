/** Request-body and file-serving helpers shared by the fake platform servers. */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface UploadedFile {
  readonly field: string;
  readonly name: string;
  readonly type: string;
  readonly bytes: Buffer;
}

export interface ParsedBody {
  /** Plain fields; JSON bodies are returned as parsed. */
  readonly fields: Record<string, unknown>;
  readonly files: UploadedFile[];
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Parses JSON, urlencoded or multipart bodies. Multipart goes through the WHATWG
 * Request parser built into Node, so the fakes accept exactly what a standards-
 * conforming server would instead of a home-grown approximation.
 */
export async function parseBody(req: IncomingMessage, raw?: Buffer): Promise<ParsedBody> {
  const body = raw ?? (await readBody(req));
  const type = req.headers['content-type'] ?? '';
  if (body.length === 0) return { fields: {}, files: [] };
  if (type.includes('application/json')) return { fields: JSON.parse(body.toString('utf8')) as Record<string, unknown>, files: [] };
  if (type.includes('multipart/form-data') || type.includes('application/x-www-form-urlencoded')) {
    const form = await new Request('http://fake.invalid/', { method: 'POST', headers: { 'content-type': type }, body }).formData();
    const fields: Record<string, unknown> = {};
    const files: UploadedFile[] = [];
    for (const [key, value] of form.entries()) {
      if (typeof value === 'string') fields[key] = value;
      else files.push({ field: key, name: value.name, type: value.type, bytes: Buffer.from(await value.arrayBuffer()) });
    }
    return { fields, files };
  }
  try {
    return { fields: JSON.parse(body.toString('utf8')) as Record<string, unknown>, files: [] };
  } catch {
    return { fields: { raw: body.toString('utf8') }, files: [] };
  }
}

/** Resolves when `predicate` holds, polling the recorded state; fails with `what` after `timeoutMs`. */
export async function waitUntil<T>(probe: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** One GET of a file body as a fake served it, so tests can tell a refused transfer from a completed one. */
export interface FileDownload {
  readonly path: string;
  /** Bytes the whole body has. */
  readonly size: number;
  readonly chunked: boolean;
  readonly at: number;
  /** Bytes handed to the socket so far (kernel buffers included, so more than the client read). */
  bytesSent: number;
  /** Whether the whole body went out; false when the client hung up part-way. */
  complete: boolean;
  /** Resolves once the response finished or the connection closed. */
  readonly done: Promise<void>;
}

const CHUNK = 64 * 1024;

/**
 * Serves a file body in pieces, honouring backpressure as a real file server does, so a
 * client that hangs up stops the transfer and the record shows it incomplete. `chunked`
 * leaves out the Content-Length, as a server that does not know the length up front.
 */
export function serveFile(res: ServerResponse, path: string, bytes: Buffer, options: { contentType: string; chunked?: boolean }): FileDownload {
  let settle!: () => void;
  const record: FileDownload = { path, size: bytes.length, chunked: Boolean(options.chunked), at: performance.now(), bytesSent: 0, complete: false, done: new Promise<void>((resolve) => (settle = resolve)) };
  let wake: (() => void) | undefined;
  res.on('drain', () => wake?.());
  res.once('finish', () => (record.complete = true));
  res.once('close', () => {
    wake?.();
    settle();
  });
  res.writeHead(200, { 'content-type': options.contentType, ...(options.chunked ? {} : { 'content-length': bytes.length }) });
  void (async () => {
    for (let at = 0; at < bytes.length && !res.destroyed; at += CHUNK) {
      const chunk = bytes.subarray(at, at + CHUNK);
      record.bytesSent += chunk.length;
      if (!res.write(chunk)) await new Promise<void>((resolve) => (wake = resolve));
    }
    if (!res.destroyed) res.end();
  })();
  return record;
}
