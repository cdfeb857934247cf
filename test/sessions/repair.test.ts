/**
 * A run that fails in a way a different plan can avoid (here: RES finds nothing) goes back
 * to the Builder with the failed workflow, its trace and the error, a bounded number of times.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { turns } from '../../db/schema.ts';
import type { PriorTurn } from '../../src/builder/builder.ts';
import { loadConfig } from '../../src/config.ts';
import { type Harness, gradientPng, meanAndSpread, message, openHarness, recorder } from './harness.ts';

describe('repair after a failed run', () => {
  let h: Harness;
  const failures: PriorTurn[] = [];
  /** What the scripted repair returns: a plan that works, or the same failing one again. */
  let repairWith: 'black and white' | 'same' = 'black and white';

  beforeAll(async () => {
    h = await openHarness('pglite', {
      memory: true,
      settings: { runRepairs: 2 },
      customise: (rt) => {
        const builder = rt.builder;
        builder.repairAfterFailure = async (request, failed) => {
          failures.push(failed);
          if (repairWith === 'same') return builder.plan({ ...request, revise: undefined });
          return builder.plan({ ...request, instruction: 'make it black and white', revise: undefined });
        };
      },
    });
  }, 60_000);
  afterAll(async () => h?.close());

  it('sends the failed workflow, trace and error back, runs the new plan, and keeps every attempt', async () => {
    const r = recorder();
    const out = await h.manager.handle(message('ivy', 'remove the unicorn', await gradientPng()), r.listener);
    expect(out).toMatchObject({ intent: 'edit', status: 'done' });
    expect(failures).toHaveLength(1);
    const failed = failures[0]!;
    expect(failed.error).toMatch(/found nothing for "the unicorn"/);
    expect(failed.workflow?.nodes[0]?.brick).toBe('RES');
    expect(failed.trace?.filter((t) => t.brick === 'RES' && t.emptyMasks.length > 0)).not.toEqual([]);

    expect(r.of('info')[0]!.text).toMatch(/found nothing.*Trying another way…$/);
    expect(r.of('planned').map((p) => p.summary)).toEqual([expect.stringMatching(/^RES/), 'GRAYSCALE']);
    expect((await meanAndSpread(r.of('result')[0]!.images[0]!.bytes)).channelSpread).toBeLessThan(1);

    const [row] = await h.database.db.select().from(turns).where(eq(turns.id, out.turnId!));
    expect(JSON.stringify(row!.workflow)).toContain('GRAYSCALE');
    const attempts = row!.attempts as Array<{ problems: string[] }>;
    expect(attempts.some((a) => a.problems.some((p) => /run failed: .*found nothing/.test(p)))).toBe(true);
  });

  it('gives up after the configured number of repairs with the run’s own error', async () => {
    repairWith = 'same';
    failures.length = 0;
    const r = recorder();
    const out = await h.manager.handle(message('ivy', 'remove the unicorn', await gradientPng(48, 32, 5)), r.listener);
    expect(out.status).toBe('failed');
    expect(failures).toHaveLength(2);
    expect(r.of('planned')).toHaveLength(3);
    const err = r.of('error')[0]!;
    expect(err.code).toBe('empty-mask');
    expect(err.userMessage).toMatch(/found nothing for "the unicorn"/);
  });
});

describe('the RUN_REPAIRS setting in chat', () => {
  it.each([0, 1])('with RUN_REPAIRS=%i, asks the Builder for that many new plans, then reports the run’s own error', async (repairs) => {
    const failures: PriorTurn[] = [];
    // Through openSessions, as the bot reads its configuration: no settings given directly.
    const h = await openHarness('pglite', {
      memory: true,
      runtime: { config: loadConfig({ RUN_REPAIRS: String(repairs) }) },
      customise: (rt) => {
        const builder = rt.builder;
        builder.repairAfterFailure = async (request, failed) => {
          failures.push(failed);
          return builder.plan({ ...request, revise: undefined });
        };
      },
    });
    try {
      const r = recorder();
      const out = await h.manager.handle(message('ivy', 'remove the unicorn', await gradientPng()), r.listener);
      expect(out.status).toBe('failed');
      expect(failures).toHaveLength(repairs);
      // Said once per new plan that really runs, never before a failure that ends the turn.
      expect(r.of('info').filter((i) => /Trying another way/.test(i.text))).toHaveLength(repairs);
      expect(r.of('planned')).toHaveLength(repairs + 1);
      expect(r.of('error')[0]!.code).toBe('empty-mask');
    } finally {
      await h.close();
    }
  }, 60_000);
});
