/**
 * A second image that is a photo, not a black-and-white mask, is the user's reference
 * (init[reference]): "add this on the left" pastes its object in, lineage records it as the
 * turn's third input, and a revision of that turn gets it again.
 */
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlanRequest } from '../../src/builder/builder.ts';
import { conversations, images, turnImages, turns } from '../../db/schema.ts';
import { sha256Hex } from '../../src/sessions/blob-store.ts';
import { changeByHalf, checkerPhoto, productShare, productShot, rightHalfMask } from '../support/pixels.ts';
import { type Harness, gradientPng, message, openHarness, recorder } from './harness.ts';

describe('the user’s reference photo', () => {
  let h: Harness;
  const requests: PlanRequest[] = [];
  beforeAll(async () => {
    h = await openHarness('pglite', {
      memory: true,
      customise: (rt) => {
        const plan = rt.builder.plan.bind(rt.builder);
        rt.builder.plan = (req) => {
          requests.push(req);
          return plan(req);
        };
      },
    });
  }, 60_000);
  afterAll(async () => h?.close());

  let first = 0;

  it('pastes the object of a second photo into the first, without its backdrop, and records it as the third input', async () => {
    const photo = await gradientPng(96, 64);
    const reference = await productShot();
    const r = recorder();
    const out = await h.manager.handle({ ...message('zoe', 'add this on the left', photo), images: [{ bytes: photo }, { bytes: reference }] }, r.listener);
    expect(out).toMatchObject({ intent: 'edit', status: 'done' });
    first = out.turnId!;
    expect(requests.at(-1)).toMatchObject({ hasReference: true, hasMask: false });
    expect(JSON.stringify(r.of('planned')[0]!.workflow)).toContain('"reference":"init[reference]"');
    const before = await productShare(photo);
    const after = await productShare(r.of('result')[0]!.images[0]!.bytes);
    expect(before.red).toBe(0);
    expect(after.red).toBeGreaterThan(0.01);
    expect(after.backdrop).toBeLessThan(0.005);
    const inputs = await h.database.db.select().from(turnImages).where(and(eq(turnImages.turnId, first), eq(turnImages.role, 'input')));
    expect(inputs.map((i) => [i.position, i.imageSha]).sort()).toEqual([[0, sha256Hex(photo)], [2, sha256Hex(reference)]]);
  });

  it('gives a revision of that turn the same reference photo', async () => {
    const r = recorder();
    const out = await h.manager.handle(message('zoe', 'try again', undefined, { replyTo: { turnId: first } }), r.listener);
    expect(out).toMatchObject({ intent: 'revision', status: 'done' });
    expect(requests.at(-1)).toMatchObject({ hasReference: true });
    expect((await productShare(r.of('result')[0]!.images[0]!.bytes)).red).toBeGreaterThan(0.01);
  });

  it('takes a cut-out with transparency as a reference, and a black-and-white image the sender called a reference as one', async () => {
    const sharp = (await import('sharp')).default;
    const sticker = Buffer.alloc(30 * 20 * 4);
    for (let y = 5; y < 15; y++) for (let x = 10; x < 20; x++) sticker.set([225, 15, 25, 255], (y * 30 + x) * 4);
    const stickerPng = await sharp(sticker, { raw: { width: 30, height: 20, channels: 4 } }).png().toBuffer();
    const logo = await rightHalfMask(30, 20);
    for (const [second, role] of [[stickerPng, undefined], [logo, 'reference']] as const) {
      const photo = await gradientPng(96, 64);
      const out = await h.manager.handle({ ...message('zoe', 'add this on the left', photo), images: [{ bytes: photo }, { bytes: second, ...(role ? { role } : {}) }] }, recorder().listener);
      expect(out.status).toBe('done');
      expect(requests.at(-1)).toMatchObject({ hasReference: true, hasMask: false });
    }
  });

  it('keeps what came with photos sent without words for the instruction that follows: the reference, or the mask', async () => {
    const photo = await gradientPng(96, 64);
    const asked = recorder();
    await h.manager.handle({ ...message('yan', undefined, photo), images: [{ bytes: photo }, { bytes: await productShot() }] }, asked.listener);
    expect(asked.of('clarify')).toHaveLength(1);
    const r = recorder();
    const out = await h.manager.handle(message('yan', 'add this on the left'), r.listener);
    expect(out).toMatchObject({ intent: 'follow-up', status: 'done' });
    expect(requests.at(-1)).toMatchObject({ hasReference: true });
    expect((await productShare(r.of('result')[0]!.images[0]!.bytes)).red).toBeGreaterThan(0.01);

    const checker = await checkerPhoto();
    await h.manager.handle({ ...message('yan', undefined, checker), images: [{ bytes: checker }, { bytes: await rightHalfMask() }] }, recorder().listener);
    const blurred = recorder();
    await h.manager.handle(message('yan', 'blur this'), blurred.listener);
    expect(requests.at(-1)).toMatchObject({ hasMask: true });
    const change = await changeByHalf(checker, blurred.of('result')[0]!.images[0]!.bytes);
    expect(change.left).toBe(0);
    expect(change.right).toBeGreaterThan(0.5);
  });

  it('still knows what came with wordless photos after a restart', async () => {
    const disk = await openHarness('pglite', {
      customise: (rt) => {
        const plan = rt.builder.plan.bind(rt.builder);
        rt.builder.plan = (req) => {
          requests.push(req);
          return plan(req);
        };
      },
    });
    try {
      const photo = await gradientPng(96, 64);
      await disk.manager.handle({ ...message('kai', undefined, photo), images: [{ bytes: photo }, { bytes: await productShot() }] }, recorder().listener);
      await disk.restart();
      const out = await disk.manager.handle(message('kai', 'add this on the left'), recorder().listener);
      expect(out.status).toBe('done');
      expect(requests.at(-1)).toMatchObject({ hasReference: true });
    } finally {
      await disk.close();
    }
  });

  it('refuses a damaged second image before storing either, keeping the current image', async () => {
    const before = { turns: (await h.database.db.select().from(turns)).length, images: (await h.database.db.select().from(images)).length };
    const [conv] = await h.database.db.select().from(conversations).where(eq(conversations.userId, 'zoe'));
    const photo = await gradientPng(40, 30, 9);
    const r = recorder();
    await h.manager.handle({ ...message('zoe', 'add this on the left', photo), images: [{ bytes: photo }, { bytes: Buffer.from('%PNG broken') }] }, r.listener);
    expect(r.events).toEqual([{ type: 'error', code: 'unreadable-image', userMessage: 'That file is not an image I can read (unknown or damaged format).' }]);
    expect({ turns: (await h.database.db.select().from(turns)).length, images: (await h.database.db.select().from(images)).length }).toEqual(before);
    expect((await h.database.db.select().from(conversations).where(eq(conversations.userId, 'zoe')))[0]!.current).toEqual(conv!.current);
  });

  it('still takes a black-and-white second image as the mask', async () => {
    const photo = await gradientPng(48, 32);
    const out = await h.manager.handle({ ...message('zoe', 'blur this', photo), images: [{ bytes: photo }, { bytes: await rightHalfMask() }] }, recorder().listener);
    expect(out.status).toBe('done');
    expect(requests.at(-1)).toMatchObject({ hasMask: true, hasReference: false });
  });
});
