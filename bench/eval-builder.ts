/**
 * The offline Builder against instructions as people write them
 * (bench/instructions/offline-builder.json: exceptions, quantities, references,
 * feedback, chains, polite forms, typos, amounts, refusals), each with the plan
 * it should get. Per category: plans as expected (bricks in order, RES and
 * ADD-PRED prompts, literals), invalid plans (should be 0), refusals and how
 * many say why and offer something else. Then each plan that can run on this
 * CPU runs on its photo at a small size, and the pixels say whether the region
 * that must not change stayed as it was and the region that must change did.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { parseReference } from '../bricks/predict/referring.ts';
import type { PriorTurn } from '../src/builder/builder.ts';
import { PlanRefusedError } from '../src/builder/builder.ts';
import type { OfflineBuilder } from '../src/builder/offline-builder.ts';
import { errorMessage } from '../src/engine/errors.ts';
import { Executor } from '../src/engine/executor.ts';
import { decodeImage } from '../src/engine/image-io.ts';
import type { BrickRegistry } from '../src/engine/registry.ts';
import type { ImageData } from '../src/engine/values.ts';
import { summariseWorkflow } from '../src/engine/workflow/serialise.ts';
import type { Workflow } from '../src/engine/workflow/types.ts';
import { validateWorkflow } from '../src/engine/workflow/validate.ts';

type Box = readonly [number, number, number, number];
type Expected = number | string | readonly [number, number] | { readonly anyOf: readonly (number | string)[] };

export interface EvalItem {
  readonly id: string;
  readonly cat: string;
  readonly photo: string;
  readonly text: string;
  readonly prev?: string;
  readonly bricks?: readonly string[] | readonly (readonly string[])[];
  readonly res?: readonly string[];
  readonly add?: readonly string[];
  readonly lit?: Readonly<Record<string, Expected>>;
  readonly change?: readonly string[];
  readonly keep?: readonly string[];
  readonly refuse?: boolean;
}

interface EvalSet {
  readonly regions: Readonly<Record<string, Readonly<Record<string, Box>>>>;
  readonly items: readonly EvalItem[];
}

export function loadEvalSet(path = join(import.meta.dirname, 'instructions', 'offline-builder.json')): EvalSet {
  return JSON.parse(readFileSync(path, 'utf8')) as EvalSet;
}

// ---------------------------------------------------------------------------
// Comparing a plan with the expected one.

const norm = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[’]/g, "'")
    .replace(/[^a-z0-9' -]+/g, ' ')
    .replace(/\b(the|a|an)\b/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();

/** Two RES prompts are the same request when they are the same words, or when RES reads them the same way (label, colours, locatives, ordinal, group). */
function samePrompt(actual: string, alternatives: string, brick: 'RES' | 'ADD-PRED'): boolean {
  return alternatives.split('|').some((want) => {
    if (norm(want) === norm(actual)) return true;
    if (brick !== 'RES') return false;
    const a = parseReference(actual);
    const w = parseReference(want);
    return (
      w.labels.length > 0 &&
      a.labels.join() === w.labels.join() &&
      a.colours.join() === w.colours.join() &&
      [...a.locatives].sort().join() === [...w.locatives].sort().join() &&
      a.ordinal === w.ordinal &&
      a.group === w.group
    );
  });
}

function matchesBricks(actual: readonly string[], expected: readonly string[]): boolean {
  return actual.length === expected.length && expected.every((e, i) => e.split('|').includes(actual[i]!));
}

function literalOk(value: unknown, want: Expected): boolean {
  if (typeof want === 'object' && 'anyOf' in want) return want.anyOf.some((w) => literalOk(value, w));
  if (Array.isArray(want)) return typeof value === 'number' && value >= want[0]! - 1e-9 && value <= want[1]! + 1e-9;
  if (typeof want === 'number') return typeof value === 'number' && Math.abs(value - want) <= 0.02;
  return typeof value === 'string' && value.toLowerCase().includes(String(want).toLowerCase());
}

/** Why the plan is not the expected one; empty when it is. */
export function planMismatches(item: EvalItem, wf: Workflow, registry: BrickRegistry): string[] {
  const problems: string[] = [];
  const nodes = [...wf.nodes].sort((a, b) => a.step - b.step);
  const bricks = nodes.map((n) => n.brick);
  const options = (item.bricks && Array.isArray(item.bricks[0]) ? item.bricks : [item.bricks ?? []]) as readonly (readonly string[])[];
  const matched = options.find((o) => matchesBricks(bricks, o));
  if (!matched) problems.push(`bricks ${bricks.join(' → ') || '(none)'}, expected ${options.map((o) => o.join(' → ')).join(' or ')}`);
  for (const brick of ['RES', 'ADD-PRED'] as const) {
    const want = brick === 'RES' ? item.res : item.add;
    if (!want) continue;
    const got = nodes.filter((n) => n.brick === brick).map((n) => (n.inputs.prompt?.kind === 'literal' ? String(n.inputs.prompt.value) : '?'));
    const bad = got.length > want.length || got.some((p, i) => !samePrompt(p, want[i]!, brick));
    if (bad || (matched && got.length !== matched.filter((b) => b.split('|').includes(brick)).length)) problems.push(`${brick} prompts ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  }
  for (const [key, want] of Object.entries(item.lit ?? {})) {
    const [brick, port] = key.split('.') as [string, string];
    const holders = nodes.filter((n) => n.brick === brick);
    // A literal of a brick an accepted alternative stands in for ("RESIZE|SCALE") is read from the alternative.
    const alternates = (matched ?? []).filter((e) => e.split('|').includes(brick)).flatMap((e) => e.split('|'));
    const found = (holders.length ? holders : nodes.filter((n) => alternates.includes(n.brick))).map((n) => n.inputs[port]).filter((b) => b !== undefined);
    if (holders.length === 0 && found.length === 0 && alternates.length > 1) continue;
    // An input left unset takes the port's default ("flip it" is FLIP with its default direction).
    const defaults = (holders.length ? holders : nodes.filter((n) => alternates.includes(n.brick))).map((n) => registry.get(n.brick)?.inputs[port]?.default);
    const values = found.length ? found.map((b) => (b.kind === 'literal' ? b.value : undefined)) : defaults.filter((d) => d !== undefined);
    if (!values.some((v) => literalOk(v, want))) problems.push(`${key} = ${values.length ? values.map((v) => JSON.stringify(v)).join(', ') : '(unset)'}, expected ${JSON.stringify(want)}`);
  }
  return problems;
}

// ---------------------------------------------------------------------------
// Refusals.

/** What a refusal says: a reason (more than "I can't"), and something the user can do instead. */
export function refusalQuality(err: PlanRefusedError): { reason: boolean; alternative: boolean; oneSentence: boolean } {
  const [reasonPart = ''] = err.message.split(/\s+I can, for example:/);
  const words = reasonPart.split(/\s+/).filter(Boolean).length;
  const reason = words >= 5 && !/^I can't plan that[^:]*:\s*"[^"]*": I don't recognise this kind of edit\.?$/i.test(reasonPart.trim());
  const alternative = err.suggestions.length > 0 || /\b(instead|I can|you can|try|send|name)\b/i.test(reasonPart);
  const sentences = reasonPart.replace(/"[^"]*"/g, '""').split(/(?<=[.!?])\s+(?=[A-Z])/).filter((s) => s.trim()).length;
  return { reason, alternative, oneSentence: sentences <= 1 };
}

// ---------------------------------------------------------------------------
// Pixels.

/** Share of the box's pixels whose largest channel difference exceeds `threshold`. */
function changedShare(a: ImageData, b: ImageData, box: Box, threshold: number): number {
  const x0 = Math.floor(box[0] * a.width);
  const x1 = Math.max(x0 + 1, Math.ceil(box[2] * a.width));
  const y0 = Math.floor(box[1] * a.height);
  const y1 = Math.max(y0 + 1, Math.ceil(box[3] * a.height));
  let changed = 0;
  let n = 0;
  for (let y = y0; y < Math.min(y1, a.height); y++) {
    for (let x = x0; x < Math.min(x1, a.width); x++) {
      const ia = (y * a.width + x) * a.channels;
      const ib = (y * b.width + x) * b.channels;
      let d = 0;
      for (let c = 0; c < 3; c++) d = Math.max(d, Math.abs(a.data[ia + c]! - b.data[ib + c]!));
      if (d > threshold) changed++;
      n++;
    }
  }
  return n ? changed / n : 0;
}

/** A kept region may differ in at most 3 % of its pixels (by more than 12 levels); a changed one must differ in at least 25 % (by more than 6). */
const KEEP = { threshold: 12, share: 0.03 };
const CHANGE = { threshold: 6, share: 0.25 };

// ---------------------------------------------------------------------------

export interface CategoryRow {
  n: number;
  expected: number;
  planned: number;
  refused: number;
  invalid: number;
  crashed: number;
  withReason: number;
  withAlternative: number;
  oneSentence: number;
  ran: number;
  keepChecked: number;
  keepOk: number;
  changeChecked: number;
  changeOk: number;
}

const emptyRow = (): CategoryRow => ({ n: 0, expected: 0, planned: 0, refused: 0, invalid: 0, crashed: 0, withReason: 0, withAlternative: 0, oneSentence: 0, ran: 0, keepChecked: 0, keepOk: 0, changeChecked: 0, changeOk: 0 });

export interface BuilderEvalOptions {
  readonly registry: BrickRegistry;
  readonly builder: OfflineBuilder;
  readonly exec: boolean;
  /** Width the photos are scaled to for planning and execution. */
  readonly size: number;
  readonly show: 'none' | 'misses' | 'all';
}

export async function runBuilderEval(options: BuilderEvalOptions): Promise<{ rows: Map<string, CategoryRow>; lines: string[] }> {
  const { registry, builder } = options;
  const set = loadEvalSet();
  const available = await registry.available();
  const shared = join(import.meta.dirname, '..', '..', 'shared', 'photos');
  const photos = new Map<string, ImageData>();
  for (const name of new Set(set.items.map((i) => i.photo))) {
    photos.set(name, await decodeImage(await sharp(readFileSync(join(shared, name))).resize(options.size).png().toBuffer()));
  }
  const executor = new Executor(registry, { concurrency: 1, stepTimeoutMs: 60_000 });
  const rows = new Map<string, CategoryRow>();
  const lines: string[] = [];
  const row = (cat: string): CategoryRow => {
    let r = rows.get(cat);
    if (!r) rows.set(cat, (r = emptyRow()));
    return r;
  };

  for (const item of set.items) {
    const r = row(item.cat);
    r.n++;
    const image = photos.get(item.photo)!;
    let workflow: Workflow | undefined;
    let verdict: string;
    let pixelsWrong = false;
    try {
      let history: PriorTurn[] | undefined;
      let revise: { turn: PriorTurn; feedback: string } | undefined;
      if (item.prev) {
        const first = await builder.plan({ image, instruction: item.prev, available });
        const turn: PriorTurn = { instruction: item.prev, workflow: first.workflow, status: 'done' };
        history = [turn];
        revise = { turn, feedback: item.text };
      }
      const plan = await builder.plan({ image, instruction: item.prev ? item.prev : item.text, available, history, revise });
      const checked = validateWorkflow(plan.workflow, registry);
      if (!checked.ok) {
        r.invalid++;
        verdict = `INVALID ${checked.issues.map((i) => i.message).join('; ')}`;
      } else {
        r.planned++;
        workflow = plan.workflow;
        const problems = item.refuse ? ['expected a refusal'] : planMismatches(item, plan.workflow, registry);
        if (problems.length === 0) r.expected++;
        verdict = `${problems.length ? 'MISS' : 'ok'}   ${summariseWorkflow(plan.workflow)}${problems.length ? `\n        ${problems.join('\n        ')}` : ''}`;
      }
    } catch (err) {
      if (err instanceof PlanRefusedError) {
        r.refused++;
        const q = refusalQuality(err);
        if (q.reason) r.withReason++;
        if (q.alternative) r.withAlternative++;
        if (q.oneSentence) r.oneSentence++;
        if (item.refuse && q.reason) r.expected++;
        verdict = `${item.refuse && q.reason ? 'ok' : 'MISS'}   refused${q.reason ? '' : ' (no reason)'}: ${err.message}`;
      } else {
        r.crashed++;
        verdict = `CRASH ${errorMessage(err)}`;
      }
    }

    if (options.exec && workflow && workflow.nodes.every((n) => available.has(n.brick)) && (item.keep?.length || item.change?.length)) {
      const outcome = await executor.run(workflow, { image });
      const first = outcome.status === 'ok' ? outcome.results[0] : undefined;
      const result = typeof first === 'object' && first !== null && 'kind' in first && first.kind === 'image' ? (first as ImageData) : undefined;
      if (result && result.width === image.width && result.height === image.height) {
        r.ran++;
        const regions = set.regions[item.photo] ?? {};
        const box = (name: string): Box => (name === 'all' ? [0, 0, 1, 1] : regions[name]!);
        const kept = (item.keep ?? []).map((k) => [k, changedShare(image, result, box(k), KEEP.threshold)] as const);
        const changed = (item.change ?? []).map((k) => [k, changedShare(image, result, box(k), CHANGE.threshold)] as const);
        if (kept.length) {
          r.keepChecked++;
          if (kept.every(([, s]) => s <= KEEP.share)) r.keepOk++;
          else {
            pixelsWrong = true;
            verdict += `\n        must not change: ${kept.map(([k, s]) => `${k} ${(100 * s).toFixed(0)}% changed`).join(', ')}`;
          }
        }
        if (changed.length) {
          r.changeChecked++;
          if (changed.every(([, s]) => s >= CHANGE.share)) r.changeOk++;
          else {
            pixelsWrong = true;
            verdict += `\n        must change: ${changed.map(([k, s]) => `${k} ${(100 * s).toFixed(0)}% changed`).join(', ')}`;
          }
        }
      } else if (outcome.status === 'failed') {
        verdict += `\n        run: ${outcome.error.code}`;
      }
    }
    if (options.show === 'all' || (options.show === 'misses' && (!verdict.startsWith('ok') || pixelsWrong))) lines.push(`[${item.cat}] ${item.id} ${item.prev ? `"${item.prev}" → ` : ''}"${item.text}"\n    ${verdict}`);
  }
  return { rows, lines };
}

export function builderTable(rows: Map<string, CategoryRow>, exec: boolean): string {
  const cats = [...rows.keys()];
  const total = emptyRow();
  for (const r of rows.values()) for (const k of Object.keys(total) as Array<keyof CategoryRow>) total[k] += r[k];
  const pct = (n: number, d: number): string => (d ? `${((100 * n) / d).toFixed(1)}%` : '-');
  const header = ['category', 'n', 'as expected', 'planned', 'invalid', 'crashed', 'refused', 'with reason', 'with alternative', ...(exec ? ['ran here', 'kept region unchanged', 'changed region changed'] : [])];
  const line = (name: string, r: CategoryRow): string[] => [
    name,
    String(r.n),
    `${r.expected} (${pct(r.expected, r.n)})`,
    String(r.planned),
    String(r.invalid),
    String(r.crashed),
    String(r.refused),
    String(r.withReason),
    String(r.withAlternative),
    ...(exec ? [String(r.ran), `${r.keepOk}/${r.keepChecked}`, `${r.changeOk}/${r.changeChecked}`] : []),
  ];
  const table = [header, ...cats.map((c) => line(c, rows.get(c)!)), line('all', total)];
  const widths = header.map((_, i) => Math.max(...table.map((t) => t[i]!.length)));
  const md = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [md(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...table.slice(1).map(md)].join('\n');
}
