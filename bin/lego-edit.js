#!/usr/bin/env node
// Runs the compiled JavaScript in dist/ (built by `npm install`'s prepare step),
// which starts in a fraction of the time the TypeScript sources take through
// tsx. A checkout whose sources changed after the build runs the sources, so
// an edit is never hidden behind stale output (`npm run build` refreshes dist/).
import { existsSync, readdirSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const stamp = new URL('dist/BUILT', root);

/** Whether any source file is newer than the build; a few hundred stat calls, a few milliseconds. */
function changedSince(built, dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const url = new URL(entry.isDirectory() ? `${entry.name}/` : entry.name, dir);
    if (entry.isDirectory() ? changedSince(built, url) : statSync(url).mtimeMs > built) return true;
  }
  return false;
}

function buildIsCurrent() {
  if (!existsSync(stamp)) return false;
  const built = statSync(stamp).mtimeMs;
  return !['src/', 'bricks/', 'adapters/', 'db/', 'migrations/'].some((d) => existsSync(new URL(d, root)) && changedSince(built, new URL(d, root)));
}

let entry;
if (buildIsCurrent()) {
  entry = new URL('dist/src/cli/main.js', root);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  entry = new URL('src/cli/main.ts', root);
}
const { main } = await import(entry.href);
await main();
