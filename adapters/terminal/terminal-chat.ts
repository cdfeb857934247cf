/**
 * The terminal adapter: a conversation on stdin/stdout over the same session
 * manager the chat platforms use. Lines are instructions or feedback; slash
 * commands map to the manager's commands; results are written as files and
 * their paths printed.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { formatHistory, formatPlan, formatRules } from '../../src/sessions/format.ts';
import type { ConversationKey, IncomingImage, SessionEvent, SessionManager } from '../../src/sessions/types.ts';

export interface TerminalChatOptions {
  readonly manager: SessionManager;
  readonly input: Readable;
  readonly output: Writable;
  /** Where result images are written. */
  readonly resultsDir: string;
  readonly key: ConversationKey;
  /** A photo to send with the first instruction. */
  readonly initialImage?: string;
}

export const HELP = `Type what to change ("make it black and white"), or feedback on the last result ("too much", "no, darker instead").
Commands: /open FILE (photo for the next message)  /with FILE (a mask, or a second photo to paste in, going with it)  /undo  /redo  /history  /rules  /forget N  /plan [TURN]  /reset  /cancel  /help  /quit`;

export class TerminalChat {
  readonly #o: TerminalChatOptions;
  #pending?: IncomingImage & { readonly path: string };
  /** A mask or reference photo going with the pending photo. */
  #second?: IncomingImage & { readonly path: string };
  #seq = 0;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(options: TerminalChatOptions) {
    this.#o = options;
  }

  #say(text: string): void {
    this.#o.output.write(`${text}\n`);
  }

  /** Runs until /quit or end of input; waits for edits still running. */
  async run(): Promise<void> {
    this.#say(HELP);
    if (this.#o.initialImage) await this.#open(this.#o.initialImage);
    const rl = createInterface({ input: this.#o.input, terminal: false });
    for await (const line of rl) {
      if (!(await this.handleLine(line))) break;
    }
    rl.close();
    await Promise.all(this.#inFlight);
  }

  /** Handles one line; false means quit. Messages are not awaited, so /cancel works while an edit runs. */
  async handleLine(raw: string): Promise<boolean> {
    const line = raw.trim();
    if (!line) return true;
    const { manager, key } = this.#o;
    const [command, ...rest] = line.split(/\s+/);
    const arg = rest.join(' ');
    // Commands answer about the state after what the user already sent; only /cancel must not wait.
    if (command?.startsWith('/') && command !== '/cancel') await this.idle();
    switch (command?.toLowerCase()) {
      case '/quit':
      case '/exit':
        return false;
      case '/help':
        this.#say(HELP);
        return true;
      case '/open':
        await this.#open(arg);
        return true;
      case '/with':
        await this.#with(arg);
        return true;
      case '/cancel':
        this.#say((await manager.cancel(key, key.userId)).text);
        return true;
      case '/history':
        this.#say(formatHistory(await manager.history(key, 20)));
        return true;
      case '/rules':
        this.#say(formatRules(await manager.rules(key)));
        return true;
      case '/forget': {
        const n = Number(arg);
        if (!Number.isInteger(n) || n < 1) this.#say('Usage: /forget N, with N from /rules.');
        else this.#say((await manager.forgetRule(key, n)).text);
        return true;
      }
      case '/plan': {
        const view = await manager.showPlan(key, arg ? Number(arg.replace(/^#/, '')) : undefined);
        this.#say(view ? formatPlan(view) : 'There is no plan yet.');
        return true;
      }
      case '/undo':
      case '/redo':
      case '/reset': {
        const reply = command === '/undo' ? await manager.undo(key) : command === '/redo' ? await manager.redo(key) : await manager.reset(key);
        this.#say(reply.text);
        if (reply.image) this.#say(`  current image: ${await this.#write(`current-${reply.image.sha256.slice(0, 12)}`, reply.image.bytes, reply.image.format)}`);
        return true;
      }
      default:
        if (command?.startsWith('/')) {
          this.#say(`Unknown command ${command}. ${HELP.split('\n')[1]}`);
          return true;
        }
    }
    const image = this.#pending;
    const second = this.#second;
    this.#pending = undefined;
    this.#second = undefined;
    const done = manager
      .handle(
        {
          ...key,
          messageId: `${process.pid}-${Date.now()}-${++this.#seq}`,
          text: line,
          images: image ? [{ bytes: image.bytes, name: image.path }, ...(second ? [{ bytes: second.bytes, name: second.path }] : [])] : [],
        },
        (e) => this.#render(e),
      )
      .then(
        () => undefined,
        (err: unknown) => this.#say(`error: ${err instanceof Error ? err.message : String(err)}`),
      );
    this.#inFlight.add(done);
    void done.finally(() => this.#inFlight.delete(done));
    return true;
  }

  /** Waits for every message sent so far to be handled. */
  async idle(): Promise<void> {
    while (this.#inFlight.size) await Promise.all(this.#inFlight);
  }

  async #open(path: string): Promise<void> {
    const file = await this.#read(path, '/open');
    if (!file) return;
    this.#pending = file;
    this.#second = undefined;
    this.#say(`Photo ${file.path} will go with your next message. What should I do with it?`);
  }

  async #with(path: string): Promise<void> {
    if (!this.#pending) {
      this.#say('Open the photo to edit first (/open FILE), then /with FILE.');
      return;
    }
    const file = await this.#read(path, '/with');
    if (!file) return;
    this.#second = file;
    this.#say(`${file.path} goes with it: a black-and-white image is the region to edit, a photo is something to paste in ("add this on the left").`);
  }

  async #read(path: string, command: string): Promise<(IncomingImage & { readonly path: string }) | undefined> {
    if (!path) {
      this.#say(`Usage: ${command} FILE`);
      return undefined;
    }
    const full = resolve(path);
    try {
      return { bytes: await readFile(full), path: full };
    } catch (err) {
      this.#say(`Cannot read ${full}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      return undefined;
    }
  }

  async #write(name: string, bytes: Uint8Array, format: string): Promise<string> {
    await mkdir(this.#o.resultsDir, { recursive: true });
    const path = join(this.#o.resultsDir, `${name}.${format === 'jpeg' ? 'jpg' : format}`);
    await writeFile(path, bytes);
    return path;
  }

  async #render(e: SessionEvent): Promise<void> {
    switch (e.type) {
      case 'queued':
        return this.#say(`#${e.turnId} queued (position ${e.position})`);
      case 'planning':
        return this.#say(`#${e.turnId} planning…`);
      case 'planned':
        return this.#say(`#${e.turnId} plan (${e.builder}): ${e.summary}`);
      case 'step-started':
        return this.#say(`  … step ${e.step} ${e.brick}`);
      case 'step-progress':
        return e.fraction !== undefined ? this.#say(`  … step ${e.step} ${Math.round(e.fraction * 100)}%${e.message ? ` ${e.message}` : ''}`) : undefined;
      case 'step-finished':
        return this.#say(`  ✓ step ${e.step} ${e.brick} ${e.cached ? 'cached' : `${(e.durationMs / 1000).toFixed(2)} s`}${e.emptyMasks.length ? ' (empty mask)' : ''}`);
      case 'step-failed':
        return this.#say(`  ✗ step ${e.step} ${e.brick}: ${e.userMessage}`);
      case 'result': {
        const paths: string[] = [];
        for (const [i, img] of e.images.entries()) {
          const name = e.turnId ? `turn-${e.turnId}${e.images.length > 1 ? `-${i + 1}` : ''}` : `current-${img.sha256.slice(0, 12)}`;
          paths.push(await this.#write(name, img.bytes, img.format));
        }
        this.#say(`${e.turnId ? `#${e.turnId} done: ` : ''}${e.caption}`);
        for (const t of e.texts) this.#say(`  result: ${t}`);
        for (const p of paths) this.#say(`  wrote ${p}`);
        return;
      }
      case 'info':
        return this.#say(e.text);
      case 'clarify':
        return this.#say(e.question);
      case 'error':
        return this.#say(`${e.turnId ? `#${e.turnId} ` : ''}error: ${e.userMessage}`);
      case 'cancelled':
        return this.#say(`#${e.turnId} cancelled`);
    }
  }
}
