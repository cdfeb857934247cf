/**
 * `npm run bench`: runs every bench/*.bench.ts module in name order (or those
 * named on the command line) and prints its figures. Each module exports
 * `run(): Promise<void>` and reports ratios against a baseline measured in the same run.
 */
import { readdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = (await readdir(here)).filter((f) => f.endsWith('.bench.ts') && (only.length === 0 || only.some((o) => f.includes(o)))).sort();
for (const file of files) {
  console.log(`\n## ${file.replace('.bench.ts', '')}`);
  const mod = (await import(pathToFileURL(`${here}/${file}`).href)) as { run: () => Promise<void> };
  await mod.run();
}
