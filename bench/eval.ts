/**
 * `npm run eval`: the offline Builder on the 737 single-turn instructions of
 * ImgEdit-Bench "basic" (../shared/benchmarks/imgedit-basic.json). For each
 * edit type: planned (a valid workflow), refused (with its reason), invalid
 * (a workflow the validator rejects: should be 0), crashed (should be 0). Then
 * every planned workflow runs on a small downscaled shared photo: executed-ok,
 * empty mask (the instruction's object is not in that photo), needs a GPU host
 * (a GPU-only brick or variant), or failed (anything else: should be 0).
 *
 * With --repairs N, a run that fails in a way a plan can fix (an empty mask, a
 * brick that cannot run here) goes back to OfflineBuilder.repairAfterFailure up
 * to N times, as the session manager does; "repaired" counts the runs that then
 * succeeded, and the other columns count each run's last outcome.
 *
 * Then the offline Builder on instructions as people write them
 * (bench/instructions/offline-builder.json, see bench/eval-builder.ts): per
 * category, plans as expected, invalid plans, refusals with a reason and an
 * alternative, and on the pixels of each plan that runs here, whether the
 * region that must not change stayed unchanged.
 *
 * Flags: --suite imgedit|builder|all (default all); --no-exec skips execution;
 * --show-refused prints each refusal; --show-plans prints each plan (ImgEdit),
 * or each instruction's verdict (builder); --show-misses prints the builder
 * set's misses; --limit N plans only the first N ImgEdit instructions;
 * --photo NAME picks the ImgEdit photo, --size PX its width; --builder-size PX
 * the width of the builder set's photos (default 96); --repairs N (default 0).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { builtinBricks } from '../bricks/index.ts';
import { PlanRefusedError, isPlanFixable } from '../src/builder/builder.ts';
import { OfflineBuilder } from '../src/builder/offline-builder.ts';
import { errorMessage } from '../src/engine/errors.ts';
import { Executor } from '../src/engine/executor.ts';
import { decodeImage } from '../src/engine/image-io.ts';
import { BrickRegistry } from '../src/engine/registry.ts';
import { summariseWorkflow } from '../src/engine/workflow/serialise.ts';
import type { Workflow } from '../src/engine/workflow/types.ts';
import { validateWorkflow } from '../src/engine/workflow/validate.ts';
import { builderTable, runBuilderEval } from './eval-builder.ts';

interface Item {
  readonly id: number;
  readonly instruction: string;
  readonly edit_type: string;
}

const { values: args } = parseArgs({
  options: {
    'no-exec': { type: 'boolean', default: false },
    'show-refused': { type: 'boolean', default: false },
    'show-plans': { type: 'boolean', default: false },
    limit: { type: 'string' },
    photo: { type: 'string', default: 'two-sheep.jpg' },
    size: { type: 'string', default: '160' },
    repairs: { type: 'string', default: '0' },
    suite: { type: 'string', default: 'all' },
    'show-misses': { type: 'boolean', default: false },
    'builder-size': { type: 'string', default: '96' },
  },
});
if (!['imgedit', 'builder', 'all'].includes(args.suite)) throw new Error(`--suite must be imgedit, builder or all, not "${args.suite}"`);

const registry = new BrickRegistry(builtinBricks());
const available = await registry.available();
const builder = new OfflineBuilder(registry);

async function imgedit(): Promise<void> {
  const shared = join(import.meta.dirname, '..', '..', 'shared');
  const items = (JSON.parse(readFileSync(join(shared, 'benchmarks', 'imgedit-basic.json'), 'utf8')) as Item[]).slice(0, args.limit ? Number(args.limit) : undefined);
  const photoBytes = await sharp(readFileSync(join(shared, 'photos', args.photo))).resize(Number(args.size)).jpeg().toBuffer();
  const image = await decodeImage(photoBytes);

  type Row = { planned: number; refused: number; invalid: number; crashed: number; ok: number; repaired: number; empty: number; failed: number; gpu: number; total: number };
  const rows = new Map<string, Row>();
  const row = (t: string): Row => {
    let r = rows.get(t);
    if (!r) rows.set(t, (r = { planned: 0, refused: 0, invalid: 0, crashed: 0, ok: 0, repaired: 0, empty: 0, failed: 0, gpu: 0, total: 0 }));
    return r;
  };
  const refusals: string[] = [];
  const failures: string[] = [];
  const planned: Array<{ item: Item; workflow: Workflow }> = [];
  const planStart = performance.now();

  for (const item of items) {
    const r = row(item.edit_type);
    r.total++;
    try {
      const plan = await builder.plan({ image, instruction: item.instruction, available });
      const checked = validateWorkflow(plan.workflow, registry);
      if (!checked.ok) {
        r.invalid++;
        failures.push(`INVALID #${item.id} ${item.instruction}\n  ${checked.issues.map((i) => i.message).join('\n  ')}`);
        continue;
      }
      r.planned++;
      planned.push({ item, workflow: plan.workflow });
      if (args['show-plans']) console.log(`[${item.edit_type}] ${item.instruction}\n    → ${summariseWorkflow(plan.workflow)}`);
    } catch (err) {
      if (err instanceof PlanRefusedError) {
        r.refused++;
        refusals.push(`[${item.edit_type}] ${item.instruction}\n    ${err.message}`);
      } else {
        r.crashed++;
        failures.push(`CRASH #${item.id} ${item.instruction}: ${errorMessage(err)}`);
      }
    }
  }
  const planMs = performance.now() - planStart;

  let execMs = 0;
  if (!args['no-exec']) {
    // Two cores are shared on this machine: one step at a time keeps the run polite.
    const executor = new Executor(registry, { concurrency: 1, stepTimeoutMs: 60_000 });
    const execStart = performance.now();
    const maxRepairs = Number(args.repairs);
    for (const { item, workflow: first } of planned) {
      const r = row(item.edit_type);
      let workflow = first;
      let outcome = await executor.run(workflow, { image });
      let repairs = 0;
      while (outcome.status === 'failed' && isPlanFixable(outcome.error) && repairs < maxRepairs) {
        const failed = { instruction: item.instruction, workflow, status: 'failed' as const, trace: outcome.trace, error: outcome.error.message, errorCode: outcome.error.code };
        try {
          workflow = (await builder.repairAfterFailure({ image, instruction: item.instruction, available }, failed)).workflow;
        } catch (err) {
          if (!(err instanceof PlanRefusedError)) throw err;
          break;
        }
        repairs++;
        outcome = await executor.run(workflow, { image });
      }
      const needsGpu = workflow.nodes.some((n) => !available.has(n.brick));
      const code = outcome.status === 'failed' ? outcome.error.code : undefined;
      if (outcome.status === 'ok' && repairs > 0) r.repaired++;
      if (outcome.status === 'ok') r.ok++;
      // A brick that is declared but cannot run here (GPU-only, or a variant of it that needs a GPU host).
      else if (needsGpu || code === 'needs-gpu-host' || code === 'brick-unavailable') r.gpu++;
      // The benchmark's objects are mostly not in the one shared photo: an honest segmenter finds nothing.
      else if (code === 'empty-mask') r.empty++;
      else {
        r.failed++;
        failures.push(`EXEC #${item.id} ${item.instruction}: ${outcome.status === 'failed' ? outcome.error.message : outcome.status}`);
      }
    }
    execMs = performance.now() - execStart;
  }

  const types = [...rows.keys()].sort();
  const total: Row = { planned: 0, refused: 0, invalid: 0, crashed: 0, ok: 0, repaired: 0, empty: 0, failed: 0, gpu: 0, total: 0 };
  for (const t of types) for (const k of Object.keys(total) as Array<keyof Row>) total[k] += rows.get(t)![k];
  const pct = (n: number, d: number): string => (d ? `${((100 * n) / d).toFixed(1)}%` : '-');
  const withRepairs = Number(args.repairs) > 0;
  const header = ['edit type', 'n', 'planned', 'refused', 'invalid', 'crashed', ...(args['no-exec'] ? [] : ['exec ok', ...(withRepairs ? ['repaired'] : []), 'empty mask', 'needs GPU host', 'failed'])];
  const line = (name: string, r: Row): string[] => [
    name,
    String(r.total),
    `${r.planned} (${pct(r.planned, r.total)})`,
    String(r.refused),
    String(r.invalid),
    String(r.crashed),
    ...(args['no-exec'] ? [] : [String(r.ok), ...(withRepairs ? [String(r.repaired)] : []), String(r.empty), String(r.gpu), String(r.failed)]),
  ];
  const table = [header, ...types.map((t) => line(t, rows.get(t)!)), line('all', total)];
  const widths = header.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  const md = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(md(header));
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  for (const r of table.slice(1)) console.log(md(r));
  console.log(
    `\nplanned ${total.planned}/${total.total} (${pct(total.planned, total.total)}) in ${planMs.toFixed(0)} ms` +
      (args['no-exec'] ? '' : `; executed on ${args.photo} at ${image.width}x${image.height} in ${(execMs / 1000).toFixed(1)} s`),
  );
  if (args['show-refused']) console.log(`\nRefused:\n${refusals.join('\n')}`);
  if (failures.length) console.log(`\nProblems:\n${failures.join('\n')}`);
  if (total.invalid > 0 || total.crashed > 0) process.exitCode = 1;
}

if (args.suite !== 'builder') await imgedit();
if (args.suite !== 'imgedit') {
  const started = performance.now();
  const exec = !args['no-exec'];
  const { rows, lines } = await runBuilderEval({ registry, builder, exec, size: Number(args['builder-size']), show: args['show-plans'] ? 'all' : args['show-misses'] ? 'misses' : 'none' });
  console.log(`\nOffline Builder on ${[...rows.values()].reduce((n, r) => n + r.n, 0)} instructions as people write them (bench/instructions/offline-builder.json)${exec ? `, run at ${args['builder-size']} px wide where every brick runs here` : ''}:\n`);
  console.log(builderTable(rows, exec));
  console.log(`\nin ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (lines.length) console.log(`\n${lines.join('\n')}`);
  if ([...rows.values()].some((r) => r.invalid > 0 || r.crashed > 0)) process.exitCode = 1;
}
