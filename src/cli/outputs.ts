import { extname } from 'node:path';
import { errorMessage } from '../engine/errors.ts';
import { encodeImage, formatFromPath } from '../engine/image-io.ts';
import type { Value } from '../engine/values.ts';
import { writeFilesAtomically } from './atomic-write.ts';
import { CliError } from './shared.ts';

/** `out.png`, `out-2.png`, `out-3.png`… for a workflow's several results. */
export function resultPath(base: string, index: number): string {
  if (index === 0) return base;
  const ext = extname(base);
  return `${base.slice(0, base.length - ext.length)}-${index + 1}${ext || '.png'}`;
}

/** Writes image and mask results as files, all or none (a full disk leaves no partial file); text results are returned for printing. */
export async function writeResults(results: readonly Value[], base: string): Promise<{ files: string[]; texts: string[] }> {
  const encoded: Array<{ path: string; bytes: Uint8Array }> = [];
  const texts: string[] = [];
  for (const v of results) {
    if (typeof v === 'string' || typeof v === 'number') {
      texts.push(String(v));
      continue;
    }
    const path = resultPath(base, encoded.length);
    encoded.push({ path, bytes: await encodeImage(v, formatFromPath(path)) });
  }
  try {
    await writeFilesAtomically(encoded);
  } catch (err) {
    throw new CliError(`Cannot write ${encoded.map((f) => f.path).join(', ')}: ${writeFailure(err)}`);
  }
  return { files: encoded.map((f) => f.path), texts };
}

/** Why a file could not be written, in words: a full disk is the usual reason. */
export function writeFailure(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'the disk is full (nothing was written)';
  return `${code ?? errorMessage(err)} (nothing was written)`;
}
