// A pool thread started from the TypeScript sources (tests, `npm run bench`, a
// checkout without dist/): Node does not carry tsx's loader into worker threads,
// so the thread registers it before importing the worker module.
import { register } from 'tsx/esm/api';

register();
const worker = await import('./brick-worker.ts');
export default worker.default;
