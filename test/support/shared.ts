/** Access to ../shared (real photos and benchmark instructions), which CI always has and a bare clone may not. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from 'vitest';

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

/** `describe` that skips, visibly, where ../shared/photos is absent. */
export const describeWithPhotos = hasSharedPhotos ? describe : describe.skip;
