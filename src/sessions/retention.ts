/**
 * Retention: oldest-first pruning of stored images, per conversation and over
 * all of them, never touching an image that a current pointer, undo or redo
 * stack still needs.
 */
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { conversations, images, turnImages, turns } from '../../db/schema.ts';
import type { BlobStore } from './blob-store.ts';
import type { SessionDb } from './database.ts';
import type { SessionImages } from './session-images.ts';

export interface RetentionLimits {
  readonly maxImagesPerConversation: number;
  readonly maxBlobBytes: number;
}

export class Retention {
  readonly #db: SessionDb;
  readonly #blobs: BlobStore;
  readonly #images: SessionImages;
  readonly #limits: RetentionLimits;

  constructor(options: { db: SessionDb; blobs: BlobStore; images: SessionImages; limits: RetentionLimits }) {
    this.#db = options.db;
    this.#blobs = options.blobs;
    this.#images = options.images;
    this.#limits = options.limits;
  }

  /** Whether all stored images together are over the size limit. */
  get overLimit(): boolean {
    return this.#images.storedBytes > this.#limits.maxBlobBytes;
  }

  /** Images the current pointer, undo or redo stack of any conversation (or one) needs. */
  async #protectedImages(convId?: number): Promise<Set<string>> {
    const rows = await this.#db
      .select({ current: conversations.current, undo: conversations.undoStack, redo: conversations.redoStack })
      .from(conversations)
      .where(convId !== undefined ? eq(conversations.id, convId) : undefined);
    const keep = new Set<string>();
    for (const r of rows) for (const s of [r.current, ...r.undo, ...r.redo]) if (s) keep.add(s.image);
    return keep;
  }

  /** Oldest-first pruning of this conversation's images over its limit, then of all images over the total size limit. */
  async prune(convId: number): Promise<void> {
    const linked = await this.#db
      .select({ sha: turnImages.imageSha, first: sql<number>`min(${turnImages.turnId})` })
      .from(turnImages)
      .innerJoin(turns, eq(turns.id, turnImages.turnId))
      .where(eq(turns.conversationId, convId))
      .groupBy(turnImages.imageSha)
      .orderBy(sql`min(${turnImages.turnId})`);
    let excess = linked.length - this.#limits.maxImagesPerConversation;
    if (excess > 0) {
      const keep = await this.#protectedImages(convId);
      const drop: string[] = [];
      for (const l of linked) {
        if (excess <= 0) break;
        if (keep.has(l.sha)) continue;
        drop.push(l.sha);
        excess--;
      }
      if (drop.length) {
        await this.#db
          .delete(turnImages)
          .where(
            and(
              inArray(turnImages.imageSha, drop),
              inArray(turnImages.turnId, this.#db.select({ id: turns.id }).from(turns).where(eq(turns.conversationId, convId))),
            ),
          );
        await this.#collect(drop);
      }
    }
    if (this.#images.storedBytes > this.#limits.maxBlobBytes) await this.#pruneGlobal();
  }

  async #pruneGlobal(): Promise<void> {
    const keep = await this.#protectedImages();
    const target = this.#limits.maxBlobBytes * 0.9;
    const candidates = await this.#db
      .select({ sha: images.sha256, bytes: images.bytes })
      .from(images)
      .orderBy(asc(images.createdAt));
    let total = this.#images.storedBytes;
    const drop: string[] = [];
    for (const c of candidates) {
      if (total <= target) break;
      if (keep.has(c.sha)) continue;
      drop.push(c.sha);
      total -= c.bytes;
    }
    if (!drop.length) return;
    await this.#db.delete(turnImages).where(inArray(turnImages.imageSha, drop));
    await this.#collect(drop);
  }

  /** Deletes images no turn links any more: rows first, then bytes, so a crash leaves at worst an unreferenced file. */
  async #collect(shas: readonly string[]): Promise<void> {
    const gone = await this.#db
      .delete(images)
      .where(and(inArray(images.sha256, [...shas]), sql`not exists (select 1 from ${turnImages} where ${turnImages.imageSha} = ${images.sha256})`))
      .returning({ sha: images.sha256, bytes: images.bytes });
    for (const g of gone) {
      this.#images.storedBytes -= g.bytes;
      await this.#blobs.delete(g.sha);
    }
  }
}
