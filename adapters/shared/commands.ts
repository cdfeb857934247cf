/**
 * The chat commands, declared once: Telegram's setMyCommands list, Discord's slash
 * commands and the help text are generated from this table, and the controller runs
 * them. Adding a command is one entry here (and a session-manager method if it needs one).
 */
import type { BrickRegistry } from '../../src/engine/registry.ts';
import { formatHistory } from '../../src/sessions/format.ts';
import type { CommandReply, ConversationKey, SessionManager } from '../../src/sessions/types.ts';
import { rulesText, toolsText } from './texts.ts';

/** What a command runs with: whose conversation, what followed the command, and how to answer. */
export interface CommandContext {
  readonly key: ConversationKey;
  /** The text after the command (Telegram) or the option's value (Discord); empty when none. */
  readonly argument: string;
  readonly sessions: SessionManager;
  readonly registry?: BrickRegistry;
  say(text: string): Promise<void>;
  /** A session-manager command's answer: its line (⚠️ when it failed) and the now-current image where it changed. */
  answer(reply: CommandReply): Promise<void>;
}

export interface ChatCommand {
  /** Lower case, as both platforms require. */
  readonly name: string;
  /** Shown in the platform's command menu (Discord allows 100 characters). */
  readonly description: string;
  /** A whole-number argument (/forget 2); a required integer option on Discord. */
  readonly argument?: { readonly name: string; readonly description: string; readonly placeholder: string };
  /** Platforms that offer it; every one when omitted. */
  readonly platforms?: readonly string[];
  run(c: CommandContext): Promise<void>;
}

/** How many turns /history lists. */
export const HISTORY_LENGTH = 10;

export const COMMANDS: readonly ChatCommand[] = [
  // Telegram opens every private chat with /start; Discord has no such convention.
  { name: 'start', description: 'What this bot does', platforms: ['telegram'], run: (c) => c.say(startText()) },
  { name: 'help', description: 'Examples of instructions', run: (c) => c.say(helpText()) },
  { name: 'tools', description: 'Bricks available on this host', run: async (c) => c.say(c.registry ? await toolsText(c.registry) : 'Run `lego-edit bricks` for the bricks and their backends here.') },
  { name: 'rules', description: 'Your standing rules', run: async (c) => c.say(rulesText(await c.sessions.rules(c.key))) },
  {
    name: 'forget',
    description: 'Forget rule N: /forget 2',
    argument: { name: 'n', description: 'The rule’s number in /rules', placeholder: 'N' },
    run: async (c) => {
      const n = Number(c.argument.trim());
      if (!Number.isInteger(n) || n < 1) return c.say('Which rule? For example /forget 2 (see /rules for the numbers).');
      return c.answer(await c.sessions.forgetRule(c.key, n));
    },
  },
  { name: 'undo', description: 'Back to the previous image', run: async (c) => c.answer(await c.sessions.undo(c.key)) },
  { name: 'redo', description: 'Forward again after undo', run: async (c) => c.answer(await c.sessions.redo(c.key)) },
  { name: 'history', description: 'Your recent edits', run: async (c) => c.say(formatHistory(await c.sessions.history(c.key, HISTORY_LENGTH))) },
  { name: 'reset', description: 'Start afresh (clears the current image and rules)', run: async (c) => c.answer(await c.sessions.reset(c.key)) },
  { name: 'cancel', description: 'Stop your running edits', run: async (c) => c.answer(await c.sessions.cancel(c.key, c.key.userId)) },
];

/** The commands a platform offers, in table order. */
export function commandsFor(platform: string): readonly ChatCommand[] {
  return COMMANDS.filter((c) => !c.platforms || c.platforms.includes(platform));
}

export function commandNamed(name: string, platform: string): ChatCommand | undefined {
  return commandsFor(platform).find((c) => c.name === name.toLowerCase());
}

export function helpText(): string {
  const listed = COMMANDS.filter((c) => c.name !== 'start' && c.name !== 'help').map((c) => `/${c.name}${c.argument ? ` ${c.argument.placeholder}` : ''}`);
  return [
    'Send me a photo with an instruction and I’ll plan an edit as a graph of "bricks" and run it.',
    '',
    'Examples:',
    '• a photo with the caption "make it black and white"',
    '• then just text: "make it brighter" (edits the current image)',
    '• reply to a result: "too much" or "again" (revises that edit)',
    '• a rule: "don’t use RES before INPAINT" (kept for this conversation)',
    '• a second photo in an album is used as the mask (white = edit)',
    '',
    `Commands: ${listed.join(' ')}`,
  ].join('\n');
}

export function startText(): string {
  return `Hi! I edit photos from plain-English instructions.\n\n${helpText()}`;
}
