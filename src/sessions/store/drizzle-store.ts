/**
 * The TurnStore in PGlite or PostgreSQL, through drizzle. Hot paths are single
 * statements (a turn with its input links; a result with its images, lineage,
 * turn and stacks), so each costs one round trip and is all or nothing.
 */
import { type SQL, and, asc, desc, eq, inArray, isNotNull, isNull, or, sql } from 'drizzle-orm';
import { conversations, images, messageLinks, rules as rulesTable, turnImages, turns } from '../../../db/schema.ts';
import type { Rule } from '../../builder/builder.ts';
import type { StepTrace } from '../../engine/executor.ts';
import type { SessionDb } from '../database.ts';
import type { ConversationKey, TurnStatus } from '../types.ts';
import type {
  CommittedResult,
  ConversationSnapshot,
  FinishFields,
  ImageMeta,
  InputImages,
  NewTurn,
  Notice,
  PlanFields,
  RuleRecord,
  Stacks,
  TurnRecord,
  TurnStore,
} from './turn-store.ts';
import { fromStored, toStored } from './stored-workflow.ts';

/** Always true; makes the statement's own transaction commit without waiting for its WAL flush (set_config(…, true) is SET LOCAL). */
const COMMIT_WITHOUT_FLUSH = sql`set_config('synchronous_commit', 'off', true) = 'off'`;

export interface DrizzleTurnStoreOptions {
  /**
   * The database is a server (PostgreSQL) that keeps what it has accepted when this process dies. A turn's progress
   * writes (queued, planning, running) then commit without waiting for the disk, and the turn's last write, which
   * waits, flushes them with it because WAL is written in order. Embedded PGlite dies with this process, so there
   * every write waits.
   */
  readonly databaseOutlivesProcess?: boolean;
}

type TurnRow = typeof turns.$inferSelect;
type ConversationRow = typeof conversations.$inferSelect;

export class DrizzleTurnStore implements TurnStore {
  readonly #db: SessionDb;
  /** The condition added to progress writes: see DrizzleTurnStoreOptions.databaseOutlivesProcess. */
  readonly #progressCommit: SQL;

  constructor(db: SessionDb, options: DrizzleTurnStoreOptions = {}) {
    this.#db = db;
    this.#progressCommit = options.databaseOutlivesProcess ? COMMIT_WITHOUT_FLUSH : sql`true`;
  }

  async recover(): Promise<{ interrupted: number[]; noticeDue: number[] }> {
    const interrupted = await this.#db
      .update(turns)
      .set({ status: 'interrupted', noticePending: true, finishedAt: new Date() })
      .where(inArray(turns.status, ['queued', 'planning', 'running']))
      .returning({ id: turns.id });
    const due = await this.#db.selectDistinct({ id: turns.conversationId }).from(turns).where(eq(turns.noticePending, true));
    return { interrupted: interrupted.map((t) => t.id), noticeDue: due.map((d) => d.id) };
  }

  async conversationId(key: ConversationKey, userName?: string): Promise<number> {
    const [row] = await this.#db
      .insert(conversations)
      .values({ platform: key.platform, chatId: key.chatId, threadId: key.threadId ?? '', userId: key.userId, userName })
      .onConflictDoUpdate({
        target: [conversations.platform, conversations.chatId, conversations.threadId, conversations.userId],
        set: { updatedAt: sql`now()` },
      })
      .returning({ id: conversations.id });
    return row!.id;
  }

  async findConversation(key: ConversationKey): Promise<number | undefined> {
    const [row] = await this.#db
      .select({ id: conversations.id })
      .from(conversations)
      .where(
        and(
          eq(conversations.platform, key.platform),
          eq(conversations.chatId, key.chatId),
          eq(conversations.threadId, key.threadId ?? ''),
          eq(conversations.userId, key.userId),
        ),
      );
    return row?.id;
  }

  async load(convId: number, historyTurns: number): Promise<ConversationSnapshot | undefined> {
    const [row] = await this.#db.select().from(conversations).where(eq(conversations.id, convId));
    if (!row) return undefined;
    const [ruleRows, planned, wordless] = await Promise.all([
      this.#db
        .select({ id: rulesTable.id, data: rulesTable.data, conversationId: rulesTable.conversationId })
        .from(rulesTable)
        .where(
          or(
            eq(rulesTable.conversationId, convId),
            and(isNull(rulesTable.conversationId), eq(rulesTable.platform, row.platform), eq(rulesTable.userId, row.userId)),
          ),
        )
        .orderBy(asc(rulesTable.id)),
      this.#db
        .select()
        .from(turns)
        .where(and(eq(turns.conversationId, convId), isNotNull(turns.workflow)))
        .orderBy(desc(turns.id))
        .limit(historyTurns),
      this.#db
        .selectDistinct({ id: turnImages.turnId })
        .from(turnImages)
        .innerJoin(turns, eq(turns.id, turnImages.turnId))
        .where(and(eq(turns.conversationId, convId), eq(turns.intent, 'ask-what-to-do'), eq(turnImages.role, 'input'), sql`${turnImages.position} > 0`)),
    ]);
    return {
      conversation: toConversation(row),
      rules: ruleRows.map((r) => ({ id: r.id, rule: r.data as Rule, scoped: r.conversationId !== null })),
      planned: planned.map(toTurn),
      wordless: wordless.map((w) => w.id),
    };
  }

  async setStacks(convId: number, stacks: Stacks): Promise<void> {
    await this.#db
      .update(conversations)
      .set({ current: stacks.current, undoStack: [...stacks.undo], redoStack: [...stacks.redo], updatedAt: new Date() })
      .where(eq(conversations.id, convId));
  }

  async moveCurrent(convId: number, stacks: Stacks, reaction?: { turnId: number; image: string; kind: 'undo' | 'redo' }): Promise<void> {
    // One statement: the stacks and the reaction are written together.
    await this.#db.execute(sql`
      with cnv as (
        update ${conversations} set current = ${JSON.stringify(stacks.current)}::jsonb, undo_stack = ${JSON.stringify(stacks.undo)}::jsonb, redo_stack = ${JSON.stringify(stacks.redo)}::jsonb, updated_at = now()
        where id = ${convId}
      )
      ${
        reaction
          ? sql`, rct as (
        update ${turns} set reactions = reactions || jsonb_build_array(jsonb_build_object('kind', ${reaction.kind}::text, 'at', now()))
        where id = ${reaction.turnId} and conversation_id = ${convId} and source_image is distinct from ${reaction.image}
      )`
          : sql``
      }
      select 1`);
  }

  async reset(convId: number): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await tx.update(conversations).set({ current: null, undoStack: [], redoStack: [], updatedAt: new Date() }).where(eq(conversations.id, convId));
      await tx.delete(rulesTable).where(eq(rulesTable.conversationId, convId));
    });
  }

  async insertTurn(t: NewTurn): Promise<number | undefined> {
    const image = t.inputs.image ?? null;
    const mask = t.inputs.mask ?? null;
    const reference = t.inputs.reference ?? null;
    try {
      // One statement, so the turn and its input links are written together without a transaction's round trips.
      const result = await this.#db.execute(sql`
        with t as (
          insert into ${turns} (conversation_id, message_id, text, intent, status, source_image, finished_at)
          values (${t.conversationId}, ${t.messageId || null}, ${t.text}, ${t.intent}, ${t.status}, ${image}, ${t.status === 'done' ? sql`now()` : null})
          returning id
        ), l as (
          insert into ${turnImages} (turn_id, role, position, image_sha) ${inputLinks(sql.raw('t'), [image, mask, reference])}
        )
        select id from t where ${this.#progressCommit}`);
      return Number(rowsOf<{ id: number }>(result)[0]!.id);
    } catch (err) {
      if (isUniqueViolation(err)) return undefined;
      throw err;
    }
  }

  async turn(convId: number, turnId: number): Promise<TurnRecord | undefined> {
    const [row] = await this.#db
      .select()
      .from(turns)
      .where(and(eq(turns.id, turnId), eq(turns.conversationId, convId)));
    return row && toTurn(row);
  }

  async history(convId: number, limit: number): Promise<TurnRecord[]> {
    const rows = await this.#db.select().from(turns).where(eq(turns.conversationId, convId)).orderBy(desc(turns.id)).limit(limit);
    return rows.map(toTurn);
  }

  async turnNumber(convId: number, turnId: number): Promise<number> {
    const [row] = await this.#db
      .select({ n: sql<number>`count(*)::int` })
      .from(turns)
      .where(and(eq(turns.conversationId, convId), sql`${turns.id} <= ${turnId}`));
    return Number(row?.n ?? 0);
  }

  async startPlanning(turnId: number, p: { instruction: string; revisesTurnId: number | null; inputs: InputImages & { image: string } }): Promise<void> {
    const mask = p.inputs.mask ?? null;
    const reference = p.inputs.reference ?? null;
    await this.#db.execute(sql`
      with u as (
        update ${turns} set status = 'planning', started_at = now(), instruction = ${p.instruction}, source_image = ${p.inputs.image}, revises_turn_id = ${p.revisesTurnId}
        where id = ${turnId} and ${this.#progressCommit} returning id
      )
      insert into ${turnImages} (turn_id, role, position, image_sha) ${inputLinks(sql.raw('u'), [p.inputs.image, mask, reference])}
      on conflict do nothing`);
  }

  async markRunning(turnId: number, plan: PlanFields): Promise<void> {
    await this.#db
      .update(turns)
      .set({ status: 'running', ...plan, workflow: toStored(plan.workflow) })
      .where(and(eq(turns.id, turnId), this.#progressCommit));
  }

  async setRevises(turnId: number, revisesTurnId: number): Promise<void> {
    await this.#db.update(turns).set({ revisesTurnId }).where(eq(turns.id, turnId));
  }

  async finishTurn(turnId: number, status: TurnStatus, fields: FinishFields = {}): Promise<void> {
    await this.#db
      .update(turns)
      .set({ status, finishedAt: new Date(), ...fields, ...(fields.workflow ? { workflow: toStored(fields.workflow) } : {}) })
      .where(eq(turns.id, turnId));
  }

  async commitResult(r: CommittedResult): Promise<number> {
    const { outputs, stacks } = r;
    // Images, lineage, the finished turn and the new current image in one statement: all or nothing, one round trip.
    const imageRows = outputs.map((o) => sql`(${o.sha}, ${o.bytes}, ${o.width}, ${o.height}, ${o.format})`);
    const linkRows = outputs.map((o, position) => sql`(${r.turnId}, 'output', ${position}, ${o.sha})`);
    const committed = await this.#db.execute(sql`
      with
      ${outputs.length ? sql`img as (insert into ${images} (sha256, bytes, width, height, format) values ${sql.join(imageRows, sql`, `)} on conflict do nothing returning bytes),` : sql``}
      ${outputs.length ? sql`lnk as (insert into ${turnImages} (turn_id, role, position, image_sha) values ${sql.join(linkRows, sql`, `)}),` : sql``}
      ${stacks ? sql`cnv as (update ${conversations} set current = ${JSON.stringify(stacks.current)}::jsonb, undo_stack = ${JSON.stringify(stacks.undo)}::jsonb, redo_stack = ${JSON.stringify(stacks.redo)}::jsonb, updated_at = now() where id = ${r.conversationId}),` : sql``}
      trn as (update ${turns} set status = 'done', finished_at = now(), trace = ${JSON.stringify(r.trace)}::jsonb, run_ms = ${r.runMs}, warnings = ${JSON.stringify(r.warnings)}::jsonb, verdicts = ${r.verdicts ? JSON.stringify(r.verdicts) : null}::jsonb where id = ${r.turnId} returning id)
      select ${outputs.length ? sql`(select coalesce(sum(bytes), 0) from img)` : sql`0`} as added from trn`);
    return Number(rowsOf<{ added: string | number | null }>(committed)[0]?.added ?? 0);
  }

  async outputs(turnId: number): Promise<string[]> {
    const rows = await this.#db
      .select({ sha: turnImages.imageSha })
      .from(turnImages)
      .where(and(eq(turnImages.turnId, turnId), eq(turnImages.role, 'output')))
      .orderBy(asc(turnImages.position));
    return rows.map((r) => r.sha);
  }

  async input(turnId: number, position: number): Promise<string | undefined> {
    const [row] = await this.#db
      .select({ sha: turnImages.imageSha })
      .from(turnImages)
      .where(and(eq(turnImages.turnId, turnId), eq(turnImages.role, 'input'), eq(turnImages.position, position)));
    return row?.sha;
  }

  async takeNotices(convId?: number): Promise<Notice[]> {
    const rows = await this.#db
      .update(turns)
      .set({ noticePending: false })
      .where(and(eq(turns.noticePending, true), convId !== undefined ? eq(turns.conversationId, convId) : undefined))
      .returning({ id: turns.id, conversationId: turns.conversationId, text: turns.text });
    if (!rows.length) return [];
    const convs = await this.#db
      .select()
      .from(conversations)
      .where(inArray(conversations.id, [...new Set(rows.map((r) => r.conversationId))]));
    const byId = new Map(convs.map((c) => [c.id, toConversation(c)]));
    return rows.sort((a, b) => a.id - b.id).map((r) => ({ turnId: r.id, conversationId: r.conversationId, key: byId.get(r.conversationId)!.key, text: r.text }));
  }

  async linkMessage(convId: number, platformMessageId: string, turnId: number): Promise<void> {
    await this.#db.insert(messageLinks).values({ conversationId: convId, platformMessageId, turnId }).onConflictDoNothing();
  }

  async turnOfMessage(convId: number, platformMessageId: string): Promise<number | undefined> {
    const [row] = await this.#db
      .select({ id: messageLinks.turnId })
      .from(messageLinks)
      .where(and(eq(messageLinks.conversationId, convId), eq(messageLinks.platformMessageId, platformMessageId)));
    return row?.id;
  }

  async insertRule(r: { conversationId: number | null; platform: string; userId: string; rule: Rule }): Promise<number> {
    const [stored] = await this.#db
      .insert(rulesTable)
      .values({
        conversationId: r.conversationId,
        platform: r.platform,
        userId: r.userId,
        kind: r.rule.kind,
        brick: r.rule.brick,
        before: r.rule.before ?? null,
        text: r.rule.text,
        data: r.rule,
      })
      .returning({ id: rulesTable.id });
    return stored!.id;
  }

  async deleteRule(ruleId: number): Promise<void> {
    await this.#db.delete(rulesTable).where(eq(rulesTable.id, ruleId));
  }

  async rulesEverywhere(platform: string, userId: string): Promise<RuleRecord[]> {
    const rows = await this.#db
      .select({ id: rulesTable.id, data: rulesTable.data })
      .from(rulesTable)
      .where(and(isNull(rulesTable.conversationId), eq(rulesTable.platform, platform), eq(rulesTable.userId, userId)))
      .orderBy(asc(rulesTable.id));
    return rows.map((r) => ({ id: r.id, rule: r.data as Rule, scoped: false }));
  }

  async totalImageBytes(): Promise<number> {
    const [total] = await this.#db.select({ bytes: sql<string | null>`sum(${images.bytes})` }).from(images);
    return Number(total?.bytes ?? 0);
  }

  async recordImage(meta: ImageMeta): Promise<boolean> {
    const inserted = await this.#db
      .insert(images)
      .values({ sha256: meta.sha, bytes: meta.bytes, width: meta.width, height: meta.height, format: meta.format })
      .onConflictDoNothing()
      .returning({ sha: images.sha256 });
    return inserted.length > 0;
  }

  async image(sha: string): Promise<ImageMeta | undefined> {
    const [row] = await this.#db.select().from(images).where(eq(images.sha256, sha));
    return row && { sha: row.sha256, bytes: row.bytes, width: row.width, height: row.height, format: row.format };
  }

  async protectedImages(convId?: number): Promise<Set<string>> {
    const rows = await this.#db
      .select({ current: conversations.current, undo: conversations.undoStack, redo: conversations.redoStack })
      .from(conversations)
      .where(convId !== undefined ? eq(conversations.id, convId) : undefined);
    const keep = new Set<string>();
    for (const r of rows) for (const s of [r.current, ...r.undo, ...r.redo]) if (s) keep.add(s.image);
    return keep;
  }

  async conversationImages(convId: number): Promise<string[]> {
    const linked = await this.#db
      .select({ sha: turnImages.imageSha, first: sql<number>`min(${turnImages.turnId})` })
      .from(turnImages)
      .innerJoin(turns, eq(turns.id, turnImages.turnId))
      .where(eq(turns.conversationId, convId))
      .groupBy(turnImages.imageSha)
      .orderBy(sql`min(${turnImages.turnId})`);
    return linked.map((l) => l.sha);
  }

  async allImages(): Promise<ImageMeta[]> {
    const rows = await this.#db.select().from(images).orderBy(asc(images.createdAt));
    return rows.map((row) => ({ sha: row.sha256, bytes: row.bytes, width: row.width, height: row.height, format: row.format }));
  }

  async unlink(shas: readonly string[], convId?: number): Promise<void> {
    await this.#db
      .delete(turnImages)
      .where(
        and(
          inArray(turnImages.imageSha, [...shas]),
          convId !== undefined ? inArray(turnImages.turnId, this.#db.select({ id: turns.id }).from(turns).where(eq(turns.conversationId, convId))) : undefined,
        ),
      );
  }

  async deleteUnlinked(shas: readonly string[]): Promise<ImageMeta[]> {
    const gone = await this.#db
      .delete(images)
      .where(and(inArray(images.sha256, [...shas]), sql`not exists (select 1 from ${turnImages} where ${turnImages.imageSha} = ${images.sha256})`))
      .returning();
    return gone.map((row) => ({ sha: row.sha256, bytes: row.bytes, width: row.width, height: row.height, format: row.format }));
  }
}

/**
 * The rows linking the turn whose id the CTE `from` returns to its input images, for an insert into turn_images:
 * position 0 the photo, 1 the mask, 2 the reference photo, each only when given.
 */
function inputLinks(from: SQL, [image, mask, reference]: readonly [string | null, string | null, string | null]): SQL {
  return sql`select id, 'input', 0, ${image}::text from ${from} where ${image}::text is not null
    union all
    select id, 'input', 1, ${mask}::text from ${from} where ${mask}::text is not null
    union all
    select id, 'input', 2, ${reference}::text from ${from} where ${reference}::text is not null`;
}

function toConversation(row: ConversationRow): { id: number; key: ConversationKey; current: ConversationRow['current']; undo: ConversationRow['undoStack']; redo: ConversationRow['redoStack'] } {
  return {
    id: row.id,
    key: { platform: row.platform, chatId: row.chatId, userId: row.userId, ...(row.threadId ? { threadId: row.threadId } : {}) },
    current: row.current ?? null,
    undo: row.undoStack,
    redo: row.redoStack,
  };
}

function toTurn(row: TurnRow): TurnRecord {
  return {
    id: row.id,
    conversationId: row.conversationId,
    text: row.text,
    intent: row.intent,
    instruction: row.instruction,
    revisesTurnId: row.revisesTurnId,
    sourceImage: row.sourceImage,
    status: row.status,
    builder: row.builder,
    reasoning: row.reasoning,
    workflow: fromStored(row.workflow),
    trace: Array.isArray(row.trace) ? (row.trace as StepTrace[]) : null,
    errorMessage: row.errorMessage,
    createdAt: row.createdAt,
  };
}

/** Rows of a raw query; PGlite and node-postgres both answer with `{ rows }`. */
function rowsOf<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}

function isUniqueViolation(err: unknown): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) if ((e as { code?: string }).code === '23505') return true;
  return false;
}
