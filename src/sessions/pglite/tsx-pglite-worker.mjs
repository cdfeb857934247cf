// The PGlite thread started from the TypeScript sources (tests, `npm run bench`, a checkout without dist/):
// Node does not carry tsx's loader into worker threads, so the thread registers it before importing the module.
import { register } from 'tsx/esm/api';

register();
await import('./pglite-worker.ts');
