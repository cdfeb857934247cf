/** Access to ../shared (real photos and benchmark instructions), which CI always has and a bare clone may not. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const sharedDir = resolve(repoRoot, '../shared');
export const photosDir = join(sharedDir, 'photos');
export const hasSharedPhotos = existsSync(join(photosDir, 'cases.json'));

export interface PhotoCase {
  readonly image: string;
  readonly instruction: string;
  readonly category: string;
  readonly bricks: string;
}

export function photoCases(): PhotoCase[] {
  return JSON.parse(readFileSync(join(photosDir, 'cases.json'), 'utf8')) as PhotoCase[];
}

export function readPhoto(name: string): Buffer {
  return readFileSync(join(photosDir, name));
}

if (!hasSharedPhotos) console.warn(`SKIPPING shared-photo tests: ${photosDir} not found`);

/**
 * `describe` that skips, visibly, where ../shared/photos is absent. Its body is not run then: vitest runs a
 * skipped suite's body to collect it, and a body that reads a photo at collection would fail the file.
 */
export function describeWithPhotos(name: string, body: () => void | Promise<void>): void {
  if (hasSharedPhotos) describe(name, body);
  else describe.skip(name, () => it.skip(`needs ${photosDir}`, () => {}));
}
