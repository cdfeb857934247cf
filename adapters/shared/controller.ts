/**
 * The chat controller: everything a chat bot does the same on every platform. It runs
 * the command table, handles the result buttons (owner check, Undo, Retry, Show plan,
 * Cancel), renders session events as one status message and an outcome, remembers which
 * platform message carried which turn, and tracks turns in flight for a graceful stop.
 * An adapter turns platform updates into IncomingMessages and ButtonPresses and gives
 * the controller a Surface to answer on; it decides nothing else.
 */
import type { Logger } from 'pino';
import { LegoEditError } from '../../src/engine/errors.ts';
import type { BrickRegistry } from '../../src/engine/registry.ts';
import { planHeading } from '../../src/sessions/format.ts';
import type { CommandReply, ConversationKey, IncomingMessage, ResultImage, SessionEvent, SessionManager } from '../../src/sessions/types.ts';
import type { AccessConfig } from './access.ts';
import { commandNamed } from './commands.ts';
import { renderWorkflowPng } from './dag.ts';
import { describe } from './describe.ts';
import { CoalescingEditor, TurnProgress } from './progress.ts';
import type { Button, ButtonAction, ButtonPress, OutgoingFile, Surface } from './surface.ts';
import { errorText, friendlyError, isPersonalNotice } from './texts.ts';
import { type AdapterTimings, TurnTracker } from './turns.ts';

export interface ChatControllerOptions {
  /** "telegram", "discord", …: which commands are offered, and the platform of every key. */
  readonly platform: string;
  readonly sessions: SessionManager;
  /** For /tools; where there is none (the terminal, which has `lego-edit bricks`), /tools says so. */
  readonly registry?: BrickRegistry;
  readonly logger: Logger;
  /** Least time between two edits of a status message (platforms rate-limit edits). */
  readonly progressIntervalMs?: number;
  /** A message nothing has answered after this long gets its status message ("Got it — working on it…", Cancel). */
  readonly acknowledgeMs?: number;
  /** Put in front of every button's data (Discord's custom ids start "le:"). */
  readonly buttonPrefix?: string;
  readonly timings?: AdapterTimings;
}

/** What every chat-platform adapter is given; each platform's own settings come beside these. */
export interface PlatformAdapterOptions {
  readonly sessions: SessionManager;
  readonly registry: BrickRegistry;
  readonly access?: AccessConfig;
  readonly maxImageBytes: number;
  readonly logger: Logger;
  /** Least time between two edits of a status message (the platforms rate-limit edits). */
  readonly progressIntervalMs?: number;
  /** Adapter-latency marks, for the benchmark. */
  readonly timings?: AdapterTimings;
}

/** The controller of a chat-platform adapter, logging through the adapter's own logger `log`. */
export function adapterController(platform: string, options: PlatformAdapterOptions, log: Logger, buttonPrefix?: string): ChatController {
  return new ChatController({
    platform,
    sessions: options.sessions,
    registry: options.registry,
    logger: log,
    ...(buttonPrefix !== undefined ? { buttonPrefix } : {}),
    ...(options.progressIntervalMs !== undefined ? { progressIntervalMs: options.progressIntervalMs } : {}),
    ...(options.timings ? { timings: options.timings } : {}),
  });
}

const BUTTONS: Readonly<Record<ButtonAction, { readonly label: string; readonly emoji: string }>> = {
  undo: { label: 'Undo', emoji: '↩️' },
  retry: { label: 'Retry', emoji: '🔁' },
  plan: { label: 'Show plan', emoji: '🧩' },
  cancel: { label: 'Cancel', emoji: '✖️' },
};
/** How long a message may go without any sign of life (the platforms' "typing…" aside). */
const ACKNOWLEDGE_MS = 500;
const ACTIONS: ReadonlySet<string> = new Set(Object.keys(BUTTONS));
const RESULT_ACTIONS: readonly ButtonAction[] = ['undo', 'retry', 'plan'];

export const NOT_YOUR_BUTTON_TEXT = 'These buttons belong to the person who asked for this edit.';
/** Results the message-to-turn map keeps; older replies resolve through the session manager's stored links. */
const REMEMBERED_RESULTS = 5000;

/** A button's data, decoded: the owner travels in it, so a press is checked without any lookup. */
export interface DecodedButton {
  readonly action: ButtonAction;
  readonly turnId: number | undefined;
  readonly ownerId: string;
  readonly threadId: string | undefined;
}

export class ChatController {
  readonly platform: string;
  readonly #o: ChatControllerOptions;
  readonly #log: Logger;
  readonly #turns = new TurnTracker();
  /** `chatId:messageId` of a result → its turn, so a reply resolves without a database round trip. */
  readonly #resultTurns = new Map<string, number>();
  /** Results being sent, by chat: a reply that names a message not known yet waits for them. */
  readonly #sending = new Map<string, Set<Promise<unknown>>>();

  constructor(options: ChatControllerOptions) {
    this.#o = options;
    this.platform = options.platform;
    this.#log = options.logger;
  }

  /** Turns being handled right now. */
  get inFlight(): number {
    return this.#turns.size;
  }

  /** Counts `work` as a turn in flight until it settles (a download before `handle`, say); its failure is logged. */
  track(work: Promise<unknown>): void {
    this.#turns.track(work.catch((err: unknown) => this.#log.error({ err: describe(err) }, 'turn failed')));
  }

  /** Waits up to `timeoutMs` for turns in flight to deliver their replies; returns how many were still running. */
  drain(timeoutMs: number): Promise<number> {
    return this.#turns.drain(timeoutMs);
  }

  // ---- buttons ------------------------------------------------------------

  button(action: ButtonAction, turnId: number | undefined, key: ConversationKey): Button {
    return { action, ...BUTTONS[action], data: `${this.#o.buttonPrefix ?? ''}${action}:${turnId ?? 0}:${key.userId}:${key.threadId ?? ''}` };
  }

  /** The action, turn and owner a button's data names; undefined for data that is not one of ours. */
  decode(data: string): DecodedButton | undefined {
    const prefix = this.#o.buttonPrefix ?? '';
    if (!data.startsWith(prefix)) return undefined;
    const [action, turnText, ownerId, threadId] = data.slice(prefix.length).split(':');
    if (!action || !ACTIONS.has(action) || !ownerId) return undefined;
    return { action: action as ButtonAction, turnId: Number(turnText) || undefined, ownerId, threadId: threadId || undefined };
  }

  /** Carries out a button press: only its owner may, and Retry runs as a tracked turn. */
  async press(press: ButtonPress, receivedAt = performance.now()): Promise<void> {
    const button = this.decode(press.data);
    if (!button) return press.notice();
    if (press.userId !== button.ownerId) return press.notice(NOT_YOUR_BUTTON_TEXT, true);
    const key = press.conversation(button.ownerId, button.threadId);
    const { turnId } = button;
    if (button.action === 'cancel') {
      let text: string;
      try {
        text = (await this.#o.sessions.cancel(key, press.userId, turnId)).text;
      } catch (err) {
        this.#log.error({ err: describe(err) }, 'cancel failed');
        text = friendlyError(err);
      }
      return press.notice(text.slice(0, 190));
    }
    const surface = await press.accept(button.action === 'undo' ? 'Undoing…' : button.action === 'plan' ? 'Drawing the plan…' : 'Trying again…', key);
    try {
      if (button.action === 'undo') await this.#answer(surface, await this.#o.sessions.undo(key));
      else if (button.action === 'plan') await this.#showPlan(surface, key, turnId);
      else {
        // Retry is feedback on the pressed turn: "again" re-plans or re-runs it (see the session manager).
        const replyTo = turnId !== undefined ? { replyTo: { turnId, ...(press.messageId !== undefined ? { messageId: press.messageId } : {}) } } : {};
        this.#turns.track(this.handle({ ...key, messageId: press.pressId, text: 'again', images: [], ...replyTo }, surface, receivedAt));
      }
    } catch (err) {
      this.#log.error({ err: describe(err) }, 'button action failed');
      await surface.text(friendlyError(err)).catch(() => undefined);
    }
  }

  async #showPlan(surface: Surface, key: ConversationKey, turnId: number | undefined): Promise<void> {
    const plan = await this.#o.sessions.showPlan(key, turnId);
    if (!plan) return surface.text('There is no plan to show yet.');
    const png = await renderWorkflowPng(plan.workflow);
    await surface.send(
      planHeading(plan),
      [
        { name: `plan-${plan.turnId}.png`, bytes: png },
        { name: `plan-${plan.turnId}.json`, bytes: Buffer.from(JSON.stringify(plan.workflow, null, 2)) },
      ],
      [],
    );
  }

  // ---- commands -----------------------------------------------------------

  /** Runs a command of the table; false when this platform has none of that name. */
  async command(name: string, argument: string, key: ConversationKey, surface: Surface): Promise<boolean> {
    const command = commandNamed(name, this.platform);
    if (!command) return false;
    try {
      await command.run({ key, argument, sessions: this.#o.sessions, ...(this.#o.registry ? { registry: this.#o.registry } : {}), say: (text) => surface.text(text), answer: (reply) => this.#answer(surface, reply) });
    } catch (err) {
      this.#log.error({ err: describe(err), command: name }, 'command failed');
      await surface.text(friendlyError(err)).catch(() => undefined);
    }
    return true;
  }

  async #answer(surface: Surface, reply: CommandReply): Promise<void> {
    const content = reply.ok ? reply.text : `⚠️ ${reply.text}`;
    if (!reply.image) return surface.text(content);
    // Named by content, so that where files are kept (the terminal's results directory) one never overwrites another.
    const name = `current-${reply.image.sha256.slice(0, 12)}.${reply.image.format === 'jpeg' ? 'jpg' : 'png'}`;
    await surface.send(content, [{ name, bytes: reply.image.bytes, image: reply.image }], []);
  }

  // ---- messages -------------------------------------------------------------

  /** An attachment that could not be taken (too large, not an image, unreachable) ends in one friendly line. */
  async refuse(surface: Surface, err: unknown): Promise<void> {
    // Every refusal is logged with its cause: ours (too large, not an image) at info, anything else as a warning.
    if (err instanceof LegoEditError) this.#log.info({ err: describe(err) }, 'refused an attachment');
    else this.#log.warn({ err: describe(err) }, 'could not fetch an attachment');
    await surface.text(friendlyError(err));
  }

  /** The turn a platform message carried, when this process sent it. */
  turnOf(chatId: string, messageId: string): number | undefined {
    return this.#resultTurns.get(`${chatId}:${messageId}`);
  }

  /**
   * Runs one message through the session manager and renders its events on `surface`.
   * A reply to a result this process sent gets its turn filled in.
   */
  async handle(message: IncomingMessage, surface: Surface, receivedAt = performance.now()): Promise<void> {
    const repliedTo = message.replyTo?.turnId === undefined ? message.replyTo?.messageId : undefined;
    // A reply to a result still being sent: its link is recorded as the send returns.
    if (repliedTo !== undefined && this.turnOf(message.chatId, repliedTo) === undefined) await Promise.allSettled([...(this.#sending.get(message.chatId) ?? [])]);
    const knownTurn = repliedTo !== undefined ? this.turnOf(message.chatId, repliedTo) : undefined;
    const incoming: IncomingMessage = knownTurn !== undefined ? { ...message, replyTo: { ...message.replyTo, turnId: knownTurn } } : message;
    const turn = new TurnView(this, surface, incoming, this.#o.progressIntervalMs ?? 1000);
    this.#o.timings?.mark(incoming.messageId, 'handle', performance.now(), receivedAt, incoming.images.length > 0);
    // Storing and decoding a photo can take a while before the first event: the user hears within a second anyway.
    const acknowledge = setTimeout(() => turn.acknowledge(), Math.max(0, (this.#o.acknowledgeMs ?? ACKNOWLEDGE_MS) - (performance.now() - receivedAt)));
    try {
      await this.#o.sessions.handle(incoming, (event) => this.#render(turn, event));
    } catch (err) {
      this.#log.error({ err: describe(err) }, 'session manager failed');
      await turn.finish();
      await surface.text(friendlyError(err)).catch(() => undefined);
    } finally {
      clearTimeout(acknowledge);
    }
  }

  async #render(turn: TurnView, event: SessionEvent): Promise<void> {
    turn.answered = true;
    const changed = turn.progress.apply(event);
    const surface = turn.surface;
    switch (event.type) {
      case 'queued':
      case 'planning':
      case 'planned':
      case 'step-started':
      case 'step-progress':
      case 'step-finished':
      case 'step-failed':
        if (changed) turn.show();
        return;
      case 'result':
        return this.#result(turn, event);
      case 'cancelled':
        if (turn.shown) await turn.finish();
        else await surface.text('Cancelled.');
        return;
      case 'error': {
        const line = errorText(event.code, event.userMessage);
        if (turn.shown && surface.outcomeInStatus) return turn.finish(line);
        if (turn.shown) await turn.finish();
        else if (isPersonalNotice(event.code) && surface.personal) return surface.personal(line);
        await surface.text(line);
        return;
      }
      case 'info':
        return turn.answer(event.text);
      case 'clarify':
        return turn.answer(event.options?.length ? `${event.question}\n${event.options.map((o) => `• ${o}`).join('\n')}` : event.question);
      default:
        return;
    }
  }

  async #result(turn: TurnView, event: Extract<SessionEvent, { type: 'result' }>): Promise<void> {
    const { surface } = turn;
    this.#o.timings?.mark(event.turnId, 'result', performance.now());
    // Words for people; the plan and its timings are behind "Show plan".
    const caption = [event.caption || 'Done.', ...event.texts].join('\n');
    // The result matters more than the last status edit: it goes at once, the status is finalised alongside.
    const finalising = surface.outcomeInStatus ? turn.close() : turn.finish();
    if (surface.outcomeInStatus) await finalising;
    const ext = (format: string): string => (format === 'jpeg' ? 'jpg' : 'png');
    // Named by the turn's number in this chat (#3 → result-3.png), as everything users see is; an image a command shows, by its content.
    const stem = (image: ResultImage): string => (event.number === undefined ? `current-${image.sha256.slice(0, 12)}` : `result-${event.number}`);
    const files: OutgoingFile[] = event.images.map((image, i) => ({ name: `${stem(image)}${event.images.length > 1 ? `-${i + 1}` : ''}.${ext(image.format)}`, bytes: image.bytes, image }));
    this.#o.timings?.mark(event.turnId, 'sent', performance.now());
    // A reply to this result can arrive before `send` returns (Discord's gateway beats its REST answer): until
    // the link is known, replies in this chat wait for it (see handle).
    const sending = surface.send(
      caption,
      files,
      RESULT_ACTIONS.map((a) => this.button(a, event.turnId, turn.message)),
    );
    const pending = this.#sending.get(turn.message.chatId) ?? new Set<Promise<unknown>>();
    this.#sending.set(turn.message.chatId, pending);
    const settled = sending.then((ids) => {
      for (const id of ids) this.#remember(`${turn.message.chatId}:${id}`, event.turnId);
    });
    pending.add(settled);
    let sent: readonly string[];
    try {
      sent = await sending;
      await settled;
    } finally {
      pending.delete(settled);
      if (!pending.size) this.#sending.delete(turn.message.chatId);
    }
    await finalising;
    for (const id of sent) {
      await this.#o.sessions.linkMessage(turn.message, event.turnId, id).catch((err: unknown) => this.#log.warn({ err: describe(err) }, 'linkMessage failed'));
    }
  }

  #remember(messageKey: string, turnId: number): void {
    this.#resultTurns.set(messageKey, turnId);
    if (this.#resultTurns.size > REMEMBERED_RESULTS) this.#resultTurns.delete(this.#resultTurns.keys().next().value!);
  }
}

/** One turn as its user sees it: the progress folded from events, and the one status message showing it. */
class TurnView {
  readonly progress = new TurnProgress();
  readonly #controller: ChatController;
  readonly #intervalMs: number;
  #editor: CoalescingEditor | undefined;

  constructor(
    controller: ChatController,
    readonly surface: Surface,
    readonly message: IncomingMessage,
    intervalMs: number,
  ) {
    this.#controller = controller;
    this.#intervalMs = intervalMs;
  }

  /** Whether the session has said anything about this message yet. */
  answered = false;

  /** Whether a status message was started. */
  get shown(): boolean {
    return this.#editor !== undefined;
  }

  /** Nothing said yet: the status message goes up now, with Cancel. */
  acknowledge(): void {
    if (!this.answered && !this.shown) this.show();
  }

  /** A line of text for this message; an acknowledgement still showing "working on it" becomes that line. */
  async answer(text: string): Promise<void> {
    if (this.shown && this.progress.phase === 'received') return this.finish(text);
    return this.surface.text(text);
  }

  #buttons(): Button[] {
    return this.progress.running ? [this.#controller.button('cancel', this.progress.turnId, this.message)] : [];
  }

  /** Shows the latest progress: the first time at once, then coalesced. */
  show(): void {
    this.#editor ??= new CoalescingEditor((text) => this.surface.status(text, this.#buttons()), this.#intervalMs);
    this.#editor.set(this.progress.render());
  }

  /** Stops progress edits (the outcome is about to replace the status). */
  async close(): Promise<void> {
    await this.#editor?.close();
  }

  /** Writes the status one last time, without its Cancel button. */
  async finish(text = this.progress.render()): Promise<void> {
    if (!this.#editor) return;
    await this.#editor.close();
    await this.surface.status(text, []).catch(() => undefined);
  }
}
