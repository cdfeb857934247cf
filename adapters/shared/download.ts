/**
 * Attachment downloads with a size cap checked before (the platform's declared
 * size) and during (bytes actually received) the transfer, and only from the
 * platform's own file endpoints, so a crafted message cannot make the bot fetch
 * arbitrary URLs or buffer an unbounded body.
 */
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
  const target = new URL(url);
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
