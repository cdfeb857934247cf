/**
 * Exemplar fill: PatchMatch (Barnes et al. 2009) nearest-neighbour search of
 * 7×7 patches from the hole's surroundings, guided by a pre-fill, with
 * patch voting, repeated a few times (Wexler et al. 2007). Unlike diffusion it
 * copies real texture — grass stays grass — but it can only reuse what is
 * visible around the hole; it cannot invent structure that is not there.
 */
import { mulberry32 } from './random.ts';

export interface PatchFillOptions {
  /** Hole pixels the search works on at most; larger holes are handled at reduced resolution by the caller. */
  readonly signal?: AbortSignal;
  readonly patchRadius?: number;
  readonly emIterations?: number;
  readonly searchIterations?: number;
  readonly seed?: number;
  /** Weight of pre-filled pixels against known ones in the patch distance (known = 1). */
  readonly guideWeight?: number;
  /** Output each hole pixel from its single best patch (crisp texture) rather than the vote (smooth). */
  readonly sharp?: boolean;
  /** Receives each hole pixel's match (the index of its source patch centre), -1 elsewhere, for copying detail at a finer scale. */
  readonly field?: Int32Array;
}


/**
 * Fills `hole` (non-zero = unknown) in packed RGB `rgb` of size w×h, starting
 * from `guess` (same layout; its hole pixels are the pre-fill). Returns new RGB.
 */
export function patchFill(rgb: Uint8Array, guess: Uint8Array, hole: Uint8Array, w: number, h: number, opts: PatchFillOptions = {}): Uint8Array {
  const pr = opts.patchRadius ?? 3;
  const rand = mulberry32(opts.seed ?? 0x5eed);
  // Source centres: patches lying wholly in known pixels.
  const known = new Uint8Array(w * h);
  for (let p = 0; p < w * h; p++) known[p] = hole[p] ? 0 : 1;
  // Summed-area table of unknown pixels to test "patch fully known" in O(1).
  const sat = new Int32Array((w + 1) * (h + 1));
  for (let y = 0; y < h; y++) {
    let row = 0;
    for (let x = 0; x < w; x++) {
      row += known[y * w + x] ? 0 : 1;
      sat[(y + 1) * (w + 1) + x + 1] = sat[y * (w + 1) + x + 1]! + row;
    }
  }
  const isSource = (x: number, y: number): boolean => {
    if (x < pr || y < pr || x >= w - pr || y >= h - pr) return false;
    const x0 = x - pr;
    const y0 = y - pr;
    const x1 = x + pr + 1;
    const y1 = y + pr + 1;
    return sat[y1 * (w + 1) + x1]! - sat[y0 * (w + 1) + x1]! - sat[y1 * (w + 1) + x0]! + sat[y0 * (w + 1) + x0]! === 0;
  };
  const sources: number[] = [];
  for (let y = pr; y < h - pr; y++) for (let x = pr; x < w - pr; x++) if (isSource(x, y)) sources.push(y * w + x);
  const targets: number[] = [];
  for (let p = 0; p < w * h; p++) if (hole[p]) targets.push(p);
  if (sources.length === 0 || targets.length === 0) return new Uint8Array(guess);

  const est = new Float32Array(w * h * 3);
  for (let i = 0; i < est.length; i++) est[i] = guess[i]!;
  const nnf = new Int32Array(w * h).fill(-1);
  const cost = new Float32Array(w * h);
  // Known pixels in a target patch anchor it to its surroundings; estimated ones only guide.
  const guideWeight = opts.guideWeight ?? 0.35;

  const dist = (t: number, s: number, bound: number): number => {
    const tx = t % w;
    const ty = (t - tx) / w;
    const sx = s % w;
    const sy = (s - sx) / w;
    let d = 0;
    let n = 0;
    for (let oy = -pr; oy <= pr; oy++) {
      const yy = ty + oy;
      if (yy < 0 || yy >= h) continue;
      for (let ox = -pr; ox <= pr; ox++) {
        const xx = tx + ox;
        if (xx < 0 || xx >= w) continue;
        const q = yy * w + xx;
        const r = (sy + oy) * w + sx + ox;
        const wt = known[q] ? 1 : guideWeight;
        const a = q * 3;
        const b = r * 3;
        const d0 = est[a]! - rgb[b]!;
        const d1 = est[a + 1]! - rgb[b + 1]!;
        const d2 = est[a + 2]! - rgb[b + 2]!;
        d += wt * (d0 * d0 + d1 * d1 + d2 * d2);
        n += wt;
      }
      if (d > bound * n && n > 0) return Infinity;
    }
    return n > 0 ? d / n : Infinity;
  };

  for (const t of targets) {
    const s = sources[Math.floor(rand() * sources.length)]!;
    nnf[t] = s;
    cost[t] = dist(t, s, Infinity);
  }
  const tryCandidate = (t: number, s: number): void => {
    if (s === nnf[t]) return;
    const sx = s % w;
    if (!isSource(sx, (s - sx) / w)) return;
    const d = dist(t, s, cost[t]!);
    if (d < cost[t]!) {
      cost[t] = d;
      nnf[t] = s;
    }
  };
  const emIterations = opts.emIterations ?? 3;
  const searchIterations = opts.searchIterations ?? 3;
  const maxRadius = Math.max(w, h);
  for (let em = 0; em < emIterations; em++) {
    for (const t of targets) cost[t] = dist(t, nnf[t]!, Infinity);
    for (let it = 0; it < searchIterations; it++) {
      opts.signal?.throwIfAborted();
      const forward = it % 2 === 0;
      const step = forward ? 1 : -1;
      for (let k = 0; k < targets.length; k++) {
        const t = targets[forward ? k : targets.length - 1 - k]!;
        const tx = t % w;
        const ty = (t - tx) / w;
        // Propagation: a good match for the neighbour, shifted by one, is likely good here.
        const left = tx - step;
        if (left >= 0 && left < w && hole[t - step]) tryCandidate(t, nnf[t - step]! + step);
        const up = ty - step;
        if (up >= 0 && up < h && hole[t - step * w]) tryCandidate(t, nnf[t - step * w]! + step * w);
        // Random search around the current match with shrinking radius.
        const cur = nnf[t]!;
        const cx = cur % w;
        const cy = (cur - cx) / w;
        for (let r = maxRadius; r >= 1; r >>= 1) {
          const x = Math.round(cx + (rand() * 2 - 1) * r);
          const y = Math.round(cy + (rand() * 2 - 1) * r);
          if (x >= pr && y >= pr && x < w - pr && y < h - pr) tryCandidate(t, y * w + x);
        }
      }
    }
    // Voting: each hole pixel becomes the average of what every overlapping patch match says it should be.
    const acc = new Float32Array(w * h * 3);
    const wsum = new Float32Array(w * h);
    for (const t of targets) {
      const tx = t % w;
      const ty = (t - tx) / w;
      const s = nnf[t]!;
      const vote = Math.exp(-cost[t]! / 800);
      for (let oy = -pr; oy <= pr; oy++) {
        const yy = ty + oy;
        if (yy < 0 || yy >= h) continue;
        for (let ox = -pr; ox <= pr; ox++) {
          const xx = tx + ox;
          if (xx < 0 || xx >= w) continue;
          const q = yy * w + xx;
          if (!hole[q]) continue;
          const r = (s + oy * w + ox) * 3;
          acc[q * 3] = acc[q * 3]! + vote * rgb[r]!;
          acc[q * 3 + 1] = acc[q * 3 + 1]! + vote * rgb[r + 1]!;
          acc[q * 3 + 2] = acc[q * 3 + 2]! + vote * rgb[r + 2]!;
          wsum[q] = wsum[q]! + vote;
        }
      }
    }
    for (const t of targets) {
      const ws = wsum[t]!;
      if (ws <= 1e-6) continue;
      est[t * 3] = acc[t * 3]! / ws;
      est[t * 3 + 1] = acc[t * 3 + 1]! / ws;
      est[t * 3 + 2] = acc[t * 3 + 2]! / ws;
    }
  }
  opts.field?.set(nnf);
  const out = new Uint8Array(rgb);
  if (opts.sharp) {
    // Voting averages several matches and blurs texture; the best match's own pixel keeps it crisp.
    for (const t of targets) cost[t] = dist(t, nnf[t]!, Infinity);
    for (const t of targets) for (let k = 0; k < 3; k++) out[t * 3 + k] = rgb[nnf[t]! * 3 + k]!;
    return out;
  }
  for (const t of targets) for (let k = 0; k < 3; k++) out[t * 3 + k] = Math.max(0, Math.min(255, Math.round(est[t * 3 + k]!)));
  return out;
}
