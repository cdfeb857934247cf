/**
 * Draws a workflow as a picture for "Show plan": inputs on the left, each step a
 * box in the column after its latest input, edges labelled with the port they
 * feed, results on the right. SVG is composed here and rasterised by sharp
 * (librsvg), so no browser or canvas dependency is needed.
 */
import sharp from 'sharp';
import type { LegoEditJson } from '../../src/engine/workflow/serialise.ts';
import { findRefs, type Source } from '../../src/engine/workflow/types.ts';

interface DagNode {
  readonly id: string;
  readonly title: string;
  readonly subtitle: string;
  readonly kind: 'input' | 'step' | 'result';
  depth: number;
  row: number;
}

interface DagEdge {
  readonly from: string;
  readonly to: string;
  readonly label: string;
}

const BOX_W = 200;
const BOX_H = 58;
const COL_GAP = 90;
const ROW_GAP = 28;
const PAD = 24;

function sourceId(s: Source): string {
  return s.kind === 'init' ? `init:${s.name}` : `step:${s.step}`;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

function clip(text: string, max = 28): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function layoutWorkflow(workflow: LegoEditJson): { nodes: DagNode[]; edges: DagEdge[] } {
  const nodes = new Map<string, DagNode>();
  const edges: DagEdge[] = [];
  const ensureInput = (s: Source): void => {
    const id = sourceId(s);
    if (s.kind === 'init' && !nodes.has(id)) nodes.set(id, { id, title: s.name, subtitle: 'your input', kind: 'input', depth: 0, row: 0 });
  };
  const steps = workflow.pipeline.flatMap((p) => ('step' in p ? [p] : []));
  for (const step of steps) {
    const literals: string[] = [];
    for (const [port, value] of Object.entries(step.input)) {
      const refs = typeof value === 'string' ? findRefs(value) : [];
      if (!refs.length) literals.push(typeof value === 'string' ? `'${value}'` : String(value));
      for (const ref of refs) {
        ensureInput(ref);
        edges.push({ from: sourceId(ref), to: `step:${step.step}`, label: port });
      }
    }
    nodes.set(`step:${step.step}`, { id: `step:${step.step}`, title: `${step.step}. ${step.model}`, subtitle: clip(literals.join(', ')), kind: 'step', depth: 0, row: 0 });
  }
  const result = workflow.pipeline.find((p) => 'result' in p);
  const results = result && 'result' in result ? findRefs(result.result) : [];
  results.forEach((ref, i) => {
    ensureInput(ref);
    const id = `result:${i}`;
    nodes.set(id, { id, title: results.length > 1 ? `result ${i + 1}` : 'result', subtitle: '', kind: 'result', depth: 0, row: 0 });
    edges.push({ from: sourceId(ref), to: id, label: ref.kind === 'step' ? ref.output : ref.name });
  });
  // Longest-path depth; steps only reference earlier steps, so a few passes settle it.
  for (let pass = 0; pass < nodes.size; pass++) {
    let changed = false;
    for (const e of edges) {
      const from = nodes.get(e.from);
      const to = nodes.get(e.to);
      if (from && to && to.depth < from.depth + 1) {
        to.depth = from.depth + 1;
        changed = true;
      }
    }
    if (!changed) break;
  }
  const maxDepth = Math.max(0, ...[...nodes.values()].map((n) => n.depth));
  for (const n of nodes.values()) if (n.kind === 'result') n.depth = maxDepth;
  const rows = new Map<number, number>();
  for (const n of nodes.values()) {
    n.row = rows.get(n.depth) ?? 0;
    rows.set(n.depth, n.row + 1);
  }
  return { nodes: [...nodes.values()], edges };
}

export function workflowSvg(workflow: LegoEditJson): string {
  const { nodes, edges } = layoutWorkflow(workflow);
  const cols = Math.max(1, ...nodes.map((n) => n.depth + 1));
  const rowsIn = (d: number): number => nodes.filter((n) => n.depth === d).length;
  const maxRows = Math.max(1, ...Array.from({ length: cols }, (_, d) => rowsIn(d)));
  const width = PAD * 2 + cols * BOX_W + (cols - 1) * COL_GAP;
  const titleH = (workflow.process ? 36 : 0) + 24;
  const height = PAD * 2 + titleH + maxRows * BOX_H + (maxRows - 1) * ROW_GAP;
  const pos = new Map<string, { x: number; y: number }>();
  for (const n of nodes) {
    const offset = ((maxRows - rowsIn(n.depth)) * (BOX_H + ROW_GAP)) / 2;
    pos.set(n.id, { x: PAD + n.depth * (BOX_W + COL_GAP), y: PAD + titleH + offset + n.row * (BOX_H + ROW_GAP) });
  }
  const fill = { input: '#e8f1ff', step: '#fff4dc', result: '#e6f7e9' } as const;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Arial, sans-serif">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
  ];
  if (workflow.process) parts.push(`<text x="${PAD}" y="${PAD + 16}" font-size="16" fill="#222">${escapeXml(clip(workflow.process, Math.floor(width / 9)))}</text>`);
  const depthOf = new Map(nodes.map((n) => [n.id, n.depth]));
  const incoming = (id: string): DagEdge[] => edges.filter((e) => e.to === id);
  const outgoing = (id: string): DagEdge[] => edges.filter((e) => e.from === id);
  for (const e of edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b) continue;
    const ins = incoming(e.to);
    const outs = outgoing(e.from);
    const x1 = a.x + BOX_W;
    const y1 = a.y + (BOX_H * (outs.indexOf(e) + 1)) / (outs.length + 1);
    const x2 = b.x;
    const y2 = b.y + (BOX_H * (ins.indexOf(e) + 1)) / (ins.length + 1);
    const skips = (depthOf.get(e.to) ?? 0) - (depthOf.get(e.from) ?? 0) > 1;
    // An edge that jumps a column arcs over the boxes in between instead of hiding behind them.
    const path = skips
      ? `M${x1},${y1} C${x1 + 60},${PAD + titleH - 18} ${x2 - 60},${PAD + titleH - 18} ${x2},${y2}`
      : `M${x1},${y1} C${(x1 + x2) / 2},${y1} ${(x1 + x2) / 2},${y2} ${x2},${y2}`;
    parts.push(`<path d="${path}" fill="none" stroke="#555" stroke-width="1.6" marker-end="url(#arrow)"/>`);
    parts.push(`<text x="${x2 - 8}" y="${y2 - 4}" font-size="11" text-anchor="end" fill="#444">${escapeXml(e.label)}</text>`);
  }
  for (const n of nodes) {
    const p = pos.get(n.id)!;
    parts.push(`<rect x="${p.x}" y="${p.y}" width="${BOX_W}" height="${BOX_H}" rx="8" fill="${fill[n.kind]}" stroke="#333" stroke-width="1.2"/>`);
    parts.push(`<text x="${p.x + BOX_W / 2}" y="${p.y + (n.subtitle ? 24 : 34)}" font-size="15" font-weight="bold" text-anchor="middle" fill="#111">${escapeXml(clip(n.title, 24))}</text>`);
    if (n.subtitle) parts.push(`<text x="${p.x + BOX_W / 2}" y="${p.y + 44}" font-size="12" text-anchor="middle" fill="#333">${escapeXml(n.subtitle)}</text>`);
  }
  parts.push('</svg>');
  return parts.join('\n');
}

/** The workflow as a PNG picture. */
export async function renderWorkflowPng(workflow: LegoEditJson): Promise<Buffer> {
  return sharp(Buffer.from(workflowSvg(workflow))).png().toBuffer();
}
