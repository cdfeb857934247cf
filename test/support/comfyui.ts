/** The real /object_info dump in ../shared/comfyui, for the fake ComfyUI to serve and validate against. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import type { ObjectInfo } from '../fakes/comfyui-validate.ts';
import { sharedDir } from './shared.ts';

export const objectInfoPath = join(sharedDir, 'comfyui', 'object_info.json');
export const hasObjectInfo = existsSync(objectInfoPath);

if (!hasObjectInfo) console.warn(`SKIPPING ComfyUI schema tests: ${objectInfoPath} not found`);

let cached: ObjectInfo | undefined;
export function objectInfo(): ObjectInfo {
  cached ??= JSON.parse(readFileSync(objectInfoPath, 'utf8')) as ObjectInfo;
  return cached;
}

/** `describe` that skips, visibly, where the dump is absent. */
export function describeWithObjectInfo(name: string, body: () => void | Promise<void>): void {
  if (hasObjectInfo) describe(name, body);
  else describe.skip(name, () => it.skip(`needs ${objectInfoPath}`, () => {}));
}
