/**
 * Attachment downloads with a size cap checked before (the platform's declared
 * size) and during (bytes actually received) the transfer, and only from the
 * platform's own file endpoints, so a crafted message cannot make the bot fetch
 * arbitrary URLs or buffer an unbounded body.
 */
import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { sep } from 'node:path';
import { ImageTooLargeError, LegoEditError } from '../../src/engine/errors.ts';

export interface DownloadOptions {
  readonly maxBytes: number;
  /** Size the platform reported; refused before any byte is fetched when over the cap. */
  readonly declaredSize?: number;
  /** Origins (`scheme://host:port`) downloads may come from. */
  readonly allowedOrigins: readonly string[];
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export class DownloadError extends LegoEditError {
  constructor(detail: string, options: { cause?: unknown } = {}) {
    super('download-failed', `I couldn't fetch that file from the chat service (${detail}). Please send it again.`, { ...options, retryable: true });
  }
}

export function mb(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * Refuses a file whose platform-declared size is over the cap. Adapters call it
 * before any platform request about the file (Telegram's getFile fails outright
 * for big files), and downloadCapped calls it again before fetching.
 */
export function checkDeclaredSize(declaredSize: number | undefined, maxBytes: number): void {
  if (declaredSize !== undefined && declaredSize > maxBytes) throw new ImageTooLargeError(mb(declaredSize), mb(maxBytes));
}

export async function downloadCapped(url: string | URL, options: DownloadOptions): Promise<Buffer> {
  let target: URL;
  try {
    target = new URL(url);
  } catch (err) {
    throw new DownloadError('the link is not a valid address', { cause: err });
  }
  if (!options.allowedOrigins.includes(target.origin)) throw new DownloadError('the link does not point at the platform’s file service');
  checkDeclaredSize(options.declaredSize, options.maxBytes);
  // Aborted on refusal, which closes the connection: the rest of an oversized body is never transferred.
  const refuse = new AbortController();
  const signals = [AbortSignal.timeout(options.timeoutMs ?? 60_000), refuse.signal, ...(options.signal ? [options.signal] : [])];
  let response: Response;
  try {
    response = await fetch(target, { signal: AbortSignal.any(signals), redirect: 'error' });
  } catch (err) {
    throw new DownloadError((err as Error).name === 'TimeoutError' ? 'timed out' : 'network error', { cause: err });
  }
  if (!response.ok || !response.body) {
    refuse.abort();
    throw new DownloadError(`HTTP ${response.status}`);
  }
  const length = Number(response.headers.get('content-length') ?? NaN);
  if (Number.isFinite(length) && length > options.maxBytes) {
    refuse.abort();
    throw new ImageTooLargeError(mb(length), mb(options.maxBytes));
  }
  const chunks: Uint8Array[] = [];
  let received = 0;
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.byteLength;
      if (received > options.maxBytes) {
        refuse.abort();
        throw new ImageTooLargeError(`more than ${mb(options.maxBytes)}`, mb(options.maxBytes));
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof LegoEditError) throw err;
    throw new DownloadError('the transfer broke off', { cause: err });
  }
  return Buffer.concat(chunks);
}

export interface LocalReadOptions {
  /** The only directory files may be read from (a self-hosted Bot API server's --dir). */
  readonly root: string;
  readonly maxBytes: number;
  readonly declaredSize?: number;
}

/**
 * Reads a file a self-hosted platform server (Telegram's Bot API in --local mode) named by its path on
 * this machine, with the same cap as a download: only a regular file inside `root` once links are
 * resolved, so a crafted path cannot make the bot read anything else, and never more than the cap.
 */
export async function readLocalCapped(path: string, options: LocalReadOptions): Promise<Buffer> {
  checkDeclaredSize(options.declaredSize, options.maxBytes);
  let real: string;
  let root: string;
  try {
    [real, root] = await Promise.all([realpath(path), realpath(options.root)]);
  } catch (err) {
    throw new DownloadError('the file is not where the chat service said it is', { cause: err });
  }
  if (!real.startsWith(root.endsWith(sep) ? root : root + sep)) throw new DownloadError('the file lies outside the chat service’s file directory');
  // No following a link swapped in since realpath, and no blocking on a FIFO before the regular-file check.
  const handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((err: unknown) => {
    throw new DownloadError('the file could not be opened', { cause: err });
  });
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new DownloadError('that is not a file');
    if (stat.size > options.maxBytes) throw new ImageTooLargeError(mb(stat.size), mb(options.maxBytes));
    // Read to the end, not to the size stat saw: a file still being written must not slip past the cap.
    const chunks: Buffer[] = [];
    let received = 0;
    for (;;) {
      const chunk = Buffer.alloc(64 * 1024);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, received);
      if (bytesRead === 0) break;
      received += bytesRead;
      if (received > options.maxBytes) throw new ImageTooLargeError(`more than ${mb(options.maxBytes)}`, mb(options.maxBytes));
      chunks.push(chunk.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks);
  } finally {
    await handle.close();
  }
}
