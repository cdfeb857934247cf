/**
 * How brick inputs and outputs cross a process boundary. Pixels travel
 * losslessly (PNG, or raw bytes with a shape header), each blob with its
 * sha256, which the receiver checks before decoding. A JSON header describes
 * the values; blobs travel beside it (in one HTTP body, or as Redis keys), so
 * nothing is base64-inflated.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import type { ImageData, MaskData, Value } from '../../engine/values.ts';
import { makeImage, makeMask } from '../../engine/values.ts';
import { PayloadIntegrityError, PayloadTooLargeError, WireFormatError } from './errors.ts';

export type PixelEncoding = 'png' | 'raw';

export type WireValue =
  | { readonly type: 'Str'; readonly value: string }
  | { readonly type: 'Float'; readonly value: number }
  | { readonly type: 'Null' }
  | {
      readonly type: 'Image' | 'Mask';
      readonly width: number;
      readonly height: number;
      readonly channels: 1 | 3 | 4;
      readonly encoding: PixelEncoding;
      readonly bytes: number;
      readonly sha256: string;
      /** Index into the blob list that travels with the header. */
      readonly blob: number;
    };

export type WireValues = Record<string, WireValue>;

export interface EncodedValues {
  readonly header: WireValues;
  readonly blobs: Buffer[];
}

export interface WireLimits {
  /** Largest total of blob bytes in one request or response. */
  readonly maxBytes: number;
  /** Largest width × height accepted when decoding. */
  readonly maxPixels?: number;
}

export function sha256(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

async function encodePixels(v: ImageData | MaskData, encoding: PixelEncoding): Promise<Buffer> {
  const channels = v.kind === 'image' ? v.channels : 1;
  if (encoding === 'raw') return Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength);
  // Level 1: most of PNG's size win for a fraction of level 6's time; pixels are identical either way.
  const img = sharp(v.data, { raw: { width: v.width, height: v.height, channels } });
  // Without an explicit colourspace sharp writes one-channel input as an RGB PNG, which no longer reads back as a mask.
  return (channels === 1 ? img.toColourspace('b-w') : img).png({ compressionLevel: 1 }).toBuffer();
}

export async function encodeValues(values: Record<string, Value | null | undefined>, encoding: PixelEncoding, limits: WireLimits): Promise<EncodedValues> {
  const header: Record<string, WireValue> = {};
  const blobs: Buffer[] = [];
  let total = 0;
  for (const [name, v] of Object.entries(values)) {
    if (v === null || v === undefined) header[name] = { type: 'Null' };
    else if (typeof v === 'string') header[name] = { type: 'Str', value: v };
    else if (typeof v === 'number') header[name] = { type: 'Float', value: v };
    else {
      const buf = await encodePixels(v, encoding);
      total += buf.byteLength;
      if (total > limits.maxBytes) throw new PayloadTooLargeError(total, limits.maxBytes);
      header[name] = {
        type: v.kind === 'image' ? 'Image' : 'Mask',
        width: v.width,
        height: v.height,
        channels: v.kind === 'image' ? v.channels : 1,
        encoding,
        bytes: buf.byteLength,
        sha256: sha256(buf),
        blob: blobs.length,
      };
      blobs.push(buf);
    }
  }
  return { header, blobs };
}

/** The blobs a header refers to, by index, with their hashes: what a blob store must hold. */
export function blobRefs(header: WireValues): { index: number; sha256: string; bytes: number }[] {
  const refs: { index: number; sha256: string; bytes: number }[] = [];
  for (const v of Object.values(header)) if (v.type === 'Image' || v.type === 'Mask') refs.push({ index: v.blob, sha256: v.sha256, bytes: v.bytes });
  return refs.sort((a, b) => a.index - b.index);
}

export async function decodeValues(header: unknown, blobs: readonly Buffer[], limits: WireLimits): Promise<Record<string, Value | null>> {
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new WireFormatError('value header is not an object');
  const total = blobs.reduce((n, b) => n + b.byteLength, 0);
  if (total > limits.maxBytes) throw new PayloadTooLargeError(total, limits.maxBytes);
  const out: Record<string, Value | null> = {};
  for (const [name, raw] of Object.entries(header as Record<string, WireValue>)) {
    switch (raw?.type) {
      case 'Null':
        out[name] = null;
        break;
      case 'Str':
        if (typeof raw.value !== 'string') throw new WireFormatError(`${name}: Str value is not a string`);
        out[name] = raw.value;
        break;
      case 'Float':
        if (typeof raw.value !== 'number' || !Number.isFinite(raw.value)) throw new WireFormatError(`${name}: Float value is not a finite number`);
        out[name] = raw.value;
        break;
      case 'Image':
      case 'Mask':
        out[name] = await decodePixels(name, raw, blobs, limits);
        break;
      default:
        throw new WireFormatError(`${name}: unknown value type ${JSON.stringify((raw as { type?: unknown })?.type)}`);
    }
  }
  return out;
}

async function decodePixels(name: string, v: Extract<WireValue, { type: 'Image' | 'Mask' }>, blobs: readonly Buffer[], limits: WireLimits): Promise<ImageData | MaskData> {
  const { width, height, channels } = v;
  if (![width, height].every((n) => Number.isInteger(n) && n > 0)) throw new WireFormatError(`${name}: bad size ${width}x${height}`);
  if (v.type === 'Mask' ? channels !== 1 : channels !== 3 && channels !== 4) throw new WireFormatError(`${name}: ${v.type} with ${channels} channels`);
  if (limits.maxPixels !== undefined && width * height > limits.maxPixels) throw new PayloadTooLargeError(width * height, limits.maxPixels);
  const buf = blobs[v.blob];
  if (!buf) throw new WireFormatError(`${name}: blob ${v.blob} is missing`);
  if (buf.byteLength !== v.bytes || sha256(buf) !== v.sha256) throw new PayloadIntegrityError(name);
  let pixels: Uint8Array;
  if (v.encoding === 'raw') {
    pixels = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } else if (v.encoding === 'png') {
    const png = sharp(buf, { limitInputPixels: limits.maxPixels ?? 268_402_689 });
    // sharp reads a grey PNG back as three channels unless told otherwise; for grey pixels the conversion is exact.
    const { data, info } = await (v.type === 'Mask' ? png.toColourspace('b-w') : png).raw().toBuffer({ resolveWithObject: true });
    if (info.width !== width || info.height !== height || info.channels !== channels) {
      throw new WireFormatError(`${name}: PNG holds ${info.width}x${info.height}x${info.channels}, header says ${width}x${height}x${channels}`);
    }
    pixels = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } else {
    throw new WireFormatError(`${name}: unknown encoding ${JSON.stringify(v.encoding)}`);
  }
  if (pixels.byteLength !== width * height * channels) throw new WireFormatError(`${name}: ${pixels.byteLength} bytes for ${width}x${height}x${channels}`);
  // Copy out of the shared buffer so a brick may keep or mutate it freely.
  const own = new Uint8Array(pixels);
  return v.type === 'Mask' ? makeMask(width, height, own) : makeImage(width, height, channels as 3 | 4, own);
}

/*
 * Framing for one HTTP body: "LEB1", u32 header length, JSON header (with
 * blobLengths), then the blobs back to back.
 */
const MAGIC = Buffer.from('LEB1');

export function packFrame(json: Record<string, unknown>, blobs: readonly Buffer[]): Buffer {
  const head = Buffer.from(JSON.stringify({ ...json, blobLengths: blobs.map((b) => b.byteLength) }), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(head.byteLength);
  return Buffer.concat([MAGIC, len, head, ...blobs]);
}

export function unpackFrame(buf: Buffer): { json: Record<string, unknown>; blobs: Buffer[] } {
  if (buf.byteLength < 8 || !buf.subarray(0, 4).equals(MAGIC)) throw new WireFormatError('not a lego-edit frame');
  const headLen = buf.readUInt32BE(4);
  if (8 + headLen > buf.byteLength) throw new WireFormatError('frame header is truncated');
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(buf.subarray(8, 8 + headLen).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new WireFormatError('frame header is not JSON');
  }
  const lengths = json.blobLengths;
  if (!Array.isArray(lengths) || !lengths.every((n) => Number.isInteger(n) && n >= 0)) throw new WireFormatError('frame has no blob lengths');
  const blobs: Buffer[] = [];
  let at = 8 + headLen;
  for (const n of lengths as number[]) {
    if (at + n > buf.byteLength) throw new WireFormatError('frame blobs are truncated');
    blobs.push(buf.subarray(at, at + n));
    at += n;
  }
  if (at !== buf.byteLength) throw new WireFormatError('frame has trailing bytes');
  return { json, blobs };
}

/*
 * A streamed HTTP response is a sequence of records: one kind byte
 * (P progress JSON, R result frame, E error JSON), a u32 length, the payload.
 */
export type RecordKind = 'P' | 'R' | 'E';

export function packRecord(kind: RecordKind, payload: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(kind, 0, 'latin1');
  head.writeUInt32BE(payload.byteLength, 1);
  return Buffer.concat([head, payload]);
}

/** Reads records from a byte stream as they arrive; refuses any record over `maxBytes`. Chunks are joined once per record, not once per chunk. */
export async function* readRecords(stream: AsyncIterable<Uint8Array>, maxBytes: number): AsyncGenerator<{ kind: RecordKind; payload: Buffer }> {
  let chunks: Buffer[] = [];
  let total = 0;
  let need = 5;
  let kind: RecordKind | undefined;
  for await (const chunk of stream) {
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    total += chunk.byteLength;
    while (total >= need) {
      const joined = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
      chunks = [joined];
      if (kind === undefined) {
        const k = joined.toString('latin1', 0, 1);
        const len = joined.readUInt32BE(1);
        if (k !== 'P' && k !== 'R' && k !== 'E') throw new WireFormatError(`unknown record kind ${JSON.stringify(k)}`);
        if (len > maxBytes + 1024 * 1024) throw new PayloadTooLargeError(len, maxBytes);
        kind = k;
        need = 5 + len;
        continue;
      }
      yield { kind, payload: joined.subarray(5, need) };
      const rest = joined.subarray(need);
      chunks = rest.byteLength ? [rest] : [];
      total = rest.byteLength;
      kind = undefined;
      need = 5;
    }
  }
  if (total) throw new WireFormatError('response ended inside a record');
}
