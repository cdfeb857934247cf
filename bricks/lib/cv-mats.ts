/**
 * Moving pixels in and out of OpenCV's WebAssembly heap. Mats live outside
 * the JS garbage collector, so every Mat made here is tracked and freed by
 * `withMats` even when the work throws.
 */
import type { CV } from '../models/opencv.ts';

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
