/**
 * Offline checks of a finished edit, with no model: is each segmenter's mask a
 * plausible outline of one named object, did the edit change anything, and did
 * a masked edit stay inside its mask. They read a coarse grid of pixels (at
 * most GRID_SIDE on the long side, nearest sampling), so a 1024×768 result
 * costs a few milliseconds; `npm run bench -- critic` measures it.
 *
 * The thresholds are stated in the picture's own terms, not fitted to photos:
 * "most of the picture" is more than half of it; a "noticeable" change is one
 * of more than NOTICEABLE levels (≈ 3 % of the 8-bit range, about one just
 * noticeable difference in sRGB) in any channel; "barely changed" is fewer
 * than a tenth of the region's pixels changing noticeably; a leak is a tenth
 * of the pixels well outside the mask (beyond a margin of MARGIN of the
 * picture's diagonal, which covers feathered and dilated edges) changing.
 */
import { maskBounds } from '../../bricks/lib/pixels.ts';
import { type ImageData, type MaskData, makeMask } from '../engine/values.ts';
import type { CheckFinding, CheckInput, SegmentUnderCheck } from './types.ts';

/** Long side of the sampling grid. */
export const GRID_SIDE = 256;
/** Per-channel difference (of 255) that counts as a visible change. */
export const NOTICEABLE = 8;
/** Share of a region that must change for the edit to count as having an effect there. */
export const MIN_EFFECT = 0.1;
/** Share of the pixels well outside the mask that may change before the edit counts as leaking. */
export const MAX_LEAK = 0.1;
/** Margin around a mask, as a share of the picture's diagonal, where changes are not leaks (feathering, dilation). */
export const MARGIN = 0.03;
/** A segment covering more than this share of the picture is not "one named object". */
export const MAX_OBJECT_COVERAGE = 0.5;
/** A border counts as touched when the mask covers this share of it. */
export const BORDER_TOUCH = 0.1;
/** A segment filling this share of its bounding box is a box, not an outline. */
export const BOX_FILL = 0.95;

/** Sampling positions: the grid's x and y coordinates in a picture of `width`×`height`. */
interface Grid {
  readonly xs: Uint32Array;
  readonly ys: Uint32Array;
}

function gridFor(width: number, height: number): Grid {
  const scale = Math.min(1, GRID_SIDE / Math.max(width, height));
  const gw = Math.max(1, Math.round(width * scale));
  const gh = Math.max(1, Math.round(height * scale));
  const xs = new Uint32Array(gw);
  const ys = new Uint32Array(gh);
  for (let i = 0; i < gw; i++) xs[i] = Math.min(width - 1, Math.floor(((i + 0.5) * width) / gw));
  for (let j = 0; j < gh; j++) ys[j] = Math.min(height - 1, Math.floor(((j + 0.5) * height) / gh));
  return { xs, ys };
}

/** The mask on the grid, 1 where covered; masks of another size are stretched to the picture's. */
function sampleMask(mask: MaskData, width: number, height: number, grid: Grid): Uint8Array {
  const gw = grid.xs.length;
  const out = new Uint8Array(gw * grid.ys.length);
  const cols = new Uint32Array(gw);
  for (let i = 0; i < gw; i++) cols[i] = Math.min(mask.width - 1, Math.floor((grid.xs[i]! * mask.width) / width));
  const d = mask.data;
  for (let j = 0; j < grid.ys.length; j++) {
    const row = Math.min(mask.height - 1, Math.floor((grid.ys[j]! * mask.height) / height)) * mask.width;
    const o = j * gw;
    for (let i = 0; i < gw; i++) out[o + i] = d[row + cols[i]!]! > 127 ? 1 : 0;
  }
  return out;
}

/** 1 where any channel of `after` differs noticeably from `before` on the grid (both the same size). */
function sampleChanges(before: ImageData, after: ImageData, grid: Grid): { changed: Uint8Array; identical: boolean } {
  const changed = new Uint8Array(grid.xs.length * grid.ys.length);
  const cb = before.channels;
  const ca = after.channels;
  let identical = true;
  let k = 0;
  const bd = before.data;
  const ad = after.data;
  for (let j = 0; j < grid.ys.length; j++) {
    const rowB = grid.ys[j]! * before.width;
    for (let i = 0; i < grid.xs.length; i++) {
      const p = rowB + grid.xs[i]!;
      const b = p * cb;
      const a = p * ca;
      const d = Math.max(Math.abs(bd[b]! - ad[a]!), Math.abs(bd[b + 1]! - ad[a + 1]!), Math.abs(bd[b + 2]! - ad[a + 2]!));
      if (d > 0) identical = false;
      changed[k++] = d > NOTICEABLE ? 1 : 0;
    }
  }
  return { changed, identical };
}

/** Grows a grid mask by `r` cells (a square window, separably: rows, then columns): the margin where changes are not leaks. */
function grow(mask: Uint8Array, gw: number, gh: number, r: number): Uint8Array {
  if (r <= 0) return mask;
  const rows = new Uint8Array(mask.length);
  for (let y = 0; y < gh; y++) growLine(mask, rows, y * gw, 1, gw, r);
  const out = new Uint8Array(mask.length);
  for (let x = 0; x < gw; x++) growLine(rows, out, x, gw, gh, r);
  return out;
}

/** Marks in `out` the cells of one line (`n` cells from `start`, `stride` apart) within `r` of a covered cell of `src`. */
function growLine(src: Uint8Array, out: Uint8Array, start: number, stride: number, n: number, r: number): void {
  // Two passes: distance to the nearest covered cell on either side.
  let last = -Infinity;
  for (let i = 0, p = start; i < n; i++, p += stride) {
    if (src[p]) last = i;
    if (i - last <= r) out[p] = 1;
  }
  last = Infinity;
  for (let i = n - 1, p = start + (n - 1) * stride; i >= 0; i--, p -= stride) {
    if (src[p]) last = i;
    if (last - i <= r) out[p] = 1;
  }
}

/**
 * The checks run on the event loop after each turn, while other chats wait. Warm, they take a millisecond or two;
 * the first turns of a process run them in V8's interpreter, tens of milliseconds (more while the pool's threads
 * hold every core). So each check is written as steps that pause (`yield`) between its passes over the grid: the
 * async form (`offlineChecksSliced`) lets the event loop run in those pauses, the plain form runs straight through.
 * The passes themselves stay plain functions, which V8 optimises as before.
 */
type Steps<T> = Generator<void, T, void>;

function whole<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

async function paused<T>(steps: Steps<T>): Promise<T> {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Covered cells of a grid mask. */
function coveredCells(m: Uint8Array): number {
  let on = 0;
  for (const cell of m) on += cell;
  return on;
}

/** Whether a segmenter's mask is a plausible outline of the one object it was asked for. */
export function checkSegment(segment: SegmentUnderCheck, width: number, height: number): CheckFinding[] {
  return whole(segmentSteps(segment, width, height));
}

function* segmentSteps(segment: SegmentUnderCheck, width: number, height: number): Steps<CheckFinding[]> {
  const grid = gridFor(width, height);
  const gw = grid.xs.length;
  const gh = grid.ys.length;
  const m = sampleMask(segment.mask, width, height, grid);
  yield;
  const what = `${segment.brick} (step ${segment.step})${segment.prompt ? ` for "${segment.prompt}"` : ''}`;
  const box = maskBounds(makeMask(gw, gh, m));
  if (!box) return [];
  const on = coveredCells(m);
  const findings: CheckFinding[] = [];
  const coverage = on / (gw * gh);
  if (coverage > MAX_OBJECT_COVERAGE) {
    findings.push({ check: 'mask-too-large', step: segment.step, detail: `the mask of ${what} covers ${Math.round(coverage * 100)}% of the picture`, score: coverage });
  }
  const border = (count: number, length: number): boolean => count / length >= BORDER_TOUCH;
  let top = 0;
  let bottom = 0;
  let left = 0;
  let right = 0;
  for (let x = 0; x < gw; x++) {
    top += m[x]!;
    bottom += m[(gh - 1) * gw + x]!;
  }
  for (let y = 0; y < gh; y++) {
    left += m[y * gw]!;
    right += m[y * gw + gw - 1]!;
  }
  const touched = [border(top, gw) && 'top', border(bottom, gw) && 'bottom', border(left, gh) && 'left', border(right, gh) && 'right'].filter(Boolean);
  if (touched.length >= 3) {
    findings.push({ check: 'mask-borders', step: segment.step, detail: `the mask of ${what} runs along the ${touched.join(', ')} edges of the picture`, score: touched.length / 4 });
  }
  if (segment.outline) {
    const boxArea = box.width * box.height;
    const fill = on / boxArea;
    // A few cells cannot show an outline: only boxes of some size are judged.
    if (boxArea >= 64 && fill >= BOX_FILL) {
      findings.push({ check: 'mask-box-shaped', step: segment.step, detail: `the mask of ${what} is a rectangle, not the object's outline`, score: fill });
    }
  }
  return findings;
}

/** Whether the edit changed anything, inside its mask when it had one, and whether it changed much outside. */
export function checkEffect(input: Pick<CheckInput, 'before' | 'after' | 'editMask' | 'editStep'>): CheckFinding[] {
  return whole(effectSteps(input));
}

/** Cells inside the mask, and well outside it (beyond `margin`), with how many of each changed. */
function changeCounts(m: Uint8Array, margin: Uint8Array, changed: Uint8Array): { inside: number; insideChanged: number; outside: number; outsideChanged: number } {
  let inside = 0;
  let insideChanged = 0;
  let outside = 0;
  let outsideChanged = 0;
  for (let i = 0; i < m.length; i++) {
    if (m[i]) {
      inside++;
      insideChanged += changed[i]!;
    } else if (!margin[i]) {
      outside++;
      outsideChanged += changed[i]!;
    }
  }
  return { inside, insideChanged, outside, outsideChanged };
}

function* effectSteps(input: Pick<CheckInput, 'before' | 'after' | 'editMask' | 'editStep'>): Steps<CheckFinding[]> {
  const { before, after, editMask } = input;
  if (before.width !== after.width || before.height !== after.height) return [];
  const grid = gridFor(before.width, before.height);
  const gw = grid.xs.length;
  const gh = grid.ys.length;
  const { changed, identical } = sampleChanges(before, after, grid);
  yield;
  if (identical) return [{ check: 'no-effect', step: input.editStep, detail: 'the result is the same picture as the input', score: 1 }];
  if (!editMask) {
    // Without a mask a whole-picture edit may be subtle anywhere: only a change nowhere visible counts as none.
    if (!changed.includes(1)) return [{ check: 'no-effect', step: input.editStep, detail: 'the result differs from the input only invisibly', score: 1 }];
    return [];
  }
  const m = sampleMask(editMask, before.width, before.height, grid);
  yield;
  const margin = grow(m, gw, gh, Math.ceil(MARGIN * Math.hypot(gw, gh)));
  yield;
  const { inside, insideChanged, outside, outsideChanged } = changeCounts(m, margin, changed);
  const findings: CheckFinding[] = [];
  if (inside > 0 && insideChanged / inside < MIN_EFFECT) {
    findings.push({ check: 'no-effect', step: input.editStep, detail: `only ${Math.round((insideChanged / inside) * 100)}% of the masked region changed visibly`, score: 1 - insideChanged / inside });
  }
  if (outside > 0 && outsideChanged / outside > MAX_LEAK) {
    findings.push({ check: 'leak', step: input.editStep, detail: `${Math.round((outsideChanged / outside) * 100)}% of the picture well outside the mask changed too`, score: outsideChanged / outside });
  }
  return findings;
}

function* allSteps(input: CheckInput): Steps<CheckFinding[]> {
  const { width, height } = input.before;
  const findings: CheckFinding[] = [];
  for (const s of input.segments) {
    findings.push(...(yield* segmentSteps(s, width, height)));
    yield;
  }
  findings.push(...(yield* effectSteps(input)));
  return findings;
}

/** Every offline check of one finished edit. */
export function offlineChecks(input: CheckInput): CheckFinding[] {
  return whole(allSteps(input));
}

/** offlineChecks with the event loop free between its passes over the grid (a turn on a serving process). */
export function offlineChecksSliced(input: CheckInput): Promise<CheckFinding[]> {
  return paused(allSteps(input));
}
