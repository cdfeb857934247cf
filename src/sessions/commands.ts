/** The conversation commands: undo and redo, reset, rules and forgetting one, history and plan views. */
import { summariseWorkflow, toLegoEditJson } from '../engine/workflow/serialise.ts';
import { formatTimings, quote } from './format.ts';
import { DamagedImageError } from './storage-errors.ts';
import type { SessionImages } from './session-images.ts';
import type { ConversationStates } from './states.ts';
import type { ImageState, TurnStore } from './store/turn-store.ts';
import type { TurnRunner } from './turn-runner.ts';
import type { CommandReply, HistoryEntry, Intent, PlanView, RuleEntry } from './types.ts';

export class ConversationCommands {
  readonly #store: TurnStore;
  readonly #states: ConversationStates;
  readonly #images: SessionImages;
  readonly #runner: TurnRunner;

  constructor(options: { store: TurnStore; states: ConversationStates; images: SessionImages; runner: TurnRunner }) {
    this.#store = options.store;
    this.#states = options.states;
    this.#images = options.images;
    this.#runner = options.runner;
  }

  async undoRedo(convId: number, which: 'undo' | 'redo'): Promise<CommandReply> {
    const conv = await this.#states.get(convId);
    const from = which === 'undo' ? [...conv.undo] : [...conv.redo];
    const to = which === 'undo' ? [...conv.redo] : [...conv.undo];
    const next = from.pop();
    if (!next) return { ok: false, text: which === 'undo' ? 'Nothing to undo.' : 'Nothing to redo.' };
    // Read (and checked against its hash) before anything moves: a damaged image is refused and the stacks stay as they were.
    let image: Awaited<ReturnType<SessionImages['result']>>;
    try {
      image = await this.#images.result(next.image);
    } catch (err) {
      if (err instanceof DamagedImageError) return { ok: false, text: `Cannot ${which}: ${err.userMessage}` };
      throw err;
    }
    if (conv.current) to.push(conv.current);
    // Undoing a turn's result, or redoing it, is feedback on that turn (kept for the export); the photo an edit started from is not a result.
    const judged = which === 'undo' ? conv.current : next;
    const stacks = { current: next, undo: which === 'undo' ? from : to, redo: which === 'undo' ? to : from };
    await this.#store.moveCurrent(convId, stacks, judged?.turnId != null ? { turnId: judged.turnId, image: judged.image, kind: which } : undefined);
    this.#states.apply(conv, stacks);
    const text = `${which === 'undo' ? 'Back to' : 'Forward again to'} ${await this.describeImage(convId, next)}.`;
    return image ? { ok: true, text, image } : { ok: true, text };
  }

  /**
   * What an image of the stacks is, in the user's terms: the result of a turn ("the result of #1 ("make the car
   * red")") or a photo they sent. A stack entry names the turn that put it there, which for an edit's starting
   * photo is that edit, so only the turn's outputs say whether it is its result.
   */
  async describeImage(convId: number, state: ImageState): Promise<string> {
    if (state.turnId !== null && (await this.#store.outputs(state.turnId)).includes(state.image)) {
      const turn = await this.#store.turn(convId, state.turnId);
      const number = await this.#store.turnNumber(convId, state.turnId);
      return `the result of #${number}${turn?.text ? ` (${quote(turn.text)})` : ''}`;
    }
    return 'your original photo';
  }

  async reset(convId: number): Promise<CommandReply> {
    await this.#store.reset(convId);
    const conv = await this.#states.get(convId);
    Object.assign(conv, { current: null, undo: [], redo: [], rules: conv.rules.filter((r) => !r.scoped) });
    const kept = conv.rules.length ? ` Your ${conv.rules.length === 1 ? 'rule' : 'rules'} for all chats still ${conv.rules.length === 1 ? 'holds' : 'hold'} (/rules).` : '';
    return { ok: true, text: `Started afresh: no current image and no rules for this chat. Your history is kept (/history).${kept} Send a photo to begin.` };
  }

  async rules(convId: number): Promise<RuleEntry[]> {
    return (await this.#states.get(convId)).rules.map((r, i) => ({ index: i + 1, text: r.rule.text, kind: r.rule.kind, everywhere: !r.scoped }));
  }

  async forgetRule(convId: number, index: number): Promise<CommandReply> {
    const conv = await this.#states.get(convId);
    const list = conv.rules;
    const target = list[index - 1];
    if (!target || index < 1) {
      return { ok: false, text: list.length ? `There is no rule ${index}; your rules are numbered 1 to ${list.length} (see /rules).` : 'You have no rules to forget.' };
    }
    await this.#states.forgetRule(conv, target);
    return { ok: true, text: `Forgot rule ${index}: ${quote(target.rule.text)}${target.scoped ? '' : ', in all your chats'}.` };
  }

  async history(convId: number, limit: number): Promise<HistoryEntry[]> {
    const [conv, rows] = await Promise.all([this.#states.get(convId), this.#store.history(convId, limit)]);
    const oldest = rows.at(-1);
    // A conversation's turns are numbered from 1 in order, so the listed ones count on from the oldest listed.
    const first = oldest ? await this.#store.turnNumber(convId, oldest.id) : 1;
    const current = conv.current;
    // Marked current only when the current image is that turn's result, not the photo it started from.
    const currentTurn = current?.turnId != null && (await this.#store.outputs(current.turnId)).includes(current.image) ? current.turnId : undefined;
    return [...rows].reverse().map((r, i) => ({
      turnId: r.id,
      number: first + i,
      intent: r.intent as Intent,
      instruction: r.text,
      status: r.status,
      ...(r.workflow ? { summary: summariseWorkflow(r.workflow) } : {}),
      createdAt: r.createdAt,
      current: currentTurn === r.id,
    }));
  }

  async plan(convId: number, turnId?: number): Promise<PlanView | undefined> {
    const row = turnId !== undefined ? await this.#store.turn(convId, turnId) : await this.#runner.lastPlanned(convId);
    if (!row?.workflow) return undefined;
    return {
      turnId: row.id,
      number: await this.#store.turnNumber(convId, row.id),
      summary: summariseWorkflow(row.workflow),
      workflow: toLegoEditJson(row.workflow),
      builder: row.builder ?? 'unknown',
      ...(row.reasoning ? { reasoning: row.reasoning } : {}),
      ...(row.trace?.length ? { timings: formatTimings(row.trace) } : {}),
    };
  }
}
