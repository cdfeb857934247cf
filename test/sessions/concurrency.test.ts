/**
 * 50 conversations × 5 turns, all sent at once: every conversation's turns run
 * in the order sent, each on its own previous result, and no conversation ever
 * sees another's images.
 */
import { eq } from 'drizzle-orm';
import { describe, expect, it, vi } from 'vitest';
import { conversations, turnImages, turns } from '../../db/schema.ts';
import { sha256Hex } from '../../src/sessions/blob-store.ts';
import type { SessionEvent } from '../../src/sessions/types.ts';
import { describeWithPostgres } from '../support/services.ts';
import { type DbKind, gradientPng, message, openHarness } from './harness.ts';

vi.setConfig({ testTimeout: 300_000, hookTimeout: 120_000 });
const describePg = await describeWithPostgres();

const CONVERSATIONS = 50;
const INSTRUCTIONS = ['make it brighter', 'make it darker', 'make it black and white', 'make it brighter', 'make it darker'];

async function run(kind: DbKind): Promise<void> {
  const h = await openHarness(kind, { memory: true, runtime: { executor: { concurrency: 2 } } });
  try {
    const photos = await Promise.all(Array.from({ length: CONVERSATIONS }, (_, i) => gradientPng(24, 16, i)));
    const events = new Map<string, SessionEvent[]>();
    const all = photos.flatMap((photo, c) => {
      const user = `user${c}`;
      events.set(user, []);
      const listener = (e: SessionEvent): void => void events.get(user)!.push(e);
      return INSTRUCTIONS.map((text, t) => h.manager.handle(message(user, text, t === 0 ? photo : undefined), listener));
    });
    const outcomes = await Promise.all(all);
    expect(outcomes.filter((o) => o.status !== 'done')).toEqual([]);

    const db = h.database.db;
    const convs = await db.select().from(conversations);
    expect(convs).toHaveLength(CONVERSATIONS);
    const ownersOf = new Map<string, Set<number>>();
    for (const conv of convs) {
      const c = Number(conv.userId.slice(4));
      const rows = await db.select().from(turns).where(eq(turns.conversationId, conv.id)).orderBy(turns.id);
      expect(rows.map((r) => r.text)).toEqual(INSTRUCTIONS);
      expect(rows.filter((r) => r.status !== 'done')).toEqual([]);
      // Each turn ran on the result of the one before it, starting from this conversation's own photo.
      let source = sha256Hex(photos[c]!);
      for (const row of rows) {
        expect(row.sourceImage).toBe(source);
        const output = (await db.select().from(turnImages).where(eq(turnImages.turnId, row.id))).find((l) => l.role === 'output')!;
        for (const sha of [row.sourceImage!, output.imageSha]) {
          if (!ownersOf.has(sha)) ownersOf.set(sha, new Set());
          ownersOf.get(sha)!.add(conv.id);
        }
        source = output.imageSha;
      }
      expect(conv.current?.image).toBe(source);
      // Events reached this user only, in order: results for their own turns, one per turn.
      const results = events.get(conv.userId)!.filter((e) => e.type === 'result');
      expect(results.map((e) => e.turnId)).toEqual(rows.map((r) => r.id));
    }
    // Distinct photos give distinct images: none is shared between conversations.
    expect([...ownersOf].filter(([, owners]) => owners.size !== 1)).toEqual([]);
  } finally {
    await h.close();
  }
}

describe('concurrency on PGlite', () => {
  it(`${CONVERSATIONS} conversations × ${INSTRUCTIONS.length} turns in parallel: ordered, no cross-talk`, () => run('pglite'));
});

describePg('concurrency on PostgreSQL', () => {
  it(`${CONVERSATIONS} conversations × ${INSTRUCTIONS.length} turns in parallel: ordered, no cross-talk`, () => run('postgres'));
});
