/** Words the adapters share: help, tool lists, history and rules, and how failures read in chat. */
import { LegoEditError } from '../../src/engine/errors.ts';
import type { BrickRegistry } from '../../src/engine/registry.ts';
import { ruleLine } from '../../src/sessions/format.ts';
import type { HistoryEntry, RuleEntry } from '../../src/sessions/types.ts';

export const HELP_TEXT = [
  'Send me a photo with an instruction and I’ll plan an edit as a graph of "bricks" and run it.',
  '',
  'Examples:',
  '• a photo with the caption "make it black and white"',
  '• then just text: "make it brighter" (edits the current image)',
  '• reply to a result: "too much" or "again" (revises that edit)',
  '• a rule: "don’t use RES before INPAINT" (kept for this conversation)',
  '• a second photo in an album is used as the mask (white = edit)',
  '',
  'Commands: /tools /rules /forget N /undo /redo /history /reset /cancel',
].join('\n');

export const START_TEXT = `Hi! I edit photos from plain-English instructions.\n\n${HELP_TEXT}`;

export const COMMAND_LIST: ReadonlyArray<{ readonly command: string; readonly description: string }> = [
  { command: 'start', description: 'What this bot does' },
  { command: 'help', description: 'Examples of instructions' },
  { command: 'tools', description: 'Bricks available on this host' },
  { command: 'rules', description: 'Your standing rules' },
  { command: 'forget', description: 'Forget rule N: /forget 2' },
  { command: 'undo', description: 'Back to the previous image' },
  { command: 'redo', description: 'Forward again after undo' },
  { command: 'history', description: 'Recent edits' },
  { command: 'reset', description: 'Start afresh (clears image and rules)' },
  { command: 'cancel', description: 'Stop the running edit' },
];

export async function toolsText(registry: BrickRegistry): Promise<string> {
  const status = await registry.status();
  const available = status.filter((s) => s.active);
  const unavailable = status.filter((s) => !s.active);
  const lines = [`Bricks available here (${available.length}):`, ...available.map((s) => `• ${s.brick.name}`)];
  if (unavailable.length) lines.push('', `Need a GPU host or model (${unavailable.length}): ${unavailable.map((s) => s.brick.name).join(', ')}`);
  return lines.join('\n');
}

export function historyText(entries: readonly HistoryEntry[]): string {
  if (!entries.length) return 'No edits yet. Send a photo with an instruction to start.';
  return entries
    .map((e) => `${e.current ? '▶' : '•'} #${e.turnId} ${e.status === 'done' ? '' : `[${e.status}] `}${e.instruction || e.intent}${e.summary ? ` — ${e.summary}` : ''}`)
    .join('\n');
}

export function rulesText(rules: readonly RuleEntry[]): string {
  if (!rules.length) return 'No rules yet. Tell me one, e.g. "don’t use RES before INPAINT".';
  return ['Your rules:', ...rules.map(ruleLine), '', 'Remove one with /forget N.'].join('\n');
}

/**
 * What a failure looks like in chat: the error's own user message when it is one
 * of ours, a generic apology otherwise, never a stack trace or internal detail.
 */
export function friendlyError(err: unknown): string {
  if (err instanceof LegoEditError) return `⚠️ ${err.userMessage}`;
  return '⚠️ Something went wrong on my side. Please try again in a moment.';
}

/**
 * Refusals that concern only the requester (their own per-user limits), not the
 * conversation: where a platform can show a message to one person only, these go that way.
 */
export function isPersonalNotice(code: string): boolean {
  return code === 'rate-limited' || code === 'busy';
}

/** Session-manager error codes that deserve a platform-specific hint in front of the message. */
export function errorText(code: string, userMessage: string): string {
  const icon = isPersonalNotice(code) ? '⏳' : '⚠️';
  return `${icon} ${userMessage}`;
}

/** What a user who writes during a graceful shutdown is told (the work in flight is still finishing). */
export const RESTARTING_TEXT = '⏳ The bot is restarting; try again in a minute.';
