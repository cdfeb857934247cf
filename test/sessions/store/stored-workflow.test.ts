/**
 * Plans stored before the published signatures (no catalogue version) are read
 * back with the meaning they ran with then: RESIZE scaled the whole picture
 * (SCALE now), CMI-PRED's ratios were fractions added on each side.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { turns } from '../../../db/schema.ts';
import { sideMultipliers } from '../../../bricks/predict/cmi-ratios.ts';
import type { Binding, Workflow } from '../../../src/engine/workflow/types.ts';
import { parseWorkflow } from '../../../src/engine/workflow/parse.ts';
import { CATALOGUE_VERSION, fromStored, toStored } from '../../../src/sessions/store/stored-workflow.ts';
import { type Harness, gradientPng, message, openHarness, recorder } from '../harness.ts';

/** A plan as the version before the published signatures stored it: the internal form, no catalogue version. */
const OLD_PLAN = parseWorkflow(
  JSON.stringify({
    process: 'make it half the size and widen it',
    pipeline: [
      { step: 1, model: 'RESIZE', input: { image: 'init[image]', ratio: 0.5 }, output: { image: 'step1[image]' } },
      { step: 2, model: 'CMI-PRED', input: { image: 'init[image]', left_ratio: 0.5, right_ratio: 0, top_ratio: 0, bottom_ratio: 0 }, output: { image: 'step2[image]' } },
      { result: '[step1[image], step2[image]]' },
    ],
  }),
);

const lit = (b: Binding | undefined): unknown => (b?.kind === 'literal' ? b.value : undefined);

describe('reading stored plans', () => {
  it('reads a plan without a catalogue version with its old meaning: RESIZE as SCALE, side fractions as multipliers', () => {
    const wf = fromStored(JSON.parse(JSON.stringify(OLD_PLAN)))!;
    expect(wf.nodes.map((n) => n.brick)).toEqual(['SCALE', 'CMI-PRED']);
    expect(lit(wf.nodes[0]!.inputs.ratio)).toBe(0.5);
    const cmi = wf.nodes[1]!.inputs;
    expect([cmi.left_ratio, cmi.right_ratio, cmi.top_ratio, cmi.bottom_ratio].map(lit)).toEqual([1.5, 1, 1, 1]);
    expect(wf.results).toEqual(OLD_PLAN.results);
  });

  it('turns four equal old fractions into the ratio that gives each side the same margin', () => {
    const old: Workflow = {
      nodes: [{ step: 1, brick: 'CMI-PRED', outputs: [], inputs: Object.fromEntries(['left_ratio', 'right_ratio', 'top_ratio', 'bottom_ratio'].map((k) => [k, { kind: 'literal', value: 0.25 }])) }],
      results: [],
    };
    const inputs = fromStored(old)!.nodes[0]!.inputs;
    expect(Object.keys(inputs)).toEqual(['ratio']);
    const r = lit(inputs.ratio) as number;
    // A quarter of the width on each side, as before: 1.5 times the width in all.
    expect(sideMultipliers({ left: r, right: r, top: r, bottom: r })).toEqual({ left: 1.25, right: 1.25, top: 1.25, bottom: 1.25 });
  });

  it('keeps a plan stored with the current catalogue as it is, and stamps what it stores', () => {
    const stored = toStored(parseWorkflow('{"pipeline": [{"step": 1, "model": "RESIZE", "input": {"image": "init[image]", "ratio": 2}}, {"result": "[step1[image]]"}]}'));
    expect(stored.catalogue).toBe(CATALOGUE_VERSION);
    const back = fromStored(JSON.parse(JSON.stringify(stored)))!;
    expect(back.nodes[0]!.brick).toBe('RESIZE');
    expect(back).not.toHaveProperty('catalogue');
  });

  it('reads no plan as none', () => {
    expect(fromStored(null)).toBeNull();
  });
});

describe('revising a turn stored before the published signatures', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness('pglite');
  }, 90_000);
  afterAll(async () => h?.close());

  it('"try again" on it runs the edit it ran then: half the size, and half the width added on the left', async () => {
    const photo = await gradientPng(48, 32);
    const first = await h.manager.handle(message('old', 'make it brighter', photo), () => {});
    expect(first.status).toBe('done');
    // The row as the earlier version wrote it.
    await h.database.db.update(turns).set({ workflow: JSON.parse(JSON.stringify(OLD_PLAN)) }).where(eq(turns.id, first.turnId!));
    await h.restart();

    const r = recorder();
    const again = await h.manager.handle(message('old', 'try again'), r.listener);
    expect(again).toMatchObject({ intent: 'revision', status: 'done' });
    expect(r.of('planned')[0]!.summary).toBe('SCALE(0.5) → CMI-PRED(1.5, 1, 1, 1)');
    expect(r.of('result')[0]!.images.map((i) => [i.width, i.height])).toEqual([
      [24, 16],
      [72, 32],
    ]);
    // What it ran is stored in the current catalogue.
    const [row] = await h.database.db.select().from(turns).where(eq(turns.id, again.turnId!));
    expect(row!.workflow).toMatchObject({ catalogue: CATALOGUE_VERSION, nodes: [{ brick: 'SCALE' }, { brick: 'CMI-PRED' }] });
  }, 60_000);
});
