/** Request-body helpers shared by the fake platform servers. */
import type { IncomingMessage } from 'node:http';

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
