/**
 * A whole conversation through the session manager, with the offline Builder,
 * real bricks and a real database (PGlite, then PostgreSQL): edit → feedback
 * revision → rule → undo → redo → history, checking rows, blobs and pixels.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversations, images, rules, turnImages, turns } from '../../db/schema.ts';
import type { PlanRequest } from '../../src/builder/builder.ts';
import { sha256Hex } from '../../src/sessions/blob-store.ts';
import type { ConversationKey } from '../../src/sessions/types.ts';
import { describeWithPostgres } from '../support/services.ts';
import { type DbKind, type Harness, gradientPng, meanAndSpread, message, openHarness, recorder } from './harness.ts';

const describePg = await describeWithPostgres();

function conversationSuite(kind: DbKind): void {
  let h: Harness;
  const key: ConversationKey = { platform: 'test', chatId: 'chat-ann', userId: 'ann' };
  let photo: Buffer;
  const requests: PlanRequest[] = [];

  beforeAll(async () => {
    h = await openHarness(kind, {
      customise: (rt) => {
        const plan = rt.builder.plan.bind(rt.builder);
        rt.builder.plan = (req) => {
          requests.push(req);
          return plan(req);
        };
      },
    });
    photo = await gradientPng();
  }, 90_000);
  afterAll(async () => h?.close());

  const convRow = async () => (await h.database.db.select().from(conversations).where(eq(conversations.userId, 'ann')))[0]!;
  const turnRow = async (id: number) => (await h.database.db.select().from(turns).where(eq(turns.id, id)))[0]!;

  let t1 = 0;
  let t1Output = '';
  let t2Output = '';

  it('a photo with an instruction is planned, run, stored and becomes the current image', async () => {
    const r = recorder();
    const out = await h.manager.handle(message('ann', 'make it brighter', photo), r.listener);
    expect(out).toMatchObject({ intent: 'edit', status: 'done' });
    expect(r.events.map((e) => e.type)).toEqual(['planning', 'planned', 'step-started', 'step-finished', 'result']);
    const planned = r.of('planned')[0]!;
    expect(planned.summary).toBe('ADJUST(1.3)');
    const result = r.of('result')[0]!;
    expect(result.images).toHaveLength(1);
    const before = await meanAndSpread(photo);
    const after = await meanAndSpread(result.images[0]!.bytes);
    expect(after.mean).toBeGreaterThan(before.mean * 1.15);

    t1 = out.turnId!;
    t1Output = result.images[0]!.sha256;
    const row = await turnRow(t1);
    expect(row).toMatchObject({ status: 'done', intent: 'edit', text: 'make it brighter', builder: 'offline', sourceImage: sha256Hex(photo) });
    expect(row.workflow).toBeTruthy();
    expect(row.trace).toMatchObject([{ step: 1, brick: 'ADJUST', status: 'ok' }]);
    expect(row.startedAt).toBeInstanceOf(Date);
    expect(row.finishedAt).toBeInstanceOf(Date);

    const lineage = await h.database.db.select().from(turnImages).where(eq(turnImages.turnId, t1));
    expect(lineage.map((l) => [l.role, l.imageSha]).sort()).toEqual([['input', sha256Hex(photo)], ['output', t1Output]].sort());
    const [img] = await h.database.db.select().from(images).where(eq(images.sha256, t1Output));
    expect(img).toMatchObject({ width: 48, height: 32, format: 'png', bytes: result.images[0]!.bytes.byteLength });
    const [input] = await h.database.db.select().from(images).where(eq(images.sha256, sha256Hex(photo)));
    expect(input).toMatchObject({ width: 48, height: 32, format: 'png', bytes: photo.byteLength });
    expect(await h.blobs.get(t1Output)).toEqual(result.images[0]!.bytes);
    expect(await h.blobs.get(sha256Hex(photo))).toEqual(photo);

    const conv = await convRow();
    expect(conv.current).toEqual({ image: t1Output, turnId: t1 });
    expect(conv.undoStack).toEqual([{ image: sha256Hex(photo), turnId: t1 }]);
  });

  it('feedback on the result revises the last workflow on the same source image', async () => {
    const r = recorder();
    const out = await h.manager.handle(message('ann', 'no, make it darker instead'), r.listener);
    expect(out).toMatchObject({ intent: 'revision', status: 'done' });
    const row = await turnRow(out.turnId!);
    expect(row.revisesTurnId).toBe(t1);
    expect(row.sourceImage).toBe(sha256Hex(photo));
    expect(row.instruction).toBe('make it brighter');
    const request = requests.at(-1)!;
    expect(request.revise?.feedback).toBe('no, make it darker instead');
    expect(request.revise?.turn).toMatchObject({ instruction: 'make it brighter', status: 'done' });
    expect(request.revise?.turn.workflow?.nodes[0]?.brick).toBe('ADJUST');
    expect([request.image.width, request.image.height]).toEqual([48, 32]);
    t2Output = r.of('result')[0]!.images[0]!.sha256;
    const lineage = await h.database.db.select().from(turnImages).where(eq(turnImages.turnId, out.turnId!));
    expect(lineage.find((l) => l.role === 'input')?.imageSha).toBe(sha256Hex(photo));
    expect((await convRow()).current).toEqual({ image: t2Output, turnId: out.turnId });
  });

  it('a rule the last edit already follows is stored without re-planning, saying so', async () => {
    const r = recorder();
    const planned = requests.length;
    const out = await h.manager.handle(message('ann', "don't use RESIZE"), r.listener);
    expect(out.intent).toBe('rule');
    expect(r.of('info')[0]?.text).toMatch(/Rule stored: never use RESIZE\. .*Your last edit \("make it brighter"\) already follows it/);
    expect(r.of('planning')).toHaveLength(0);
    expect(requests).toHaveLength(planned);
    const stored = await h.database.db.select().from(rules).where(eq(rules.userId, 'ann'));
    expect(stored).toMatchObject([{ kind: 'forbid', brick: 'RESIZE', text: "don't use RESIZE" }]);
    expect(out.status).toBe('done');
    const row = await turnRow(out.turnId!);
    expect(row).toMatchObject({ intent: 'rule', status: 'done', workflow: null });
    expect(await h.manager.rules(key)).toEqual([{ index: 1, text: "don't use RESIZE", kind: 'forbid', everywhere: false }]);
  });

  it('the same rule message delivered twice is stored once', async () => {
    const again = message('ann', 'never use FLIP');
    const first = await h.manager.handle(again, () => {});
    const r = recorder();
    const second = await h.manager.handle(again, r.listener);
    expect(first.status).toBe('done');
    expect(second.turnId).toBeUndefined();
    expect(r.of('info')[0]!.text).toMatch(/already have this message/);
    const stored = await h.database.db.select().from(rules).where(eq(rules.userId, 'ann'));
    expect(stored.map((x) => x.brick)).toEqual(['RESIZE', 'FLIP']);
    expect(await h.manager.forgetRule(key, 2)).toMatchObject({ ok: true });
  });

  it('a plan that would break a rule is refused with the rule named, and nothing current changes', async () => {
    const before = (await convRow()).current;
    const replan = recorder();
    const ruleOut = await h.manager.handle(message('ann', 'never use ADJUST'), replan.listener);
    // The last edit needs ADJUST, so its re-plan under the new rule fails, visibly and harmlessly.
    expect(ruleOut).toMatchObject({ intent: 'rule', status: 'failed' });
    expect(replan.of('error')[0]!.userMessage).toMatch(/ADJUST/);
    expect((await convRow()).current).toEqual(before);
    const r = recorder();
    const out = await h.manager.handle(message('ann', 'make it brighter'), r.listener);
    expect(out.status).toBe('failed');
    // The Builder may refuse under the rule itself; if it does not, the session manager's own check refuses.
    expect(['rule-violated', 'plan-refused']).toContain(r.of('error')[0]!.code);
    expect(r.of('error')[0]!.userMessage).toMatch(/ADJUST/);
    expect((await convRow()).current).toEqual(before);
    const reply = await h.manager.forgetRule(key, 2);
    expect(reply).toMatchObject({ ok: true });
    expect((await h.manager.rules(key)).map((x) => x.text)).toEqual(["don't use RESIZE"]);
  });

  it('undo and redo walk the current image along the stack, returning the image', async () => {
    const current = (await convRow()).current!;
    const r = recorder();
    await h.manager.handle(message('ann', 'undo'), r.listener);
    const undone = r.of('result')[0]!;
    expect(undone.caption).toBe('Back to the result of #1 ("make it brighter").');
    const afterUndo = await convRow();
    expect(afterUndo.current).not.toEqual(current);
    expect(afterUndo.redoStack.at(-1)).toEqual(current);
    expect(undone.images[0]!.sha256).toBe(afterUndo.current!.image);

    const redo = await h.manager.redo(key);
    expect(redo.ok).toBe(true);
    expect(redo.image?.sha256).toBe(current.image);
    expect(redo.text).toBe('Forward again to the result of #2 ("no, make it darker instead").');
    expect((await convRow()).current).toEqual(current);
    expect((await h.manager.redo(key)).text).toBe('Nothing to redo.');
  });

  it('a new edit after undo clears the redo stack', async () => {
    await h.manager.undo(key);
    expect((await convRow()).redoStack).toHaveLength(1);
    const out = await h.manager.handle(message('ann', 'make it black and white'), () => {});
    expect(out).toMatchObject({ intent: 'follow-up', status: 'done' });
    const conv = await convRow();
    expect(conv.redoStack).toEqual([]);
    const bw = await h.blobs.get(conv.current!.image);
    expect((await meanAndSpread(bw!)).channelSpread).toBeLessThan(1);
  });

  it('history lists every turn in order with its outcome; show plan gives the workflow JSON', async () => {
    const history = await h.manager.history(key);
    expect(history.map((e) => [e.intent, e.status])).toEqual([
      ['edit', 'done'],
      ['revision', 'done'],
      ['rule', 'done'],
      ['rule', 'done'],
      ['rule', 'failed'],
      ['follow-up', 'failed'],
      ['follow-up', 'done'],
    ]);
    expect(history.at(-1)).toMatchObject({ current: true, summary: 'GRAYSCALE', instruction: 'make it black and white' });
    const r = recorder();
    await h.manager.handle(message('ann', '/history'), r.listener);
    expect(r.of('info')[0]!.text).toMatch(/make it brighter/);

    const plan = await h.manager.showPlan(key);
    expect(plan).toMatchObject({ summary: 'GRAYSCALE', builder: 'offline' });
    expect(plan!.workflow.pipeline[0]).toMatchObject({ step: 1, model: 'GRAYSCALE' });
    const first = await h.manager.showPlan(key, t1);
    expect(first?.summary).toBe('ADJUST(1.3)');
  });

  it('every stored image has its bytes in the blob store under its hash', async () => {
    const rows = await h.database.db.select().from(images);
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const row of rows) {
      const bytes = await h.blobs.get(row.sha256);
      expect(bytes?.byteLength).toBe(row.bytes);
      expect(sha256Hex(bytes!)).toBe(row.sha256);
    }
  });

  it('reset clears the current image and rules but keeps history', async () => {
    const reply = await h.manager.reset(key);
    expect(reply.ok).toBe(true);
    const conv = await convRow();
    expect(conv).toMatchObject({ current: null, undoStack: [], redoStack: [] });
    expect(await h.manager.rules(key)).toEqual([]);
    expect((await h.manager.history(key)).length).toBe(7);
    const r = recorder();
    await h.manager.handle(message('ann', 'make it brighter'), r.listener);
    expect(r.of('clarify')[0]!.question).toMatch(/photo first/);
  });

  it('a photo without text is kept as the current image and the user is asked what to do', async () => {
    const r = recorder();
    const other = await gradientPng(40, 30, 3);
    const out = await h.manager.handle(message('ann', undefined, other), r.listener);
    expect(out.intent).toBe('ask-what-to-do');
    expect(r.of('clarify')[0]!.question).toMatch(/What should I do with this photo/);
    expect((await convRow()).current).toEqual({ image: sha256Hex(other), turnId: out.turnId });
    const next = await h.manager.handle(message('ann', 'make it darker'), () => {});
    expect(next).toMatchObject({ intent: 'follow-up', status: 'done' });
    expect((await turnRow(next.turnId!)).sourceImage).toBe(sha256Hex(other));
  });

  it('ambiguous messages get a short question, not an edit', async () => {
    for (const text of ['no', 'hmm', '?']) {
      const r = recorder();
      const out = await h.manager.handle(message('ann', text), r.listener);
      expect(out.intent).toBe('clarify');
      expect(r.events).toHaveLength(1);
      expect(r.of('clarify')).toHaveLength(1);
    }
  });

  it('a rule the last edit breaks re-plans it without the forbidden brick and replaces the result', async () => {
    const bw = await h.manager.handle(message('ann', 'make it black and white'), () => {});
    expect(bw.status).toBe('done');
    const r = recorder();
    const out = await h.manager.handle(message('ann', 'never use GRAYSCALE'), r.listener);
    expect(r.of('info')[0]!.text).toMatch(/Re-planning your last edit \("make it black and white"\)/);
    expect(out).toMatchObject({ intent: 'rule', status: 'done' });
    const row = await turnRow(out.turnId!);
    expect(row.revisesTurnId).toBe(bw.turnId);
    expect(JSON.stringify(row.workflow)).not.toContain('GRAYSCALE');
    const result = r.of('result')[0]!.images[0]!;
    expect((await meanAndSpread(result.bytes)).channelSpread).toBeLessThan(1);
    expect((await convRow()).current).toEqual({ image: result.sha256, turnId: out.turnId });
  });
}

describe('conversation on PGlite', () => conversationSuite('pglite'));
describePg('conversation on PostgreSQL', () => conversationSuite('postgres'));
