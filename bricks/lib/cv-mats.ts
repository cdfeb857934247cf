/**
 * Moving pixels in and out of OpenCV's WebAssembly heap. Mats live outside
 * the JS garbage collector, so every Mat made here is tracked and freed by
 * `withMats` even when the work throws.
 */
import { openCvError, type CV } from '../models/opencv.ts';

type Mat = InstanceType<CV['Mat']>;

export interface MatScope {
  /** A new Mat holding a copy of `data` (rows × cols × channels bytes). */
  fromBytes(data: Uint8Array, rows: number, cols: number, channels: 1 | 3 | 4): Mat;
  /** An empty Mat, freed with the scope. */
  mat(): Mat;
  /** Registers a Mat made elsewhere for freeing. */
  track<T extends { delete(): void }>(m: T): T;
}

export function withMats<T>(cv: CV, work: (s: MatScope) => T): T {
  const owned: { delete(): void }[] = [];
  const scope: MatScope = {
    fromBytes(data, rows, cols, channels) {
      const type = channels === 1 ? cv.CV_8UC1 : channels === 3 ? cv.CV_8UC3 : cv.CV_8UC4;
      const m = new cv.Mat(rows, cols, type);
      owned.push(m);
      m.data.set(data.subarray(0, rows * cols * channels));
      return m;
    },
    mat() {
      const m = new cv.Mat();
      owned.push(m);
      return m;
    },
    track(m) {
      owned.push(m);
      return m;
    },
  };
  try {
    return work(scope);
  } catch (err) {
    throw openCvError(cv, err);
  } finally {
    for (const m of owned) m.delete();
  }
}

/** A copy of a Mat's bytes (the view into the WebAssembly heap dies with the Mat). */
export function bytesOf(m: Mat): Uint8Array {
  return new Uint8Array(m.data);
}

/** An elliptical structuring element of the given radius. */
export function disc(cv: CV, s: MatScope, radius: number): Mat {
  const k = 2 * Math.max(1, Math.round(radius)) + 1;
  return s.track(cv.getStructuringElement(cv.MORPH_ELLIPSE, new cv.Size(k, k)));
}

/**
 * Whether a GrabCut seed mask marks both some background and some foreground
 * (certain or probable). GrabCut learns a colour model of each and aborts with
 * an assertion when one has no pixels, as on a tiny image or a mask that
 * covers its whole crop; callers fall back instead of calling it.
 */
export function hasGrabCutSeeds(cv: CV, seeds: Uint8Array): boolean {
  let bg = false;
  let fg = false;
  for (let i = 0; i < seeds.length && !(bg && fg); i++) {
    const v = seeds[i];
    if (v === cv.GC_BGD || v === cv.GC_PR_BGD) bg = true;
    else if (v === cv.GC_FGD || v === cv.GC_PR_FGD) fg = true;
  }
  return bg && fg;
}
