/**
 * Mask clean-up after a segmentation: filling holes the object cannot have,
 * and an edge-aware refinement (the guided filter of He, Sun and Tang, 2010)
 * that snaps a coarse mask's edge to the photo's own edges, softly where the
 * photo is soft (hair, fur) and firmly where it is sharp.
 */
import { labelComponents } from './pixels.ts';

/**
 * Fills background regions of a 0/255 mask that do not touch the border of the
 * w×h frame and are smaller than `maxShare` of the object: GrabCut leaves such
 * holes where a colour of the object also occurs in the background model.
 * Large enclosed regions (the gap in a ring, between an arm and a body) stay.
 */
export function fillHoles(mask: Uint8Array, w: number, h: number, maxShare = 0.1): Uint8Array {
  const out = new Uint8Array(mask);
  let area = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) area++;
  const { labels, sizes } = labelComponents(w, h, (p) => !mask[p]);
  // Background regions that reach the frame are the outside, not holes.
  const outside = new Uint8Array(sizes.length);
  for (let x = 0; x < w; x++) {
    outside[labels[x]!] = 1;
    outside[labels[(h - 1) * w + x]!] = 1;
  }
  for (let y = 0; y < h; y++) {
    outside[labels[y * w]!] = 1;
    outside[labels[y * w + w - 1]!] = 1;
  }
  for (let p = 0; p < out.length; p++) {
    const l = labels[p]!;
    if (l && !outside[l] && sizes[l]! <= maxShare * area) out[p] = 255;
  }
  return out;
}

/** Mean over a (2r+1)² window, clipped at the frame, by a summed-area table. */
function boxMean(src: Float32Array, w: number, h: number, r: number): Float32Array {
  const sat = new Float64Array((w + 1) * (h + 1));
  for (let y = 0; y < h; y++) {
    let row = 0;
    for (let x = 0; x < w; x++) {
      row += src[y * w + x]!;
      sat[(y + 1) * (w + 1) + x + 1] = sat[y * (w + 1) + x + 1]! + row;
    }
  }
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const y0 = Math.max(0, y - r);
    const y1 = Math.min(h, y + r + 1);
    for (let x = 0; x < w; x++) {
      const x0 = Math.max(0, x - r);
      const x1 = Math.min(w, x + r + 1);
      const s = sat[y1 * (w + 1) + x1]! - sat[y0 * (w + 1) + x1]! - sat[y1 * (w + 1) + x0]! + sat[y0 * (w + 1) + x0]!;
      out[y * w + x] = s / ((x1 - x0) * (y1 - y0));
    }
  }
  return out;
}

/**
 * Guided filter of `p` (0..1) with grey guide `I` (0..1), window radius `r`,
 * regularisation `eps`: locally p ≈ a·I + b, so the output's edges follow the guide's.
 */
export function guidedFilter(I: Float32Array, p: Float32Array, w: number, h: number, r: number, eps: number): Float32Array {
  const n = w * h;
  const Ip = new Float32Array(n);
  const II = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    Ip[i] = I[i]! * p[i]!;
    II[i] = I[i]! * I[i]!;
  }
  const mI = boxMean(I, w, h, r);
  const mp = boxMean(p, w, h, r);
  const mIp = boxMean(Ip, w, h, r);
  const mII = boxMean(II, w, h, r);
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const cov = mIp[i]! - mI[i]! * mp[i]!;
    const v = mII[i]! - mI[i]! * mI[i]!;
    a[i] = cov / (v + eps);
    b[i] = mp[i]! - a[i]! * mI[i]!;
  }
  const ma = boxMean(a, w, h, r);
  const mb = boxMean(b, w, h, r);
  const q = new Float32Array(n);
  for (let i = 0; i < n; i++) q[i] = ma[i]! * I[i]! + mb[i]!;
  return q;
}
