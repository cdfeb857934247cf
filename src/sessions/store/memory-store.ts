/**
 * The TurnStore in memory, for tests: the same behaviour as DrizzleTurnStore
 * (one specification runs against both), nothing kept past the process.
 * Records are copied in and out, so a caller can never change what is stored
 * by changing an object it holds.
 */
import type { Rule } from '../../builder/builder.ts';
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

interface StoredTurn extends TurnRecord {
  messageId: string | null;
  noticePending: boolean;
  reactions: Array<{ kind: 'undo' | 'redo'; at: string }>;
  fields: FinishFields;
}

interface StoredConversation {
  readonly id: number;
  readonly key: ConversationKey;
  stacks: Stacks;
}

interface StoredRule {
  readonly id: number;
  readonly conversationId: number | null;
  readonly platform: string;
  readonly userId: string;
  readonly rule: Rule;
}

const copy = <T>(v: T): T => structuredClone(v);
const UNFINISHED: readonly TurnStatus[] = ['queued', 'planning', 'running'];

function keyOf(k: ConversationKey): string {
  return JSON.stringify([k.platform, k.chatId, k.threadId ?? '', k.userId]);
}

export class MemoryTurnStore implements TurnStore {
  readonly #conversations = new Map<number, StoredConversation>();
  readonly #byKey = new Map<string, number>();
  readonly #turns = new Map<number, StoredTurn>();
  /** `turnId/role/position` → image. */
  readonly #links = new Map<string, { turnId: number; role: 'input' | 'output'; position: number; sha: string }>();
  readonly #rules = new Map<number, StoredRule>();
  readonly #images = new Map<string, ImageMeta>();
  readonly #messageLinks = new Map<string, number>();
  #nextId = { conversation: 1, turn: 1, rule: 1 };

  async recover(): Promise<{ interrupted: number[]; noticeDue: number[] }> {
    const interrupted: number[] = [];
    for (const t of this.#turns.values()) {
      if (!UNFINISHED.includes(t.status)) continue;
      Object.assign(t, { status: 'interrupted', noticePending: true });
      interrupted.push(t.id);
    }
    const due = new Set([...this.#turns.values()].filter((t) => t.noticePending).map((t) => t.conversationId));
    return { interrupted, noticeDue: [...due] };
  }

  async conversationId(key: ConversationKey): Promise<number> {
    const k = keyOf(key);
    let id = this.#byKey.get(k);
    if (id === undefined) {
      id = this.#nextId.conversation++;
      const stored: ConversationKey = { platform: key.platform, chatId: key.chatId, userId: key.userId, ...(key.threadId ? { threadId: key.threadId } : {}) };
      this.#conversations.set(id, { id, key: stored, stacks: { current: null, undo: [], redo: [] } });
      this.#byKey.set(k, id);
    }
    return id;
  }

  async findConversation(key: ConversationKey): Promise<number | undefined> {
    return this.#byKey.get(keyOf(key));
  }

  async load(convId: number, historyTurns: number): Promise<ConversationSnapshot | undefined> {
    const c = this.#conversations.get(convId);
    if (!c) return undefined;
    const rules = [...this.#rules.values()]
      .filter((r) => r.conversationId === convId || (r.conversationId === null && r.platform === c.key.platform && r.userId === c.key.userId))
      .sort((a, b) => a.id - b.id)
      .map((r) => ({ id: r.id, rule: copy(r.rule), scoped: r.conversationId !== null }));
    const mine = this.#turnsOf(convId).sort((a, b) => b.id - a.id);
    const planned = mine.filter((t) => t.workflow !== null).slice(0, historyTurns);
    const wordless = mine.filter((t) => t.intent === 'ask-what-to-do' && this.#linksOf(t.id, 'input').some((l) => l.position > 0)).map((t) => t.id);
    return { conversation: { id: c.id, key: copy(c.key), ...copy(c.stacks) }, rules, planned: planned.map(toRecord), wordless };
  }

  async setStacks(convId: number, stacks: Stacks): Promise<void> {
    const c = this.#conversations.get(convId);
    if (c) c.stacks = copy(stacks);
  }

  async moveCurrent(convId: number, stacks: Stacks, reaction?: { turnId: number; image: string; kind: 'undo' | 'redo' }): Promise<void> {
    await this.setStacks(convId, stacks);
    const t = reaction && this.#turns.get(reaction.turnId);
    if (t && t.conversationId === convId && t.sourceImage !== reaction.image) t.reactions.push({ kind: reaction.kind, at: new Date().toISOString() });
  }

  async reset(convId: number): Promise<void> {
    await this.setStacks(convId, { current: null, undo: [], redo: [] });
    for (const r of [...this.#rules.values()]) if (r.conversationId === convId) this.#rules.delete(r.id);
  }

  async insertTurn(t: NewTurn): Promise<number | undefined> {
    if (t.messageId && this.#turnsOf(t.conversationId).some((x) => x.messageId === t.messageId)) return undefined;
    const id = this.#nextId.turn++;
    this.#turns.set(id, {
      id,
      conversationId: t.conversationId,
      messageId: t.messageId || null,
      text: t.text,
      intent: t.intent,
      instruction: '',
      revisesTurnId: null,
      sourceImage: t.inputs.image ?? null,
      status: t.status,
      builder: null,
      reasoning: null,
      workflow: null,
      trace: null,
      errorMessage: null,
      createdAt: new Date(),
      noticePending: false,
      reactions: [],
      fields: {},
    });
    this.#linkInputs(id, t.inputs);
    return id;
  }

  async turn(convId: number, turnId: number): Promise<TurnRecord | undefined> {
    const t = this.#turns.get(turnId);
    return t && t.conversationId === convId ? toRecord(t) : undefined;
  }

  async history(convId: number, limit: number): Promise<TurnRecord[]> {
    return this.#turnsOf(convId)
      .sort((a, b) => b.id - a.id)
      .slice(0, limit)
      .map(toRecord);
  }

  async turnNumber(convId: number, turnId: number): Promise<number> {
    return this.#turnsOf(convId).filter((t) => t.id <= turnId).length;
  }

  async startPlanning(turnId: number, p: { instruction: string; revisesTurnId: number | null; inputs: InputImages & { image: string } }): Promise<void> {
    const t = this.#turns.get(turnId);
    if (!t) return;
    Object.assign(t, { status: 'planning', instruction: p.instruction, sourceImage: p.inputs.image, revisesTurnId: p.revisesTurnId });
    this.#linkInputs(turnId, p.inputs);
  }

  async markRunning(turnId: number, plan: PlanFields): Promise<void> {
    this.#update(turnId, 'running', plan);
  }

  async setRevises(turnId: number, revisesTurnId: number): Promise<void> {
    const t = this.#turns.get(turnId);
    if (t) Object.assign(t, { revisesTurnId });
  }

  async finishTurn(turnId: number, status: TurnStatus, fields: FinishFields = {}): Promise<void> {
    this.#update(turnId, status, fields);
  }

  async commitResult(r: CommittedResult): Promise<number> {
    let added = 0;
    for (const [position, o] of r.outputs.entries()) {
      if (!this.#images.has(o.sha)) {
        this.#images.set(o.sha, copy(o));
        added += o.bytes;
      }
      this.#links.set(`${r.turnId}/output/${position}`, { turnId: r.turnId, role: 'output', position, sha: o.sha });
    }
    if (r.stacks) await this.setStacks(r.conversationId, r.stacks);
    this.#update(r.turnId, 'done', { trace: copy(r.trace), runMs: r.runMs });
    return added;
  }

  async outputs(turnId: number): Promise<string[]> {
    return this.#linksOf(turnId, 'output').map((l) => l.sha);
  }

  async input(turnId: number, position: number): Promise<string | undefined> {
    return this.#links.get(`${turnId}/input/${position}`)?.sha;
  }

  async takeNotices(convId?: number): Promise<Notice[]> {
    const due = [...this.#turns.values()].filter((t) => t.noticePending && (convId === undefined || t.conversationId === convId)).sort((a, b) => a.id - b.id);
    return due.map((t) => {
      t.noticePending = false;
      return { turnId: t.id, conversationId: t.conversationId, key: copy(this.#conversations.get(t.conversationId)!.key), text: t.text };
    });
  }

  async linkMessage(convId: number, platformMessageId: string, turnId: number): Promise<void> {
    const k = JSON.stringify([convId, platformMessageId]);
    if (!this.#messageLinks.has(k)) this.#messageLinks.set(k, turnId);
  }

  async turnOfMessage(convId: number, platformMessageId: string): Promise<number | undefined> {
    return this.#messageLinks.get(JSON.stringify([convId, platformMessageId]));
  }

  async insertRule(r: { conversationId: number | null; platform: string; userId: string; rule: Rule }): Promise<number> {
    const id = this.#nextId.rule++;
    this.#rules.set(id, { id, conversationId: r.conversationId, platform: r.platform, userId: r.userId, rule: copy(r.rule) });
    return id;
  }

  async deleteRule(ruleId: number): Promise<void> {
    this.#rules.delete(ruleId);
  }

  async rulesEverywhere(platform: string, userId: string): Promise<RuleRecord[]> {
    return [...this.#rules.values()]
      .filter((r) => r.conversationId === null && r.platform === platform && r.userId === userId)
      .sort((a, b) => a.id - b.id)
      .map((r) => ({ id: r.id, rule: copy(r.rule), scoped: false }));
  }

  async totalImageBytes(): Promise<number> {
    let total = 0;
    for (const i of this.#images.values()) total += i.bytes;
    return total;
  }

  async recordImage(meta: ImageMeta): Promise<boolean> {
    if (this.#images.has(meta.sha)) return false;
    this.#images.set(meta.sha, copy(meta));
    return true;
  }

  async image(sha: string): Promise<ImageMeta | undefined> {
    const meta = this.#images.get(sha);
    return meta && copy(meta);
  }

  async protectedImages(convId?: number): Promise<Set<string>> {
    const keep = new Set<string>();
    for (const c of this.#conversations.values()) {
      if (convId !== undefined && c.id !== convId) continue;
      for (const s of [c.stacks.current, ...c.stacks.undo, ...c.stacks.redo]) if (s) keep.add(s.image);
    }
    return keep;
  }

  async conversationImages(convId: number): Promise<string[]> {
    const first = new Map<string, number>();
    for (const l of this.#links.values()) {
      if (this.#turns.get(l.turnId)?.conversationId !== convId) continue;
      first.set(l.sha, Math.min(first.get(l.sha) ?? Infinity, l.turnId));
    }
    return [...first].sort((a, b) => a[1] - b[1]).map(([sha]) => sha);
  }

  async allImages(): Promise<ImageMeta[]> {
    // Insertion order is creation order.
    return [...this.#images.values()].map(copy);
  }

  async unlink(shas: readonly string[], convId?: number): Promise<void> {
    const drop = new Set(shas);
    for (const [k, l] of this.#links) {
      if (drop.has(l.sha) && (convId === undefined || this.#turns.get(l.turnId)?.conversationId === convId)) this.#links.delete(k);
    }
  }

  async deleteUnlinked(shas: readonly string[]): Promise<ImageMeta[]> {
    const linked = new Set([...this.#links.values()].map((l) => l.sha));
    const gone: ImageMeta[] = [];
    for (const sha of new Set(shas)) {
      const meta = this.#images.get(sha);
      if (!meta || linked.has(sha)) continue;
      this.#images.delete(sha);
      gone.push(meta);
    }
    return gone;
  }

  #turnsOf(convId: number): StoredTurn[] {
    return [...this.#turns.values()].filter((t) => t.conversationId === convId);
  }

  #linksOf(turnId: number, role: 'input' | 'output'): Array<{ position: number; sha: string }> {
    return [...this.#links.values()].filter((l) => l.turnId === turnId && l.role === role).sort((a, b) => a.position - b.position);
  }

  /** Links inputs not linked yet (as the database's `on conflict do nothing`). */
  #linkInputs(turnId: number, inputs: InputImages): void {
    for (const [position, sha] of [inputs.image, inputs.mask, inputs.reference].entries()) {
      const k = `${turnId}/input/${position}`;
      if (sha && !this.#links.has(k)) this.#links.set(k, { turnId, role: 'input', position, sha });
    }
  }

  #update(turnId: number, status: TurnStatus, fields: FinishFields): void {
    const t = this.#turns.get(turnId);
    if (!t) return;
    const f = copy(fields);
    t.fields = { ...t.fields, ...f };
    Object.assign(t, {
      status,
      ...(f.builder !== undefined ? { builder: f.builder } : {}),
      ...(f.reasoning !== undefined ? { reasoning: f.reasoning } : {}),
      ...(f.workflow !== undefined ? { workflow: f.workflow } : {}),
      ...(f.trace !== undefined ? { trace: f.trace } : {}),
      ...(f.errorMessage !== undefined ? { errorMessage: f.errorMessage } : {}),
    });
  }
}

function toRecord(t: StoredTurn): TurnRecord {
  const { messageId: _m, noticePending: _n, reactions: _r, fields: _f, ...record } = t;
  return copy(record);
}
