/**
 * Exemplar fill: multi-scale PatchMatch (Barnes et al. 2009) with patch voting
 * (Wexler et al. 2007), the method of GIMP's Resynthesizer and of "content-aware
 * fill". 7×7 patches of the hole are matched with patches lying wholly in the
 * known surroundings, coarse to fine: the coarsest level settles the layout from a
 * pre-fill, and each finer level starts from the coarser match field, enlarged, so
 * its first estimate is already copied texture rather than an enlarged blur (a
 * blurry estimate would pull the search towards flat sources). Unlike diffusion it
 * copies real texture — grass stays grass — but it can only reuse what is visible
 * around the hole; it cannot invent structure that is not there.
 */
import { mulberry32 } from './random.ts';

export interface ExemplarOptions {
  readonly signal?: AbortSignal;
  readonly patchRadius?: number;
  readonly seed?: number;
  /** Hole pixels at the coarsest pyramid level: few enough that a patch sees a good share of the hole's width. */
  readonly coarsestTargets?: number;
  /**
   * Prior for sources near the hole: a source one hole-diameter away must match
   * this much better (RMS, grey levels) than one next to it. What lies under an
   * object is most like what lies beside it; without the prior, a distant smooth
   * patch that happens to fit the guide wins over the texture next door.
   */
  readonly locality?: number;
}

export interface ExemplarFill {
  /** Each hole pixel copied from the centre of its own best match: crisp texture, whole patches kept together. */
  readonly sharp: Uint8Array;
  /** Each hole pixel the weighted mean of every overlapping patch's vote: closer on average, softer where the votes disagree. */
  readonly smooth: Uint8Array;
  /** Each hole pixel's match (the index of its source patch centre), -1 elsewhere. */
  readonly field: Int32Array;
  /**
   * Per pixel RGB offset, zero outside the hole and the known pixels next to it, that makes the fill meet the known
   * pixels at the hole's edge: a membrane (harmonic) interpolation of the colour
   * differences found there. Adding it is Poisson blending of the fill into the
   * picture: the fill's gradients, hence its texture, are kept; its colour is carried
   * smoothly to that of the surroundings.
   */
  readonly seam: Float32Array;
}

/** One pyramid level: RGB (known pixels real, hole pixels a guess), and the hole. */
interface Level {
  readonly w: number;
  readonly h: number;
  readonly rgb: Float32Array;
  readonly hole: Uint8Array;
}

function halve(l: Level): Level {
  const w = Math.ceil(l.w / 2);
  const h = Math.ceil(l.h / 2);
  const rgb = new Float32Array(w * h * 3);
  const hole = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      let n = 0;
      let unknown = 0;
      for (let dy = 0; dy < 2; dy++) {
        const yy = Math.min(l.h - 1, 2 * y + dy);
        for (let dx = 0; dx < 2; dx++) {
          const q = yy * l.w + Math.min(l.w - 1, 2 * x + dx);
          if (l.hole[q]) unknown = 1;
          for (let k = 0; k < 3; k++) rgb[p * 3 + k] = rgb[p * 3 + k]! + l.rgb[q * 3 + k]!;
          n++;
        }
      }
      // A coarse pixel with any unknown child is unknown: no colour of the removed object reaches a coarse source.
      hole[p] = unknown;
      for (let k = 0; k < 3; k++) rgb[p * 3 + k] = rgb[p * 3 + k]! / n;
    }
  }
  return { w, h, rgb, hole };
}

/** Distance of each hole pixel to the nearest known pixel (city-block, two passes), 0 outside. */
export function depthOf(hole: Uint8Array, w: number, h: number): Float32Array {
  const d = new Float32Array(w * h);
  const far = w + h;
  for (let p = 0; p < w * h; p++) d[p] = hole[p] ? far : 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      if (!hole[p]) continue;
      if (x > 0) d[p] = Math.min(d[p]!, d[p - 1]! + 1);
      if (y > 0) d[p] = Math.min(d[p]!, d[p - w]! + 1);
    }
  }
  for (let y = h - 1; y >= 0; y--) {
    for (let x = w - 1; x >= 0; x--) {
      const p = y * w + x;
      if (!hole[p]) continue;
      if (x < w - 1) d[p] = Math.min(d[p]!, d[p + 1]! + 1);
      if (y < h - 1) d[p] = Math.min(d[p]!, d[p + w]! + 1);
    }
  }
  return d;
}

/** Wexler's confidence falloff: patches nearer the known edge are surer of themselves. */
const CONFIDENCE_BASE = 1.3;

class LevelFill {
  readonly w: number;
  readonly h: number;
  readonly rgb: Float32Array;
  readonly hole: Uint8Array;
  readonly est: Float32Array;
  readonly nnf: Int32Array;
  readonly cost: Float32Array;
  readonly targets: Int32Array;
  readonly sources: Int32Array;
  readonly confidence: Float32Array;
  private readonly sat: Int32Array;
  guideWeight = 1;

  constructor(
    level: Level,
    readonly pr: number,
    readonly rand: () => number,
  ) {
    const { w, h, rgb, hole } = level;
    this.w = w;
    this.h = h;
    this.rgb = rgb;
    this.hole = hole;
    this.est = new Float32Array(rgb);
    this.nnf = new Int32Array(w * h).fill(-1);
    this.cost = new Float32Array(w * h);
    // Summed-area table of unknown pixels, to test "patch fully known" in O(1).
    const sat = new Int32Array((w + 1) * (h + 1));
    for (let y = 0; y < h; y++) {
      let row = 0;
      for (let x = 0; x < w; x++) {
        row += hole[y * w + x] ? 1 : 0;
        sat[(y + 1) * (w + 1) + x + 1] = sat[y * (w + 1) + x + 1]! + row;
      }
    }
    this.sat = sat;
    const sources: number[] = [];
    for (let y = pr; y < h - pr; y++) for (let x = pr; x < w - pr; x++) if (this.isSource(x, y)) sources.push(y * w + x);
    this.sources = Int32Array.from(sources);
    const targets: number[] = [];
    for (let p = 0; p < w * h; p++) if (hole[p]) targets.push(p);
    this.targets = Int32Array.from(targets);
    const depth = depthOf(hole, w, h);
    this.confidence = new Float32Array(w * h);
    for (const t of this.targets) this.confidence[t] = CONFIDENCE_BASE ** -Math.min(depth[t]!, 200);
  }

  isSource(x: number, y: number): boolean {
    const { pr, w, h, sat } = this;
    if (x < pr || y < pr || x >= w - pr || y >= h - pr) return false;
    const x0 = x - pr;
    const y0 = y - pr;
    const x1 = x + pr + 1;
    const y1 = y + pr + 1;
    return sat[y1 * (w + 1) + x1]! - sat[y0 * (w + 1) + x1]! - sat[y1 * (w + 1) + x0]! + sat[y0 * (w + 1) + x0]! === 0;
  }

  randomSource(): number {
    return this.sources[Math.floor(this.rand() * this.sources.length)]!;
  }

  /** Mean squared RGB distance between the estimate's patch at `t` and the known patch at `s`; Infinity once past `bound`. */
  dist(t: number, s: number, bound: number): number {
    const { w, h, pr, est, rgb, hole, guideWeight } = this;
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
        const a = q * 3;
        const b = ((sy + oy) * w + sx + ox) * 3;
        const wt = hole[q] ? guideWeight : 1;
        const d0 = est[a]! - rgb[b]!;
        const d1 = est[a + 1]! - rgb[b + 1]!;
        const d2 = est[a + 2]! - rgb[b + 2]!;
        d += wt * (d0 * d0 + d1 * d1 + d2 * d2);
        n += wt;
      }
      if (n > 0 && d > bound * n) return Infinity;
    }
    return n > 0 ? d / n : Infinity;
  }

  /** Weight of the squared source distance (pixels²) in a match's cost. */
  locality = 0;

  /** The prior against far sources, in the units of the patch distance. */
  penalty(t: number, s: number): number {
    if (!this.locality) return 0;
    const w = this.w;
    const dx = (t % w) - (s % w);
    const dy = Math.floor(t / w) - Math.floor(s / w);
    return this.locality * (dx * dx + dy * dy);
  }

  private tryCandidate(t: number, s: number): void {
    if (s === this.nnf[t]) return;
    const sx = s % this.w;
    if (!this.isSource(sx, (s - sx) / this.w)) return;
    const pen = this.penalty(t, s);
    if (pen >= this.cost[t]!) return;
    const d = this.dist(t, s, this.cost[t]! - pen) + pen;
    if (d < this.cost[t]!) {
      this.cost[t] = d;
      this.nnf[t] = s;
    }
  }

  rescore(): void {
    for (const t of this.targets) this.cost[t] = this.dist(t, this.nnf[t]!, Infinity) + this.penalty(t, this.nnf[t]!);
  }

  /** PatchMatch: propagation from the scan's previous neighbours, then random search around the match with shrinking radius. */
  search(iterations: number, signal?: AbortSignal): void {
    const { w, h, pr, targets, nnf, hole, rand } = this;
    const maxRadius = Math.max(w, h);
    for (let it = 0; it < iterations; it++) {
      signal?.throwIfAborted();
      const forward = it % 2 === 0;
      const step = forward ? 1 : -1;
      for (let k = 0; k < targets.length; k++) {
        const t = targets[forward ? k : targets.length - 1 - k]!;
        const tx = t % w;
        const ty = (t - tx) / w;
        const left = tx - step;
        if (left >= 0 && left < w && hole[t - step]) this.tryCandidate(t, nnf[t - step]! + step);
        const up = ty - step;
        if (up >= 0 && up < h && hole[t - step * w]) this.tryCandidate(t, nnf[t - step * w]! + step * w);
        const cur = nnf[t]!;
        const cx = cur % w;
        const cy = (cur - cx) / w;
        for (let r = maxRadius; r >= 1; r >>= 1) {
          const x = Math.round(cx + (rand() * 2 - 1) * r);
          const y = Math.round(cy + (rand() * 2 - 1) * r);
          if (x >= pr && y >= pr && x < w - pr && y < h - pr) this.tryCandidate(t, y * w + x);
        }
      }
    }
  }

  /**
   * Each target patch's vote weight: similarity exp(-d / 2σ²), with σ² the 75th
   * percentile of this level's patch distances (Wexler et al.), times the patch's
   * confidence (higher near the known edge).
   */
  weights(): Float32Array {
    const { targets, cost, confidence } = this;
    const costs = new Float32Array(targets.length);
    for (let i = 0; i < targets.length; i++) costs[i] = cost[targets[i]!]!;
    costs.sort();
    const sigma2 = Math.max(1, costs[Math.floor(0.75 * (costs.length - 1))]!);
    const wt = new Float32Array(this.w * this.h);
    // Floored so that a pixel every poor patch covers still takes their vote (rather than none, and keeping a stale estimate).
    for (const t of targets) wt[t] = Math.max(1e-30, Math.exp(-cost[t]! / (2 * sigma2)) * confidence[t]!);
    return wt;
  }

  /**
   * Voting: each hole pixel becomes the weighted mean of what every overlapping
   * patch's match says it should be. With `edge`, known pixels next to the hole
   * also collect the votes of the patches that reach them (what the fill would
   * put there), for the seam.
   */
  vote(edge?: Float32Array): void {
    const { w, h, pr, targets, nnf, rgb, hole, est } = this;
    const wt = this.weights();
    const acc = new Float32Array(w * h * 3);
    const wsum = new Float32Array(w * h);
    for (const t of targets) {
      const tx = t % w;
      const ty = (t - tx) / w;
      const s = nnf[t]!;
      const vote = wt[t]!;
      for (let oy = -pr; oy <= pr; oy++) {
        const yy = ty + oy;
        if (yy < 0 || yy >= h) continue;
        for (let ox = -pr; ox <= pr; ox++) {
          const xx = tx + ox;
          if (xx < 0 || xx >= w) continue;
          const q = yy * w + xx;
          if (!hole[q] && !edge) continue;
          const r = (s + oy * w + ox) * 3;
          acc[q * 3] = acc[q * 3]! + vote * rgb[r]!;
          acc[q * 3 + 1] = acc[q * 3 + 1]! + vote * rgb[r + 1]!;
          acc[q * 3 + 2] = acc[q * 3 + 2]! + vote * rgb[r + 2]!;
          wsum[q] = wsum[q]! + vote;
        }
      }
    }
    for (let q = 0; q < w * h; q++) {
      const ws = wsum[q]!;
      if (ws <= 0) continue;
      const out = hole[q] ? est : edge;
      if (!out) continue;
      out[q * 3] = acc[q * 3]! / ws;
      out[q * 3 + 1] = acc[q * 3 + 1]! / ws;
      out[q * 3 + 2] = acc[q * 3 + 2]! / ws;
    }
  }

  /** Starts from a coarser level's field, enlarged (offsets doubled), and its estimate as the guide. */
  inherit(coarse: LevelFill): void {
    const { w, h, targets, nnf, est } = this;
    for (const t of targets) {
      const x = t % w;
      const y = (t - x) / w;
      const cx = Math.min(coarse.w - 1, x >> 1);
      const cy = Math.min(coarse.h - 1, y >> 1);
      const c = cy * coarse.w + cx;
      for (let k = 0; k < 3; k++) est[t * 3 + k] = coarse.est[c * 3 + k]!;
      const m = coarse.nnf[c]!;
      let s = -1;
      if (m >= 0) {
        const mx = m % coarse.w;
        const sx = Math.min(w - 1, 2 * mx + (x & 1));
        const sy = Math.min(h - 1, 2 * ((m - mx) / coarse.w) + (y & 1));
        if (this.isSource(sx, sy)) s = sy * w + sx;
      }
      nnf[t] = s >= 0 ? s : this.randomSource();
    }
  }
}

/**
 * Membrane interpolation: the harmonic function inside `hole` whose values at the
 * known pixels next to it are `boundary` (RGB, read only there), returned there too. Started from an
 * onion peel (each ring the mean of the ring outside it), then relaxed by SOR.
 */
export function membrane(hole: Uint8Array, boundary: Float32Array, w: number, h: number, signal?: AbortSignal): Float32Array {
  const n = w * h;
  const c = new Float32Array(n * 3);
  // 1: value final (known, or an earlier ring); 0: not reached yet.
  const set = new Uint8Array(n);
  const queued = new Uint8Array(n);
  const nb = new Int32Array(4);
  const neighbours = (p: number): number => {
    const x = p % w;
    let k = 0;
    if (x > 0) nb[k++] = p - 1;
    if (x < w - 1) nb[k++] = p + 1;
    if (p >= w) nb[k++] = p - w;
    if (p < n - w) nb[k++] = p + w;
    return k;
  };
  let front: number[] = [];
  for (let p = 0; p < n; p++) {
    if (!hole[p]) {
      set[p] = 1;
      for (let k = 0; k < 3; k++) c[p * 3 + k] = boundary[p * 3 + k]!;
      continue;
    }
    const k = neighbours(p);
    for (let i = 0; i < k; i++) {
      if (hole[nb[i]!]) continue;
      front.push(p);
      queued[p] = 1;
      break;
    }
  }
  const inside: number[] = [];
  while (front.length) {
    for (const p of front) {
      let m = 0;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      const k = neighbours(p);
      for (let i = 0; i < k; i++) {
        const q = nb[i]!;
        if (!set[q]) continue;
        m++;
        s0 += c[q * 3]!;
        s1 += c[q * 3 + 1]!;
        s2 += c[q * 3 + 2]!;
      }
      if (m) {
        c[p * 3] = s0 / m;
        c[p * 3 + 1] = s1 / m;
        c[p * 3 + 2] = s2 / m;
      }
      inside.push(p);
    }
    const next: number[] = [];
    for (const p of front) {
      set[p] = 1;
      const k = neighbours(p);
      for (let i = 0; i < k; i++) {
        const q = nb[i]!;
        if (!hole[q] || queued[q]) continue;
        queued[q] = 1;
        next.push(q);
      }
    }
    front = next;
  }
  // Over-relaxation, with the factor that is optimal for a square as wide as the hole, converges in a few sweeps per pixel of that width.
  const depth = depthOf(hole, w, h);
  let deepest = 0;
  for (const p of inside) deepest = Math.max(deepest, depth[p]!);
  const omega = 2 / (1 + Math.sin(Math.PI / (2 * deepest + 2)));
  const sweeps = Math.min(400, Math.max(30, Math.ceil(4 * deepest)));
  for (let it = 0; it < sweeps; it++) {
    if (it % 32 === 0) signal?.throwIfAborted();
    let change = 0;
    for (const p of inside) {
      const k = neighbours(p);
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      for (let i = 0; i < k; i++) {
        const q = nb[i]! * 3;
        s0 += c[q]!;
        s1 += c[q + 1]!;
        s2 += c[q + 2]!;
      }
      const a = p * 3;
      const d0 = omega * (s0 / k - c[a]!);
      const d1 = omega * (s1 / k - c[a + 1]!);
      const d2 = omega * (s2 / k - c[a + 2]!);
      c[a] = c[a]! + d0;
      c[a + 1] = c[a + 1]! + d1;
      c[a + 2] = c[a + 2]! + d2;
      change = Math.max(change, Math.abs(d0), Math.abs(d1), Math.abs(d2));
    }
    if (change < 0.02) break;
  }
  // The edge values stay on the known pixels next to the hole, so that an enlarged membrane meets them there rather than zero.
  const out = new Float32Array(n * 3);
  for (let p = 0; p < n; p++) {
    let near = hole[p] !== 0;
    const k = near ? 0 : neighbours(p);
    for (let i = 0; i < k && !near; i++) near = hole[nb[i]!] !== 0;
    if (!near) continue;
    for (let j = 0; j < 3; j++) out[p * 3 + j] = c[p * 3 + j]!;
  }
  return out;
}

/**
 * Fills `hole` (non-zero = unknown) in packed RGB `rgb` of size w×h, starting from
 * `guess` (same layout; its hole pixels are the pre-fill, read at the coarsest level only).
 */
export function exemplarFill(rgb: Uint8Array, guess: Uint8Array, hole: Uint8Array, w: number, h: number, opts: ExemplarOptions = {}): ExemplarFill {
  const pr = opts.patchRadius ?? 3;
  const locality = opts.locality ?? 10;
  const rand = mulberry32(opts.seed ?? 0x5eed);
  const base = new Float32Array(w * h * 3);
  for (let p = 0; p < w * h; p++) for (let k = 0; k < 3; k++) base[p * 3 + k] = hole[p] ? guess[p * 3 + k]! : rgb[p * 3 + k]!;
  const unknown = new Uint8Array(w * h);
  for (let p = 0; p < w * h; p++) unknown[p] = hole[p] ? 1 : 0;
  const pyramid: Level[] = [{ w, h, rgb: base, hole: unknown }];
  const coarsestTargets = opts.coarsestTargets ?? 1500;
  const count = (l: Level): number => {
    let n = 0;
    for (let p = 0; p < l.w * l.h; p++) n += l.hole[p]!;
    return n;
  };
  while (count(pyramid[0]!) > coarsestTargets && pyramid[0]!.w >= 32 && pyramid[0]!.h >= 32) pyramid.unshift(halve(pyramid[0]!));

  const field = new Int32Array(w * h).fill(-1);
  const seam = new Float32Array(w * h * 3);
  let prev: LevelFill | undefined;
  for (let l = 0; l < pyramid.length; l++) {
    const fill = new LevelFill(pyramid[l]!, pr, rand);
    // The hole's pixel count stands for its squared diameter at this level, so the prior is the same at every scale.
    fill.locality = locality ** 2 / Math.max(1, fill.targets.length);
    if (fill.sources.length === 0 || fill.targets.length === 0) {
      const out = new Uint8Array(guess);
      return { sharp: out, smooth: out, field, seam };
    }
    const finest = l === pyramid.length - 1;
    if (!prev) {
      // The pre-fill is only a colour hint: known pixels decide the first matches.
      fill.guideWeight = 0.35;
      for (const t of fill.targets) fill.nnf[t] = fill.randomSource();
    } else {
      fill.inherit(prev);
      fill.rescore();
      // The enlarged field's own vote: copied texture, not the coarser level's enlarged blur, guides this level's search.
      fill.vote();
    }
    // Coarse levels settle the layout and are cheap; fine levels only sharpen it.
    const em = !prev ? 6 : finest ? 2 : 3;
    for (let i = 0; i < em; i++) {
      fill.rescore();
      fill.search(2, opts.signal);
      fill.vote();
      fill.guideWeight = 1;
    }
    prev = fill;
  }
  const fine = prev!;
  fine.rescore();
  const edge = new Float32Array(w * h * 3);
  // The fill's own continuation onto the known edge pixels; the differences there, carried inwards, are the seam.
  fine.vote(edge);
  const boundary = new Float32Array(w * h * 3);
  for (let p = 0; p < w * h; p++) {
    if (hole[p]) continue;
    // Every known pixel next to the hole has votes (the patch of its hole neighbour covers it); the others are never read.
    for (let k = 0; k < 3; k++) boundary[p * 3 + k] = rgb[p * 3 + k]! - edge[p * 3 + k]!;
  }
  seam.set(membrane(hole, boundary, w, h, opts.signal));
  field.set(fine.nnf);
  const sharp = new Uint8Array(rgb);
  const smooth = new Uint8Array(rgb);
  for (const t of fine.targets) {
    for (let k = 0; k < 3; k++) {
      sharp[t * 3 + k] = rgb[fine.nnf[t]! * 3 + k]!;
      smooth[t * 3 + k] = Math.max(0, Math.min(255, Math.round(fine.est[t * 3 + k]!)));
    }
  }
  return { sharp, smooth, field, seam };
}
