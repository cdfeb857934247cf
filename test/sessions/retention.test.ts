/**
 * Retention: over the per-conversation image limit or the total size limit,
 * the oldest images go first, but never one the current pointer or the undo
 * or redo stack still needs; rows go before bytes.
 */
import { eq } from 'drizzle-orm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { conversations, images } from '../../db/schema.ts';
import { sha256Hex } from '../../src/sessions/blob-store.ts';
import type { ConversationKey } from '../../src/sessions/types.ts';
import { type Harness, gradientPng, message, openHarness } from './harness.ts';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const ann: ConversationKey = { platform: 'test', chatId: 'chat-ann', userId: 'ann' };
const STEPS = ['make it brighter', 'make it darker', 'make it black and white', 'make it brighter', 'make it darker', 'make it brighter'];

async function protectedShas(harness: Harness): Promise<Set<string>> {
  const [conv] = await harness.database.db.select().from(conversations).where(eq(conversations.userId, 'ann'));
  return new Set([conv!.current, ...conv!.undoStack, ...conv!.redoStack].flatMap((s) => (s ? [s.image] : [])));
}

describe('retention', () => {
  it('prunes the oldest images of a conversation over its limit, keeping the current image and the undo stack', async () => {
    h = await openHarness('pglite', { memory: true, settings: { maxImagesPerConversation: 4, undoDepth: 2, pruneEvery: 1 } });
    const photo = await gradientPng();
    await h.manager.handle(message('ann', STEPS[0], photo), () => {});
    for (const text of STEPS.slice(1)) expect((await h.manager.handle(message('ann', text), () => {})).status).toBe('done');

    const keep = await protectedShas(h);
    expect(keep.size).toBe(3);
    const rows = await h.database.db.select().from(images);
    expect(rows.length).toBeLessThanOrEqual(4);
    for (const sha of keep) {
      expect(rows.map((r) => r.sha256)).toContain(sha);
      expect(await h.blobs.has(sha)).toBe(true);
    }
    // The original upload was the oldest and is no longer needed: gone, row and bytes.
    expect(rows.filter((r) => r.sha256 === sha256Hex(photo))).toEqual([]);
    expect(await h.blobs.has(sha256Hex(photo))).toBe(false);
    // Undo still works all the way down the kept stack.
    expect((await h.manager.undo(ann)).image).toBeDefined();
    expect((await h.manager.undo(ann)).image).toBeDefined();
    expect((await h.manager.undo(ann)).text).toBe('Nothing to undo.');
    // History keeps every turn even where its images were pruned.
    expect((await h.manager.history(ann)).length).toBe(STEPS.length);
  });

  it('prunes over the total size limit across conversations, oldest first, never a protected image', async () => {
    h = await openHarness('pglite', { memory: true, settings: { maxBlobBytes: 1, undoDepth: 1 } });
    for (const user of ['ann', 'bob']) {
      await h.manager.handle(message(user, 'make it brighter', await gradientPng(48, 32, user.length)), () => {});
      await h.manager.handle(message(user, 'make it darker'), () => {});
    }
    const rows = await h.database.db.select().from(images);
    const convs = await h.database.db.select().from(conversations);
    const needed = new Set(convs.flatMap((c) => [c.current, ...c.undoStack, ...c.redoStack].flatMap((s) => (s ? [s.image] : []))));
    expect(new Set(rows.map((r) => r.sha256))).toEqual(needed);
    for (const sha of needed) expect(await h.blobs.has(sha)).toBe(true);
  });
});
