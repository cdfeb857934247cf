/** Texts the session manager and the adapters show: history, rules, plans, notices. */
import type { StepTrace } from '../engine/executor.ts';
import type { HistoryEntry, PlanView, RuleEntry } from './types.ts';

/** A user's words in a reply, shortened. */
export function quote(text: string, max = 60): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return `"${t.length > max ? `${t.slice(0, max - 1)}…` : t}"`;
}

export function interruptedText(text: string): string {
  return `Your earlier request ${quote(text || 'photo')} was interrupted because I restarted; nothing from it was lost, but it did not finish. Send it again if you still want it.`;
}

export function formatHistory(entries: readonly HistoryEntry[]): string {
  if (!entries.length) return 'No history yet.';
  return entries
    .map((e) => `#${e.number} ${e.current ? '* ' : ''}[${e.status}] ${e.instruction ? quote(e.instruction) : '(photo)'}${e.summary ? ` → ${e.summary}` : ''}`)
    .join('\n');
}

/** One rule as listed: its number, the user's words, and its scope when it reaches beyond this conversation. */
export function ruleLine(r: RuleEntry): string {
  return `${r.index}. ${r.text}${r.everywhere ? ' (in all your chats)' : ''}`;
}

export function formatRules(list: readonly RuleEntry[]): string {
  if (!list.length) return 'No rules. Tell me one, e.g. "don\'t use RES before INPAINT".';
  return list.map(ruleLine).join('\n');
}

export function formatPlan(view: PlanView): string {
  return `${planHeading(view)}\n${JSON.stringify(view.workflow, null, 2)}`;
}

/** The plan's first lines: which turn, which Builder, the steps and how each ran. */
export function planHeading(view: PlanView): string {
  return `Plan of turn #${view.number} (${view.builder} Builder): ${view.summary}${view.timings ? `\n${view.timings}` : ''}`;
}

/** One line per step that ran: "1 GRAYSCALE 0.2 s", "2 RES cached". */
export function formatTimings(trace: readonly StepTrace[]): string {
  return trace
    .filter((t) => t.status !== 'unused' && t.status !== 'pending')
    .map((t) => `${t.step} ${t.brick} ${t.status === 'ok' ? (t.cache === 'hit' ? 'cached' : `${((t.durationMs ?? 0) / 1000).toFixed(1)} s`) : t.status}`)
    .join('\n');
}
