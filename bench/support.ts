/** Timing helpers shared by the bench modules. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const photosDir = resolve(repoRoot, '../shared/photos');

/** A shared photo when ../shared is there, else the project's own sample. */
export function photoBytes(name = 'rally-car.jpg'): { bytes: Buffer; source: string } {
  const shared = join(photosDir, name);
  if (existsSync(shared)) return { bytes: readFileSync(shared), source: `../shared/photos/${name}` };
  return { bytes: readFileSync(join(repoRoot, 'examples/sample.jpg')), source: 'examples/sample.jpg' };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Median wall time of `fn` over `runs` runs after `warmup` unmeasured ones. */
export async function timeMedian(fn: () => Promise<unknown>, runs = 7, warmup = 2): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/**
 * Medians of two interleaved measurements, so load drift on a shared machine hits both alike.
 * The order flips every round: whichever runs second also pays for the garbage the first left.
 */
export async function timePair(a: () => Promise<unknown>, b: () => Promise<unknown>, runs = 9, warmup = 2): Promise<[number, number]> {
  for (let i = 0; i < warmup; i++) {
    await a();
    await b();
  }
  const ta: number[] = [];
  const tb: number[] = [];
  const time = async (fn: () => Promise<unknown>, into: number[]): Promise<void> => {
    const t0 = performance.now();
    await fn();
    into.push(performance.now() - t0);
  };
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      await time(a, ta);
      await time(b, tb);
    } else {
      await time(b, tb);
      await time(a, ta);
    }
  }
  return [median(ta), median(tb)];
}

export const ms = (x: number): string => `${x.toFixed(1)} ms`;
