/**
 * Files written whole or not at all: to a temporary name beside the target, then renamed over it, so a full disk
 * or a crash never leaves a truncated image under the name the user asked for.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A temporary name in the target's directory (a rename across file systems would not be atomic). */
function temporaryName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Writes several files so that either all of them are in place or none is changed: all are written before any is renamed. */
export async function writeFilesAtomically(files: ReadonlyArray<{ readonly path: string; readonly bytes: Uint8Array }>): Promise<void> {
  const temps: string[] = [];
  try {
    for (const f of files) {
      const tmp = temporaryName(f.path);
      temps.push(tmp);
      await writeFile(tmp, f.bytes, { flush: true });
    }
    for (const [i, f] of files.entries()) await rename(temps[i]!, f.path);
  } catch (err) {
    for (const tmp of temps) await rm(tmp, { force: true });
    throw err;
  }
}

export function writeFileAtomically(path: string, bytes: Uint8Array): Promise<void> {
  return writeFilesAtomically([{ path, bytes }]);
}
