/**
 * Turns as JSON lines: instruction, workflow, the feedback that followed and
 * the outcome — what fine-tuning a Builder on user feedback (as the paper
 * trains it) needs.
 */
import { and, asc, eq, gt, inArray, isNotNull } from 'drizzle-orm';
import { conversations, turnImages, turns } from '../../db/schema.ts';
import { readVerdict, type Verdict } from '../critic/types.ts';
import { toLegoEditJson, type LegoEditJson } from '../engine/workflow/serialise.ts';
import { fromStored } from './store/stored-workflow.ts';
import type { SessionDb } from './database.ts';

export interface ExportedTurn {
  readonly turnId: number;
  readonly conversationId: number;
  readonly platform: string;
  readonly createdAt: string;
  readonly intent: string;
  /** What the Builder was asked to do. */
  readonly instruction: string;
  /** What the user wrote in this turn (for a revision, the feedback itself). */
  readonly message: string;
  readonly revisesTurnId: number | null;
  readonly builder: string | null;
  readonly reasoning: string | null;
  readonly workflow: LegoEditJson | null;
  readonly attempts: unknown;
  /** Later turns that revised or re-planned this one, in order. */
  readonly feedback: ReadonlyArray<{ readonly turnId: number; readonly intent: string; readonly text: string; readonly status: string }>;
  /** Undo away from this turn's result (a rejection without words) and redo back to it, in order. */
  readonly reactions: ReadonlyArray<{ readonly kind: 'undo' | 'redo'; readonly at: string }>;
  /** What the critic said before the result was sent: the offline checks and the critic model, per run (src/critic). */
  readonly verdicts: readonly Verdict[];
  readonly outcome: { readonly status: string; readonly errorCode: string | null; readonly error: string | null; readonly warnings: unknown };
  readonly sourceImage: string | null;
  readonly outputImages: readonly string[];
  readonly usage: { readonly promptTokens: number | null; readonly completionTokens: number | null };
  readonly timings: { readonly planMs: number | null; readonly runMs: number | null };
}

/** Calls `write` with each planned turn, oldest first, reading in batches so memory stays flat. */
export async function exportTurns(db: SessionDb, write: (turn: ExportedTurn) => void | Promise<void>, batch = 500): Promise<number> {
  let after = 0;
  let count = 0;
  for (;;) {
    const rows = await db
      .select({ turn: turns, platform: conversations.platform })
      .from(turns)
      .innerJoin(conversations, eq(conversations.id, turns.conversationId))
      .where(and(gt(turns.id, after), isNotNull(turns.workflow)))
      .orderBy(asc(turns.id))
      .limit(batch);
    if (!rows.length) return count;
    const ids = rows.map((r) => r.turn.id);
    const [followUps, outputs] = await Promise.all([
      db
        .select({ id: turns.id, revises: turns.revisesTurnId, intent: turns.intent, text: turns.text, status: turns.status })
        .from(turns)
        .where(inArray(turns.revisesTurnId, ids))
        .orderBy(asc(turns.id)),
      db.select().from(turnImages).where(inArray(turnImages.turnId, ids)).orderBy(asc(turnImages.position)),
    ]);
    for (const { turn: t, platform } of rows) {
      await write({
        turnId: t.id,
        conversationId: t.conversationId,
        platform,
        createdAt: t.createdAt.toISOString(),
        intent: t.intent,
        instruction: t.instruction || t.text,
        message: t.text,
        revisesTurnId: t.revisesTurnId,
        builder: t.builder,
        reasoning: t.reasoning,
        workflow: t.workflow ? toLegoEditJson(fromStored(t.workflow)!) : null,
        attempts: t.attempts,
        feedback: followUps.filter((f) => f.revises === t.id).map((f) => ({ turnId: f.id, intent: f.intent, text: f.text, status: f.status })),
        reactions: t.reactions,
        verdicts: (t.verdicts ?? []).map(readVerdict),
        outcome: { status: t.status, errorCode: t.errorCode, error: t.errorMessage, warnings: t.warnings },
        sourceImage: t.sourceImage,
        outputImages: outputs.filter((o) => o.turnId === t.id && o.role === 'output').map((o) => o.imageSha),
        usage: { promptTokens: t.promptTokens, completionTokens: t.completionTokens },
        timings: { planMs: t.planMs, runMs: t.runMs },
      });
      count++;
    }
    after = rows.at(-1)!.turn.id;
  }
}
