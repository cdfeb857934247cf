/**
 * Retention: oldest-first pruning of stored images, per conversation and over
 * all of them, never touching an image that a current pointer, undo or redo
 * stack still needs.
 */
import type { BlobStore } from './blob-store.ts';
import type { SessionImages } from './session-images.ts';
import type { TurnStore } from './store/turn-store.ts';

export interface RetentionLimits {
  readonly maxImagesPerConversation: number;
  readonly maxBlobBytes: number;
}

export class Retention {
  readonly #store: TurnStore;
  readonly #blobs: BlobStore;
  readonly #images: SessionImages;
  readonly #limits: RetentionLimits;

  constructor(options: { store: TurnStore; blobs: BlobStore; images: SessionImages; limits: RetentionLimits }) {
    this.#store = options.store;
    this.#blobs = options.blobs;
    this.#images = options.images;
    this.#limits = options.limits;
  }

  /** Whether all stored images together are over the size limit. */
  get overLimit(): boolean {
    return this.#images.storedBytes > this.#limits.maxBlobBytes;
  }

  /** Oldest-first pruning of this conversation's images over its limit, then of all images over the total size limit. */
  async prune(convId: number): Promise<void> {
    const linked = await this.#store.conversationImages(convId);
    let excess = linked.length - this.#limits.maxImagesPerConversation;
    if (excess > 0) {
      const keep = await this.#store.protectedImages(convId);
      const drop: string[] = [];
      for (const sha of linked) {
        if (excess <= 0) break;
        if (keep.has(sha)) continue;
        drop.push(sha);
        excess--;
      }
      if (drop.length) {
        await this.#store.unlink(drop, convId);
        await this.#collect(drop);
      }
    }
    if (this.#images.storedBytes > this.#limits.maxBlobBytes) await this.#pruneGlobal();
  }

  async #pruneGlobal(): Promise<void> {
    const keep = await this.#store.protectedImages();
    const target = this.#limits.maxBlobBytes * 0.9;
    const candidates = await this.#store.allImages();
    let total = this.#images.storedBytes;
    const drop: string[] = [];
    for (const c of candidates) {
      if (total <= target) break;
      if (keep.has(c.sha)) continue;
      drop.push(c.sha);
      total -= c.bytes;
    }
    if (!drop.length) return;
    await this.#store.unlink(drop);
    await this.#collect(drop);
  }

  /** Deletes images no turn links any more: rows first, then bytes, so a crash leaves at worst an unreferenced file. */
  async #collect(shas: readonly string[]): Promise<void> {
    const gone = await this.#store.deleteUnlinked(shas);
    for (const g of gone) {
      this.#images.storedBytes -= g.bytes;
      await this.#blobs.delete(g.sha);
    }
  }
}
