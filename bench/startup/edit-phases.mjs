// One `lego-edit edit` in phases, from the compiled dist/ (as bin/lego-edit.js
// runs it), for the start-up breakdown in bench/pool.bench.ts. Plain JavaScript
// so that nothing is transpiled on the way. Prints one line.
import { readFile } from 'node:fs/promises';

const root = new URL('../../', import.meta.url);
const atStart = performance.now(); // node's own start-up, up to this script's first line
const lap = (() => {
  let last = performance.now();
  return () => {
    const now = performance.now();
    const d = now - last;
    last = now;
    return Math.round(d);
  };
})();
const photo = process.argv[2];
const { createRuntime } = await import(new URL('dist/src/runtime.js', root).href);
const { decodeImage, encodeImage } = await import(new URL('dist/src/engine/image-io.js', root).href);
const imports = lap();
const rt = createRuntime({ oneShot: true });
let modelsMs;
const warming = rt.pool?.warm().then(() => (modelsMs = Math.round(performance.now() - atStart)));
const image = await decodeImage(await readFile(photo), rt.limits);
const decode = lap();
const plan = await rt.builder.plan({ image, instruction: 'make the car light blue', hasMask: false, hasReference: false, available: await rt.registry.available() });
const planning = lap();
const outcome = await rt.executor.run(plan.workflow, { image });
const bricks = lap();
if (outcome.status !== 'ok') throw new Error(`edit ${outcome.status}`);
await encodeImage(outcome.results[0], 'png');
const encode = lap();
await warming;
await rt.pool?.close();
console.log(
  `process start ${Math.round(atStart)} ms, imports ${imports} ms, decode ${decode} ms, planning ${planning} ms, bricks ${bricks} ms (${outcome.trace.map((t) => `${t.brick} ${Math.round(t.durationMs ?? 0)}`).join(', ')}${modelsMs === undefined ? '; the first RES includes loading TF.js, OpenCV and CenterNet' : `; models loaded in the pool ${modelsMs} ms after start, overlapping`}), encode ${encode} ms`,
);
