/**
 * The one status message per turn: what the user sees while a turn is queued,
 * planned and run, rebuilt from SessionEvents and pushed to the platform by a
 * coalescing editor, because chat platforms rate-limit edits and a fast
 * workflow produces events far quicker than a message can be edited.
 */
import type { LegoEditJson } from '../../src/engine/workflow/serialise.ts';
import type { SessionEvent } from '../../src/sessions/types.ts';

interface StepState {
  readonly brick: string;
  state: 'running' | 'ok' | 'cached' | 'failed';
  durationMs?: number;
  fraction?: number;
}

/** The first text literal of each step ("the left sheep"), as a user recognises what the step works on. */
function stepLiterals(workflow: LegoEditJson): Map<number, string> {
  const literals = new Map<number, string>();
  for (const item of workflow.pipeline) {
    if (!('step' in item)) continue;
    const literal = Object.values(item.input).find((v) => typeof v === 'string' && !/(init|step\s*\d+)\s*\[/i.test(v));
    if (typeof literal === 'string') literals.set(item.step, literal.length > 40 ? `${literal.slice(0, 39)}…` : literal);
  }
  return literals;
}

/** What a step is doing, in words ("finding the car", "removing it"), never a brick name. */
export function stepInWords(brick: string, literal: string | undefined): string {
  const b = brick.toUpperCase();
  if (['RES', 'MASK-SEG', 'SEGMENT', 'REFERRING'].includes(b)) return literal ? `finding ${literal}` : 'finding what to edit';
  if (b === 'SOS') return 'finding the main subject';
  if (b === 'FACE-DET') return 'finding faces';
  if (b === 'TEXT-DET') return 'finding text';
  if (b === 'ADD-PRED' || b === 'CMI-PRED') return 'working out where it goes';
  if (['BBOX', 'DILATE', 'INVERSE', 'COMPOSE'].includes(b)) return 'shaping the area to edit';
  if (b === 'FASTINPAINT' || b === 'FLUX-INPAINT') return 'filling in the background';
  if (b === 'FLUX-RCM') return literal ? `recolouring it ${literal}` : 'recolouring it';
  if (b === 'GRAYSCALE') return 'making it black and white';
  if (b === 'ADJUST') return 'adjusting the light and colour';
  if (b === 'BLUR') return 'blurring';
  if (b.startsWith('FLUX-')) return 'painting the new version';
  return 'editing the picture';
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

export class TurnProgress {
  phase: 'received' | 'queued' | 'planning' | 'running' | 'done' | 'failed' | 'cancelled' = 'received';
  turnId: number | undefined;
  summary: string | undefined;
  workflow: LegoEditJson | undefined;
  readonly startedAt = performance.now();
  #position = 0;
  #total = 0;
  #literals = new Map<number, string>();
  readonly #steps = new Map<number, StepState>();

  /** Folds one event in; returns whether the status text changed. */
  apply(event: SessionEvent): boolean {
    const before = this.render();
    if ('turnId' in event && event.turnId !== undefined) this.turnId = event.turnId;
    switch (event.type) {
      case 'queued':
        this.phase = 'queued';
        this.#position = event.position;
        break;
      case 'planning':
        this.phase = 'planning';
        this.#steps.clear();
        break;
      case 'planned':
        this.phase = 'running';
        this.summary = event.summary;
        this.workflow = event.workflow;
        this.#total = event.steps;
        this.#literals = stepLiterals(event.workflow);
        break;
      case 'step-started':
        this.phase = 'running';
        this.#steps.set(event.step, { brick: event.brick, state: 'running' });
        break;
      case 'step-progress': {
        const s = this.#steps.get(event.step);
        if (s && event.fraction !== undefined) s.fraction = event.fraction;
        break;
      }
      case 'step-finished': {
        const s: StepState = this.#steps.get(event.step) ?? { brick: event.brick, state: 'running' };
        s.state = event.cached ? 'cached' : 'ok';
        s.durationMs = event.durationMs;
        this.#steps.set(event.step, s);
        break;
      }
      case 'step-failed': {
        const s: StepState = this.#steps.get(event.step) ?? { brick: event.brick, state: 'running' };
        s.state = 'failed';
        this.#steps.set(event.step, s);
        break;
      }
      case 'result':
        this.phase = 'done';
        break;
      case 'error':
        this.phase = 'failed';
        break;
      case 'cancelled':
        this.phase = 'cancelled';
        break;
      default:
        break;
    }
    return this.render() !== before;
  }

  get running(): boolean {
    return this.phase === 'received' || this.phase === 'queued' || this.phase === 'planning' || this.phase === 'running';
  }

  elapsedMs(): number {
    return performance.now() - this.startedAt;
  }

  render(): string {
    switch (this.phase) {
      case 'received':
        return '👀 Got it — working on it…';
      case 'queued':
        return this.#position <= 1 ? '⏳ Queued: you’re next (one edit at a time per conversation).' : `⏳ Queued: position ${this.#position}.`;
      case 'planning':
        return '🧠 Planning your edit…';
      case 'done':
        return '✅ Done.';
      case 'failed':
        return '✖️ Stopped.';
      case 'cancelled':
        return 'Cancelled.';
      default:
        break;
    }
    const total = this.#total || this.#steps.size;
    // The furthest step started is what the user is waiting for.
    const current = [...this.#steps.entries()].sort((a, b) => b[0] - a[0])[0];
    if (!current) return total > 1 ? `⚙️ Starting: ${total} steps…` : '⚙️ Working on it…';
    const [step, s] = current;
    const percent = s.state === 'running' && s.fraction !== undefined ? ` ${Math.round(s.fraction * 100)}%` : '';
    const words = stepInWords(s.brick, this.#literals.get(step));
    return total > 1 ? `⚙️ Step ${step} of ${total}: ${words}…${percent}` : `⚙️ ${words.charAt(0).toUpperCase()}${words.slice(1)}…${percent}`;
  }
}

/**
 * Pushes the latest text with at most one request in flight and at least
 * `minIntervalMs` between requests; intermediate texts are skipped, never reordered.
 */
export class CoalescingEditor {
  readonly #push: (text: string) => Promise<void>;
  readonly #minIntervalMs: number;
  #latest: string | undefined;
  #shown: string | undefined;
  #lastAt = 0;
  #loop: Promise<void> | undefined;
  #closed = false;
  #wake: (() => void) | undefined;

  constructor(push: (text: string) => Promise<void>, minIntervalMs: number, shown?: string) {
    this.#push = push;
    this.#minIntervalMs = minIntervalMs;
    this.#shown = shown;
    // Text already on screen counts as the last push; otherwise the first one goes at once.
    this.#lastAt = shown === undefined ? -Infinity : performance.now();
  }

  set(text: string): void {
    if (this.#closed) return;
    this.#latest = text;
    this.#loop ??= this.#run().finally(() => {
      this.#loop = undefined;
    });
  }

  async #run(): Promise<void> {
    while (!this.#closed && this.#latest !== undefined && this.#latest !== this.#shown) {
      const wait = this.#lastAt + this.#minIntervalMs - performance.now();
      if (wait > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
        // Closed while waiting: the final message supersedes this edit, so don't delay it.
        if (this.#closed) break;
      }
      const text = this.#latest;
      this.#lastAt = performance.now();
      try {
        await this.#push(text);
      } catch {
        // A failed progress edit is cosmetic; the final message is sent separately.
      }
      this.#shown = text;
    }
  }

  /** Waits until the latest text is shown. */
  async flush(): Promise<void> {
    while (this.#loop) await this.#loop;
  }

  /** Stops further edits (the status message is about to be replaced or finalised). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    while (this.#loop) await this.#loop;
  }
}
