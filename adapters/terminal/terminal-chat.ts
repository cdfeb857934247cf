/**
 * The terminal adapter: a conversation on stdin/stdout through the same chat
 * controller the chat platforms use. Lines are instructions or feedback; slash
 * commands are the shared command table's, plus the terminal's own (/open, /with,
 * /plan, /quit); the status prints each line that changes, and results are written
 * as files and their paths printed.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { BrickRegistry } from '../../src/engine/registry.ts';
import { writeFileAtomically } from '../../src/cli/atomic-write.ts';
import { writeFailure } from '../../src/cli/outputs.ts';
import { silentLogger } from '../../src/logger.ts';
import { formatPlan } from '../../src/sessions/format.ts';
import type { ConversationKey, IncomingImage, SessionManager } from '../../src/sessions/types.ts';
import { ChatController } from '../shared/controller.ts';
import type { Surface } from '../shared/surface.ts';

export interface TerminalChatOptions {
  readonly manager: SessionManager;
  readonly input: Readable;
  readonly output: Writable;
  /** Where result images are written. */
  readonly resultsDir: string;
  readonly key: ConversationKey;
  /** A photo to send with the first instruction. */
  readonly initialImage?: string;
  /** For /tools; without it /tools points to `lego-edit bricks`. */
  readonly registry?: BrickRegistry;
  readonly logger?: Logger;
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
  readonly #controller: ChatController;

  constructor(options: TerminalChatOptions) {
    this.#o = options;
    this.#controller = new ChatController({
      platform: options.key.platform,
      sessions: options.manager,
      ...(options.registry ? { registry: options.registry } : {}),
      logger: options.logger ?? silentLogger,
      // Every change is a line of its own here; nothing rate-limits a terminal.
      progressIntervalMs: 0,
    });
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
      case '/plan': {
        const view = await manager.showPlan(key, arg ? Number(arg.replace(/^#/, '')) : undefined);
        this.#say(view ? formatPlan(view) : 'There is no plan yet.');
        return true;
      }
      default:
        if (command?.startsWith('/')) {
          if (!(await this.#controller.command(command.slice(1), arg, key, this.#surface()))) this.#say(`Unknown command ${command}. ${HELP.split('\n')[1]}`);
          return true;
        }
    }
    const image = this.#pending;
    const second = this.#second;
    this.#pending = undefined;
    this.#second = undefined;
    const done = this.#controller.handle(
      {
        ...key,
        messageId: `${process.pid}-${Date.now()}-${++this.#seq}`,
        text: line,
        images: image ? [{ bytes: image.bytes, name: image.path }, ...(second ? [{ bytes: second.bytes, name: second.path }] : [])] : [],
      },
      this.#surface(),
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

  /** Writes a result under its name, or beside another file of that name (`result-1 (2).png`): results are numbered per conversation, and the folder outlives one. */
  async #write(name: string, bytes: Uint8Array): Promise<string> {
    await mkdir(this.#o.resultsDir, { recursive: true });
    const dot = name.lastIndexOf('.');
    let path = join(this.#o.resultsDir, name);
    for (let n = 2; existsSync(path); n++) {
      if (Buffer.from(bytes).equals(await readFile(path))) return path;
      path = join(this.#o.resultsDir, `${name.slice(0, dot)} (${n})${name.slice(dot)}`);
    }
    await writeFileAtomically(path, bytes);
    return path;
  }

  /** One message's answers: text as lines, each status line once as it changes, files written to the results directory. */
  #surface(): Surface {
    let shown: readonly string[] = [];
    return {
      outcomeInStatus: false,
      text: async (content) => this.#say(content),
      status: async (content) => {
        const lines = content.split('\n');
        for (const line of lines) if (!shown.includes(line)) this.#say(`  ${line}`);
        shown = lines;
      },
      send: async (content, files) => {
        const paths: string[] = [];
        try {
          for (const file of files) paths.push(await this.#write(file.name, file.bytes));
        } catch (err) {
          this.#say(content);
          this.#say(`  ⚠️ Could not save the result in ${this.#o.resultsDir}: ${writeFailure(err)}. The edit itself is kept in the conversation.`);
          return [];
        }
        this.#say(content);
        for (const path of paths) this.#say(`  wrote ${path}`);
        // Nothing to reply to in a terminal: no message ids.
        return [];
      },
    };
  }
}
