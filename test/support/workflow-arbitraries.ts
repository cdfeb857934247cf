/**
 * fast-check generators of Lego-Edit workflows over a real brick catalogue,
 * and the hostile mutations a Builder (or a person) can send: what the fuzz
 * test and `npm run bench -- fuzz` feed through parse, validate and run.
 *
 * Workflows are generated from the registry's declarations (ports, choices,
 * bounds), never from a hand-kept list of bricks, so a new brick is fuzzed as
 * soon as it is registered.
 */
import fc from 'fast-check';
import type { AnyBrick, PortSpec } from '../../src/engine/brick.ts';
import type { BrickRegistry } from '../../src/engine/registry.ts';
import type { ValueType } from '../../src/engine/values.ts';

/** A workflow as the Builder writes it: `{process, pipeline: [...steps, {result}]}`. */
export interface RawStep {
  step: unknown;
  model: unknown;
  input: Record<string, unknown>;
  output: Record<string, unknown>;
}

export interface RawWorkflow {
  process: string;
  pipeline: unknown[];
}

/** Keys that name `Object.prototype` members: looked up on a plain object they find a function, not nothing. */
export const PROTOTYPE_KEYS = ['constructor', '__proto__', 'hasOwnProperty', 'toString', 'valueOf', 'prototype', '__defineGetter__', 'isPrototypeOf'] as const;

interface Available {
  readonly type: ValueType;
  readonly ref: string;
}

/** A literal inside the port's declared choices or bounds. */
function literalFor(spec: PortSpec): fc.Arbitrary<unknown> {
  if (spec.type === 'Str') {
    if (spec.oneOf) return fc.constantFrom(...spec.oneOf);
    // The examples a port's description quotes ('Target style: "sepia", "pencil sketch"') are what Builders send.
    const quoted = [...(spec.description ?? '').matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
    return fc.constantFrom(...quoted, 'dog', 'the red car', 'sky', 'a hat on the person', 'white', 'cartoon', 'text', 'person', 'blue');
  }
  const min = spec.min ?? -10;
  const max = spec.max ?? 10;
  return fc.oneof(fc.double({ min, max, noNaN: true, noDefaultInfinity: true }), fc.constantFrom(min, max, (min + max) / 2));
}

function refFor(spec: PortSpec, available: readonly Available[]): fc.Arbitrary<unknown> | undefined {
  const fits = available.filter((a) => a.type === spec.type);
  return fits.length ? fc.constantFrom(...fits.map((a) => a.ref)) : undefined;
}

/**
 * A valid workflow of up to `maxSteps` steps drawn from `bricks`: each input a
 * reference of the right type to the user's inputs or an earlier step, or a
 * literal within its port's declaration; the result an Image output.
 */
export function validWorkflow(bricks: readonly AnyBrick[], options: { maxSteps?: number; withMask?: boolean } = {}): fc.Arbitrary<RawWorkflow> {
  const maxSteps = options.maxSteps ?? 4;
  const init: Available[] = [{ type: 'Image', ref: 'init[image]' }, ...(options.withMask ? [{ type: 'Mask' as const, ref: 'init[mask]' }] : [])];
  return fc.array(fc.nat({ max: bricks.length - 1 }), { minLength: 1, maxLength: maxSteps }).chain((picks) => {
    let available = [...init];
    const steps: fc.Arbitrary<RawStep | undefined>[] = [];
    picks.forEach((pick, i) => {
      const brick = bricks[pick]!;
      const step = i + 1;
      const inputs: Record<string, fc.Arbitrary<unknown>> = {};
      let feasible = true;
      // Bricks whose inputs come in kinds (INVERSE: masks or images) take one kind a step, with the ports it needs.
      const kinds = brick.inputKinds ?? [];
      const kind = kinds.length ? kinds[(pick + i) % kinds.length]! : undefined;
      const otherKinds = new Set(kinds.filter((k) => k !== kind).flatMap((k) => k.ports));
      const needed = new Set(kind ? (kind.needs ?? kind.ports) : []);
      for (const [name, spec] of Object.entries(brick.inputs)) {
        if (otherKinds.has(name) && !kind?.ports.includes(name)) continue;
        const optional = spec.optional && !needed.has(name);
        const arb = spec.type === 'Image' || spec.type === 'Mask' ? refFor(spec, available) : literalFor(spec);
        if (!arb) {
          if (!optional) feasible = false;
          continue;
        }
        inputs[name] = optional ? fc.option(arb, { nil: undefined }) : arb;
      }
      if (!feasible) {
        steps.push(fc.constant(undefined));
        return;
      }
      const output = Object.fromEntries(Object.keys(brick.outputs).map((o) => [o, `step${step}[${o}]`]));
      steps.push(
        fc.record(inputs).map((input) => ({
          step,
          model: brick.name,
          input: Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)),
          output,
        })),
      );
      available = [
        ...available,
        ...Object.entries(brick.outputs)
          .filter(([, spec]) => !spec.optional)
          .map(([o, spec]) => ({ type: spec.type, ref: `step${step}[${o}]` })),
      ];
    });
    const images = available.filter((a) => a.type === 'Image');
    return fc.tuple(...steps, fc.constantFrom(...images.map((a) => a.ref))).map((drawn) => {
      const result = drawn.pop() as string;
      const pipeline: unknown[] = (drawn as (RawStep | undefined)[]).filter((s): s is RawStep => s !== undefined);
      pipeline.push({ result: `[${result}]` });
      return { process: 'fuzz', pipeline };
    });
  });
}

/** Values a port should refuse or a brick should survive: wrong types, huge, negative, NaN, unicode. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(-1, 0, -0, 1e308, -1e308, 1e-320, 2 ** 53, 0.0001, 100000, 'NaN', 'Infinity', '-1', '1e999', '', ' ', null, true, [], {}, [1, 2]),
  fc.double(),
  fc.integer(),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.constantFrom(...PROTOTYPE_KEYS),
  fc.constantFrom('init[image]', 'init[mask]', 'init[reference]', 'init[constructor]', 'step0[image]', 'step1[image]', 'step2[mask]', 'step99[image]', 'step1[__proto__]', 'step1[constructor]'),
);

const hostileKey: fc.Arbitrary<string> = fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS), fc.string({ maxLength: 10 }), fc.constantFrom('IMAGE', ' image ', 'Mask', 'ratio', 'prompt'));

type Mutation = (wf: RawWorkflow) => fc.Arbitrary<RawWorkflow>;

const clone = (wf: RawWorkflow): RawWorkflow => structuredClone(wf);

function onStep(wf: RawWorkflow, f: (step: Record<string, unknown>, wf: RawWorkflow) => fc.Arbitrary<void>): fc.Arbitrary<RawWorkflow> {
  if (!Array.isArray(wf.pipeline)) return fc.constant(wf);
  const steps = wf.pipeline.filter((s) => typeof s === 'object' && s !== null && 'model' in s);
  if (steps.length === 0) return fc.constant(wf);
  return fc.nat({ max: steps.length - 1 }).chain((i) => {
    const copy = clone(wf);
    const target = copy.pipeline.filter((s) => typeof s === 'object' && s !== null && 'model' in s)[i] as Record<string, unknown>;
    return f(target, copy).map(() => copy);
  });
}

/** A step's `input` or `output` object, made one again if an earlier mutation replaced it. */
function field(step: Record<string, unknown>, name: 'input' | 'output'): Record<string, unknown> {
  const v = step[name];
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  const fresh: Record<string, unknown> = {};
  step[name] = fresh;
  return fresh;
}

/** Defines `key` as an own property even when it is `__proto__`, as JSON.parse would. */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

const MUTATIONS: readonly Mutation[] = [
  // a literal or reference replaced by a hostile value
  (wf) => onStep(wf, (s) => {
    const input = field(s, 'input');
    const keys = Object.keys(input);
    if (!keys.length) return fc.constant(undefined);
    return fc.tuple(fc.constantFrom(...keys), hostileValue).map(([k, v]) => void (input[k] = v));
  }),
  // an input deleted
  (wf) => onStep(wf, (s) => {
    const input = field(s, 'input');
    const keys = Object.keys(input);
    return keys.length ? fc.constantFrom(...keys).map((k) => void delete input[k]) : fc.constant(undefined);
  }),
  // an input added under a hostile or prototype name
  (wf) => onStep(wf, (s) => fc.tuple(hostileKey, hostileValue).map(([k, v]) => setOwn(field(s, 'input'), k, v))),
  // an output renamed
  (wf) => onStep(wf, (s) => fc.tuple(hostileKey, hostileValue).map(([k, v]) => setOwn(field(s, 'output'), k, v))),
  // the brick renamed: prototype keys, misspellings, wrong types
  (wf) => onStep(wf, (s) => fc.oneof(hostileKey, hostileValue).map((m) => void (s.model = m))),
  // the step number replaced
  (wf) => onStep(wf, (s) => hostileValue.map((v) => void (s.step = v))),
  // a reference to itself or to a later step (a cycle)
  (wf) => onStep(wf, (s) => {
    const input = field(s, 'input');
    const keys = Object.keys(input);
    if (!keys.length) return fc.constant(undefined);
    return fc.tuple(fc.constantFrom(...keys), fc.integer({ min: 0, max: 6 }), fc.constantFrom('image', 'mask')).map(([k, d, o]) => void (input[k] = `step${Number(s.step) + d}[${o}]`));
  }),
  // a whole step duplicated (duplicate step numbers)
  (wf) => onStep(wf, (s, copy) => fc.constant(undefined).map(() => void copy.pipeline.unshift(structuredClone(s)))),
  // a field of a step deleted or given the wrong type
  (wf) => onStep(wf, (s) => fc.tuple(fc.constantFrom('step', 'model', 'input', 'output'), fc.oneof(fc.constant(undefined), hostileValue)).map(([k, v]) => {
    if (v === undefined) delete s[k];
    else s[k] = v;
  })),
  // the result pointing elsewhere
  (wf) => hostileValue.map((v) => {
    const copy = clone(wf);
    if (!Array.isArray(copy.pipeline)) return copy;
    copy.pipeline[copy.pipeline.length - 1] = { result: v };
    return copy;
  }),
  // the result removed
  (wf) => fc.constant(undefined).map(() => (Array.isArray(wf.pipeline) ? { ...clone(wf), pipeline: wf.pipeline.slice(0, -1) } : wf)),
  // the pipeline replaced by something that is not a list
  (wf) => hostileValue.map((v) => ({ process: wf.process, pipeline: v as unknown[] })),
];

/** A valid workflow with 1 to 3 hostile mutations. */
export function mutatedWorkflow(bricks: readonly AnyBrick[], options: { maxSteps?: number; withMask?: boolean } = {}): fc.Arbitrary<RawWorkflow> {
  return validWorkflow(bricks, options).chain((wf) =>
    fc.array(fc.nat({ max: MUTATIONS.length - 1 }), { minLength: 1, maxLength: 3 }).chain((ops) => {
      let arb: fc.Arbitrary<RawWorkflow> = fc.constant(wf);
      for (const op of ops) arb = arb.chain(MUTATIONS[op]!);
      return arb;
    }),
  );
}

/** Serialises a raw workflow, keeping `__proto__` as a key (JSON.stringify does). */
export const serialise = (wf: unknown): string => JSON.stringify(wf);

/** Ways the text around and of a workflow goes wrong: truncation, `<think>` traces, fences, full-width punctuation, noise. */
export function textMutations(text: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constant(text),
    fc.nat({ max: text.length }).map((n) => text.slice(0, n)),
    fc.string({ maxLength: 40 }).map((t) => `<think>${t}</think>${text}`),
    fc.string({ maxLength: 40 }).map((t) => `<think>${t}${text}`),
    fc.constant(`Here is the plan:\n\`\`\`json\n${text}\n\`\`\`\nDone.`),
    fc.constant(text.replace(/,/g, '，').replace(/:/g, '：')),
    fc.constant(text.replace(/"/g, "'")),
    fc.constant(text.replace(/}/g, ',}')),
    fc.tuple(fc.nat({ max: text.length }), fc.string({ unit: 'grapheme', maxLength: 8 })).map(([n, s]) => text.slice(0, n) + s + text.slice(n)),
    fc.tuple(fc.nat({ max: text.length }), fc.nat({ max: 8 })).map(([n, k]) => text.slice(0, n) + text.slice(n + k)),
  );
}

/** Text nested `depth` deep, in the shapes that overflow recursive parsers and walkers. */
export function deepNesting(depth: number): fc.Arbitrary<string> {
  return fc.constantFrom(
    '['.repeat(depth) + ']'.repeat(depth),
    '['.repeat(depth),
    '{"a":'.repeat(depth) + '1' + '}'.repeat(depth),
    `{"pipeline": [{"step": 1, "model": "GRAYSCALE", "input": {"image": ${'['.repeat(depth)}${']'.repeat(depth)}}}, {"result": "[step1[image]]"}]}`,
    `{"pipeline": [{"step": 1, "model": "GRAYSCALE", "input": ${'{"image":'.repeat(depth)}1${'}'.repeat(depth)}}, {"result": "[step1[image]]"}]}`,
    `{"pipeline": ${'['.repeat(depth)}${']'.repeat(depth)}}`,
  );
}

/** A pipeline of `n` steps, each reading the one before: long chains overflow recursive graph walks. */
export function longChain(n: number, brick = 'GRAYSCALE'): string {
  const pipeline: unknown[] = [];
  for (let i = 1; i <= n; i++) pipeline.push({ step: i, model: brick, input: { image: i === 1 ? 'init[image]' : `step${i - 1}[image]` }, output: { image: `step${i}[image]` } });
  pipeline.push({ result: `[step${n}[image]]` });
  return JSON.stringify({ process: 'long', pipeline });
}

/** The bricks a registry lists, for the generators. */
export function catalogue(registry: BrickRegistry): AnyBrick[] {
  return registry.list();
}
