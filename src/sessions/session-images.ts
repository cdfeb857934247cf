/**
 * The session's images: uploads checked and stored once (blob bytes plus an
 * `images` row), decoded images cached for follow-ups, masks, results read
 * back, and the running total of stored bytes that retention watches.
 */
import { LRUCache } from 'lru-cache';
import sharp from 'sharp';
import { decodeImage, decodeMask, type ImageLimits } from '../engine/image-io.ts';
import { type ImageData, isEmptyMask, type MaskData } from '../engine/values.ts';
import type { BlobStore } from './blob-store.ts';
import { SessionError } from './errors.ts';
import type { TurnStore } from './store/turn-store.ts';
import type { ResultImage } from './types.ts';

/** Images already stored were checked on the way in; reading them back applies no limits. */
const NO_LIMITS: ImageLimits = { maxBytes: Number.MAX_SAFE_INTEGER, maxPixels: Number.MAX_SAFE_INTEGER };

export class SessionImages {
  readonly #store: TurnStore;
  readonly #blobs: BlobStore;
  readonly #limits: ImageLimits;
  readonly #decoded: LRUCache<string, ImageData>;
  /** Bytes of every stored image, kept in step with the `images` table. */
  storedBytes = 0;

  constructor(options: { store: TurnStore; blobs: BlobStore; limits: ImageLimits; decodedCacheBytes: number }) {
    this.#store = options.store;
    this.#blobs = options.blobs;
    this.#limits = options.limits;
    this.#decoded = new LRUCache({ maxSize: options.decodedCacheBytes, sizeCalculation: (img) => Math.max(1, img.data.byteLength) });
  }

  /** Checks a user's photo against the limits, then stores it. */
  async storeUpload(bytes: Uint8Array): Promise<{ image: ImageData; sha: string }> {
    const image = await decodeImage(bytes, this.#limits);
    const sha = await this.#put(bytes, image.width, image.height);
    this.#decoded.set(sha, image);
    return { image, sha };
  }

  /**
   * What a second image sent with a photo is: a mask when it is black and white (the region to edit,
   * white = edit), else a reference photo (something to paste in). Checked, not stored, so a bad one stores nothing.
   */
  async readSecond(bytes: Uint8Array, role?: 'mask' | 'reference'): Promise<{ readonly mask: MaskData } | { readonly reference: ImageData }> {
    if (role === 'mask') return { mask: await this.readMask(bytes) };
    const image = await decodeImage(bytes, this.#limits);
    return role === 'reference' || !looksLikeMask(image) ? { reference: image } : { mask: await this.readMask(bytes) };
  }

  /** Stores a reference photo checked by `readSecond`. */
  async storeReference(bytes: Uint8Array, image: ImageData): Promise<string> {
    const sha = await this.#put(bytes, image.width, image.height);
    this.#decoded.set(sha, image);
    return sha;
  }

  /** Checks a user's mask (white = edit) without storing it, so a bad one stores nothing. */
  async readMask(bytes: Uint8Array): Promise<MaskData> {
    const mask = await decodeMask(bytes, this.#limits);
    if (isEmptyMask(mask)) throw new SessionError('empty-mask', 'The second image is taken as the mask of the region to edit (white = edit), but it is all black. Send a mask with the region painted white, or send just the photo.');
    return mask;
  }

  async storeMask(bytes: Uint8Array, mask: MaskData): Promise<string> {
    return this.#put(bytes, mask.width, mask.height);
  }

  /** Bytes already checked by a decode, into the blob store with their `images` row. */
  async #put(bytes: Uint8Array, width: number, height: number): Promise<string> {
    let format = 'unknown';
    try {
      format = (await sharp(bytes).metadata()).format ?? 'unknown';
    } catch {
      // A decode already read it; a format name is only a label.
    }
    const sha = await this.#blobs.put(bytes);
    await this.#record(sha, bytes.byteLength, width, height, format);
    return sha;
  }

  /** The user's mask of an earlier turn (input position 1), so a revision edits the same region. */
  async turnMask(turnId: number): Promise<{ mask: MaskData; sha: string } | undefined> {
    const input = await this.#turnInput(turnId, 1, 'The mask of that edit is no longer stored (it was pruned to save space). Send the photo and mask again.');
    return input && { mask: await decodeMask(input.bytes, NO_LIMITS), sha: input.sha };
  }

  /** The user's reference photo of an earlier turn (input position 2), so a revision pastes the same thing. */
  async turnReference(turnId: number): Promise<{ image: ImageData; sha: string } | undefined> {
    const input = await this.#turnInput(turnId, 2, 'The second photo of that edit is no longer stored (it was pruned to save space). Send both photos again.');
    return input && { image: await this.load(input.sha), sha: input.sha };
  }

  async #turnInput(turnId: number, position: number, gone: string): Promise<{ bytes: Buffer; sha: string } | undefined> {
    const sha = await this.#store.input(turnId, position);
    if (!sha) return undefined;
    const bytes = await this.#blobs.get(sha);
    if (!bytes) throw new SessionError('image-gone', gone);
    return { bytes, sha };
  }

  async load(sha: string): Promise<ImageData> {
    const cached = this.#decoded.get(sha);
    if (cached) return cached;
    const bytes = await this.#blobs.get(sha);
    if (!bytes) throw new SessionError('image-gone', 'That image is no longer stored (it was pruned to save space). Send the photo again.');
    const image = await decodeImage(bytes, NO_LIMITS);
    this.#decoded.set(sha, image);
    return image;
  }

  /** Keeps a result's pixels, so a follow-up on it skips the decode. */
  remember(sha: string, image: ImageData): void {
    if (!this.#decoded.has(sha)) this.#decoded.set(sha, image);
  }

  async result(sha: string): Promise<ResultImage | undefined> {
    const meta = await this.#store.image(sha);
    const bytes = await this.#blobs.get(sha);
    if (!meta || !bytes) return undefined;
    return { bytes, format: meta.format === 'jpeg' ? 'jpeg' : 'png', sha256: sha, width: meta.width, height: meta.height };
  }

  async #record(sha: string, size: number, width: number, height: number, format: string): Promise<void> {
    if (await this.#store.recordImage({ sha, bytes: size, width, height, format })) this.storedBytes += size;
  }
}

/**
 * Black-and-white enough to be a mask: nine in ten pixels grey and near black or near white. An image with
 * see-through parts is a cut-out (a sticker), never a mask, whatever colours its hidden pixels hold.
 */
export function looksLikeMask(img: ImageData): boolean {
  const c = img.channels;
  const n = img.width * img.height;
  if (c === 4) {
    let clear = 0;
    for (let i = 3; i < img.data.length; i += 4) if (img.data[i]! < 250) clear++;
    if (clear >= n * 0.01) return false;
  }
  let maskish = 0;
  for (let p = 0, i = 0; p < n; p++, i += c) {
    const r = img.data[i]!;
    const g = img.data[i + 1]!;
    const b = img.data[i + 2]!;
    if (Math.max(r, g, b) - Math.min(r, g, b) > 24) continue;
    const v = (r + g + b) / 3;
    if (v <= 48 || v >= 207) maskish++;
  }
  return maskish >= n * 0.9;
}

