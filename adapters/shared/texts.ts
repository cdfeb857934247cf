/** Words the adapters share: tool lists and rules, and how failures read in chat (help and history: commands.ts). */
import type { BrickRegistry } from '../../src/engine/registry.ts';
import { ruleLine } from '../../src/sessions/format.ts';
import { storageFailure } from '../../src/sessions/storage-errors.ts';
import type { RuleEntry } from '../../src/sessions/types.ts';

export async function toolsText(registry: BrickRegistry): Promise<string> {
  const status = await registry.status();
  const available = status.filter((s) => s.active);
  const unavailable = status.filter((s) => !s.active);
  const lines = [`Bricks available here (${available.length}):`, ...available.map((s) => `• ${s.brick.name}`)];
  if (unavailable.length) lines.push('', `Need a GPU host or model (${unavailable.length}): ${unavailable.map((s) => s.brick.name).join(', ')}`);
  return lines.join('\n');
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
  const known = storageFailure(err);
  if (known) return `⚠️ ${known.userMessage}`;
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
