import type { ExecutorEvent } from '../engine/events.ts';
import type { StepTrace } from '../engine/executor.ts';

/** One line per step on a terminal; silent when stderr is not a TTY (pipes, CI). */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr): (e: ExecutorEvent) => void {
  if (!stream.isTTY) return () => {};
  let total = 0;
  let done = 0;
  return (e) => {
    if (e.type === 'validated') total = e.steps;
    else if (e.type === 'step-started') stream.write(`  … step ${e.step} ${e.brick}\n`);
    else if (e.type === 'step-finished') {
      done++;
      const note = e.cache === 'hit' ? 'cached' : `${(e.durationMs / 1000).toFixed(2)} s`;
      stream.write(`  ✓ ${done}/${total} step ${e.step} ${e.brick} ${note}${e.emptyMasks.length ? ' (empty mask)' : ''}\n`);
    } else if (e.type === 'step-failed') stream.write(`  ✗ step ${e.step} ${e.brick}\n`);
  };
}

/** The per-step timing table printed after a run. */
export function timingTable(trace: readonly StepTrace[], totalMs: number): string {
  const rows = trace.map((t) => [
    String(t.step),
    t.brick,
    t.status,
    t.cache ?? '',
    t.durationMs !== undefined ? `${t.durationMs.toFixed(1)} ms` : '',
    t.emptyMasks.length ? `empty ${t.emptyMasks.join(', ')}` : '',
  ]);
  const header = ['step', 'brick', 'status', 'cache', 'time', 'note'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line), `total ${totalMs.toFixed(1)} ms`].join('\n');
}
