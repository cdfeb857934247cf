/** The bot's side of the HTTP worker API: one brick per request, progress streamed back. */
import type { Logger } from 'pino';
import { CancelledError, LegoEditError, errorMessage } from '../../engine/errors.ts';
import type { Value } from '../../engine/values.ts';
import {
  PayloadTooLargeError,
  UnknownRemoteBrickError,
  WireFormatError,
  WorkerAuthError,
  WorkerUnavailableError,
  fromWireError,
  isWireError,
} from '../protocol/errors.ts';
import { type BrickTransport, type CallOptions, type ServedBrick, receivedWarnings } from './transport.ts';
import { type PixelEncoding, decodeValues, encodeValues, packFrame, readRecords, unpackFrame } from '../protocol/wire.ts';

export interface HttpTransportOptions {
  readonly url: string;
  readonly token: string;
  readonly maxPayloadBytes: number;
  readonly maxPixels?: number;
  readonly encoding: PixelEncoding;
  /** Longest wait for the worker to answer the request at all (not the brick's run time). */
  readonly connectTimeoutMs?: number;
  /** Extra attempts when the worker cannot be reached or the payload arrived damaged. */
  readonly retries?: number;
  readonly logger: Logger;
}

export class HttpTransport implements BrickTransport {
  readonly kind = 'http';
  readonly target: string;
  readonly #opts: HttpTransportOptions;
  readonly #base: string;

  constructor(opts: HttpTransportOptions) {
    this.#opts = opts;
    this.#base = opts.url.replace(/\/+$/, '');
    const u = new URL(this.#base);
    // Credentials in the URL stay out of status lines and logs.
    this.target = `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  }

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.#opts.token}`, ...extra };
  }

  async served(signal?: AbortSignal): Promise<ServedBrick[]> {
    const res = await this.#fetch('/v1/bricks', { method: 'GET', headers: this.#headers(), signal: signal ?? AbortSignal.timeout(this.#opts.connectTimeoutMs ?? 10_000) });
    if (res.status === 401) throw new WorkerAuthError();
    if (!res.ok) throw new WorkerUnavailableError(`The GPU worker at ${this.target} answered ${res.status}.`);
    const body = (await res.json()) as { bricks?: ServedBrick[] };
    return body.bricks ?? [];
  }

  async #fetch(path: string, init: RequestInit & { signal: AbortSignal }): Promise<Response> {
    try {
      return await fetch(`${this.#base}${path}`, init);
    } catch (err) {
      if (init.signal.aborted) throw init.signal.reason instanceof LegoEditError ? init.signal.reason : new CancelledError();
      const cause = (err as { cause?: { code?: string } }).cause;
      throw new WorkerUnavailableError(`The GPU worker at ${this.target} cannot be reached (${cause?.code ?? errorMessage(err)}).`, { cause: err });
    }
  }

  async call(brick: string, inputs: Record<string, Value | null>, options: CallOptions): Promise<Record<string, Value>> {
    const limits = { maxBytes: this.#opts.maxPayloadBytes, ...(this.#opts.maxPixels !== undefined ? { maxPixels: this.#opts.maxPixels } : {}) };
    const { header, blobs } = await encodeValues(inputs, this.#opts.encoding, limits);
    const body = packFrame({ inputs: header, encoding: this.#opts.encoding, ...(options.resample ? { resample: true } : {}) }, blobs);
    const retries = this.#opts.retries ?? 2;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#callOnce(brick, body, limits, options);
      } catch (err) {
        const again = err instanceof LegoEditError && err.retryable && (err instanceof WorkerUnavailableError || err.code === 'payload-integrity');
        if (!again || attempt >= retries || options.signal.aborted) throw err;
        this.#opts.logger.warn({ brick, attempt: attempt + 1, err: errorMessage(err) }, 'remote call failed; retrying');
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
  }

  async #callOnce(brick: string, body: Buffer, limits: { maxBytes: number; maxPixels?: number }, options: CallOptions): Promise<Record<string, Value>> {
    const local = new AbortController();
    const signal = AbortSignal.any([options.signal, local.signal]);
    // Bounded wait for the response headers; the brick's own run time is bounded by the executor's step timeout.
    const connectTimer = setTimeout(() => local.abort(new WorkerUnavailableError(`The GPU worker at ${this.target} did not answer in time.`)), this.#opts.connectTimeoutMs ?? 15_000);
    let res: Response;
    try {
      res = await this.#fetch(`/v1/bricks/${encodeURIComponent(brick)}/run`, {
        method: 'POST',
        headers: this.#headers({ 'content-type': 'application/x-lego-edit-frame' }),
        body,
        signal,
      });
    } finally {
      clearTimeout(connectTimer);
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      let wire: unknown;
      try {
        wire = JSON.parse(text);
      } catch {
        wire = undefined;
      }
      if (res.status === 401) throw new WorkerAuthError();
      if (res.status === 404) throw new UnknownRemoteBrickError(brick, `The GPU worker at ${this.target}`);
      if (res.status === 413) throw new PayloadTooLargeError(body.byteLength, this.#opts.maxPayloadBytes);
      if (isWireError(wire)) throw fromWireError(brick, wire);
      throw new WorkerUnavailableError(`The GPU worker at ${this.target} answered ${res.status}.`, { retryable: res.status >= 500 });
    }
    if (!res.body) throw new WireFormatError('the worker sent no body');
    try {
      for await (const rec of readRecords(res.body as AsyncIterable<Uint8Array>, this.#opts.maxPayloadBytes)) {
        if (rec.kind === 'P') options.onProgress?.(JSON.parse(rec.payload.toString('utf8')) as { fraction?: number; message?: string });
        else if (rec.kind === 'E') {
          const wire: unknown = JSON.parse(rec.payload.toString('utf8'));
          throw isWireError(wire) ? fromWireError(brick, wire) : new WireFormatError('the worker sent a malformed error');
        } else {
          const { json, blobs } = unpackFrame(rec.payload);
          const outputs = (await decodeValues(json.outputs, blobs, limits)) as Record<string, Value>;
          for (const w of receivedWarnings(json.warnings)) options.onWarning?.(w);
          return outputs;
        }
      }
    } catch (err) {
      if (signal.aborted) throw options.signal.aborted ? new CancelledError() : local.signal.reason;
      if (err instanceof LegoEditError) throw err;
      throw new WorkerUnavailableError(`The connection to the GPU worker at ${this.target} broke mid-call (${errorMessage(err)}).`, { cause: err });
    }
    throw new WorkerUnavailableError(`The GPU worker at ${this.target} closed the call without a result.`);
  }

  async close(): Promise<void> {}
}
