// After `tsc -p tsconfig.build.json`: copies the files the compiled code reads
// next to itself (the Builder's prompt, the migrations, the person segmenter's weights), then stamps the build,
// so bin/lego-edit.js can tell it is newer than every source file.
import { cpSync, writeFileSync } from 'node:fs';

const root = new URL('../', import.meta.url);
cpSync(new URL('src/builder/prompt.md', root), new URL('dist/src/builder/prompt.md', root));
cpSync(new URL('migrations/', root), new URL('dist/migrations/', root), { recursive: true });
cpSync(new URL('bricks/models/selfie/', root), new URL('dist/bricks/models/selfie/', root), { recursive: true });
writeFileSync(new URL('dist/BUILT', root), `${new Date().toISOString()}\n`);
