import { writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { encodeImage, formatFromPath } from '../engine/image-io.ts';
import type { Value } from '../engine/values.ts';

/** `out.png`, `out-2.png`, `out-3.png`… for a workflow's several results. */
export function resultPath(base: string, index: number): string {
  if (index === 0) return base;
  const ext = extname(base);
  return `${base.slice(0, base.length - ext.length)}-${index + 1}${ext || '.png'}`;
}

/** Writes image and mask results as files; text results are returned for printing. */
export async function writeResults(results: readonly Value[], base: string): Promise<{ files: string[]; texts: string[] }> {
  const files: string[] = [];
  const texts: string[] = [];
  let index = 0;
  for (const v of results) {
    if (typeof v === 'string' || typeof v === 'number') {
      texts.push(String(v));
      continue;
    }
    const path = resultPath(base, index++);
    await writeFile(path, await encodeImage(v, formatFromPath(path)));
    files.push(path);
  }
  return { files, texts };
}
