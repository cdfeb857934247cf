/**
 * A second image sent with the photo (a Telegram album, Discord's `mask` option) is the
 * user's mask, init[mask]: the edit stays inside it, revisions keep it, lineage records it.
 */
import { and, eq } from 'drizzle-orm';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { turnImages } from '../../db/schema.ts';
import { sha256Hex } from '../../src/sessions/blob-store.ts';
import { changeByHalf, checkerPhoto, rightHalfMask } from '../support/pixels.ts';
import { type Harness, gradientPng, message, openHarness, recorder } from './harness.ts';

const W = 48;
const H = 32;

/** An all-black mask: a region of nothing. */
async function blackMask(): Promise<Buffer> {
  return sharp(Buffer.alloc(W * H), { raw: { width: W, height: H, channels: 1 } }).png().toBuffer();
}

describe('the user mask', () => {
  let h: Harness;
  let photo: Buffer;
  let mask: Buffer;
  beforeAll(async () => {
    h = await openHarness('pglite', { memory: true });
    photo = await checkerPhoto(W, H);
    mask = await rightHalfMask(W, H);
  }, 60_000);
  afterAll(async () => h?.close());

  it('limits the edit to the white part of the second image and records it as the turn’s second input', async () => {
    const r = recorder();
    const msg = { ...message('mia', 'blur this', photo), images: [{ bytes: photo }, { bytes: mask }] };
    const out = await h.manager.handle(msg, r.listener);
    expect(out).toMatchObject({ intent: 'edit', status: 'done' });
    expect(JSON.stringify(r.of('planned')[0]!.workflow)).toContain('"mask":"init[mask]"');
    const result = r.of('result')[0]!.images[0]!.bytes;
    const change = await changeByHalf(photo, result);
    expect(change.left).toBe(0);
    expect(change.right).toBeGreaterThan(0.5);

    const inputs = await h.database.db
      .select()
      .from(turnImages)
      .where(and(eq(turnImages.turnId, out.turnId!), eq(turnImages.role, 'input')));
    expect(inputs.map((l) => [l.position, l.imageSha]).sort()).toEqual([
      [0, sha256Hex(photo)],
      [1, sha256Hex(mask)],
    ]);
    expect(await h.blobs.get(sha256Hex(mask))).toEqual(mask);
  });

  it('keeps the mask when the user asks for the same edit again', async () => {
    const r = recorder();
    const out = await h.manager.handle(message('mia', 'try again'), r.listener);
    expect(out).toMatchObject({ intent: 'revision', status: 'done' });
    // Run again with the same mask, the blur at its strongest already gives the same picture: it is not sent twice.
    expect(r.of('result')).toHaveLength(0);
    expect(r.of('info').at(-1)!.text).toMatch(/^This edit gives the same picture every time/);
    expect(r.of('step-finished').map((e) => e.cached)).toEqual([false]);
    const [maskLink] = await h.database.db
      .select()
      .from(turnImages)
      .where(and(eq(turnImages.turnId, out.turnId!), eq(turnImages.role, 'input'), eq(turnImages.position, 1)));
    expect(maskLink?.imageSha).toBe(sha256Hex(mask));
  });

  it('refuses an all-black mask with a specific message and stores nothing of that message', async () => {
    const before = await h.manager.history({ platform: 'test', chatId: 'chat-mia', userId: 'mia' });
    const r = recorder();
    const black = await blackMask();
    const other = await gradientPng(W, H, 3);
    const msg = { ...message('mia', 'blur this', other), images: [{ bytes: other }, { bytes: black }] };
    const out = await h.manager.handle(msg, r.listener);
    expect(out.turnId).toBeUndefined();
    const err = r.of('error')[0]!;
    expect(err.code).toBe('empty-mask');
    expect(err.userMessage).toMatch(/mask .*all black/);
    expect(await h.manager.history({ platform: 'test', chatId: 'chat-mia', userId: 'mia' })).toEqual(before);
  });
});
