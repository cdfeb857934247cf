/**
 * The registry this project is built against serves only some platforms' builds of
 * msgpackr-extract (an optional native speed-up of msgpackr, used by BullMQ). npm then
 * writes a lock file without the others, and `npm ci` rejects that lock as out of sync.
 * This adds lock entries for the missing platform packages: their os/cpu fields mean npm
 * never fetches them on Linux x64, and on other platforms npm resolves them as usual.
 * Run after any `npm install` that rewrites package-lock.json: `npx tsx scripts/lock-platform-entries.ts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface LockEntry {
  version?: string;
  optionalDependencies?: Record<string, string>;
  [key: string]: unknown;
}

const PLATFORM = /-(darwin|linux|win32)-(arm64|x64|arm)$/;
const path = join(fileURLToPath(new URL('..', import.meta.url)), 'package-lock.json');
const lock = JSON.parse(readFileSync(path, 'utf8')) as { packages: Record<string, LockEntry> };
let added = 0;
for (const entry of Object.values(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const m = PLATFORM.exec(name);
    const key = `node_modules/${name}`;
    if (!m || !name.startsWith('@msgpackr-extract/') || lock.packages[key]) continue;
    lock.packages[key] = { version, cpu: [m[2]], license: 'MIT', optional: true, os: [m[1]] };
    added++;
  }
}
// npm orders lock entries with an English locale compare; keep its order so diffs stay small.
const sorted = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => a.localeCompare(b, 'en')));
writeFileSync(path, `${JSON.stringify({ ...lock, packages: sorted }, null, 2)}\n`);
console.log(`added ${added} platform lock entries`);
