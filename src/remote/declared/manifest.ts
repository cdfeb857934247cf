/**
 * Config-declared bricks: a YAML or JSON manifest names each brick, its ports,
 * its texts for the Builder and a backend (an HTTP worker, the queue, a
 * ComfyUI workflow template, or an ONNX model with fixed pre/post-processing).
 * Validation reports every bad field with its path, in one error.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { AnyBrick, PortSpec } from '../../engine/brick.ts';
import { LegoEditError, errorMessage } from '../../engine/errors.ts';
import { VALUE_TYPES } from '../../engine/values.ts';
import { templatePlaceholders } from './comfyui.ts';
import { IMAGE_PREPROCESS, MASK_PREPROCESS, POSTPROCESS } from './onnx-brick.ts';
import { type PortSpecData, portFromData } from '../client/transport.ts';

const valueType = z.enum(VALUE_TYPES as unknown as ['Image', 'Mask', 'Str', 'Float']);

const portSchema = z.union([
  valueType.transform((type): PortSpecData => ({ type })),
  z
    .object({
      type: valueType,
      description: z.string().optional(),
      optional: z.boolean().optional(),
      default: z.union([z.string(), z.number()]).optional(),
      oneOf: z.array(z.string()).min(1).optional(),
      min: z.number().optional(),
      max: z.number().optional(),
    })
    .strict(),
]);

const portName = z.string().regex(/^[a-z][a-z0-9_]*$/, 'port names are lower-case identifiers');

const backendSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('http'), url: z.string().url().optional() }).strict(),
  z.object({ type: z.literal('queue') }).strict(),
  z
    .object({
      type: z.literal('comfyui'),
      url: z.string().url().optional(),
      /** Path of an API-format workflow JSON (relative to the manifest), or the workflow inline. */
      workflow: z.union([z.string().min(1), z.record(z.string(), z.unknown())]),
      outputs: z.record(portName, z.object({ node: z.union([z.string(), z.number()]).transform(String), index: z.number().int().min(0).optional() }).strict()),
      /** Placeholders computed from a Float input: offset + scale × input, clamped to [min, max] (FASTINPAINT's quality score → a denoise). */
      derived: z
        .record(portName, z.object({ from: portName, scale: z.number().default(1), offset: z.number().default(0), min: z.number().optional(), max: z.number().optional() }).strict())
        .optional(),
      timeoutMs: z.number().int().min(1).default(10 * 60_000),
    })
    .strict(),
  z
    .object({
      type: z.literal('onnx'),
      /** File name in the models directory, or an absolute path. */
      model: z.string().min(1),
      size: z.tuple([z.number().int().min(1), z.number().int().min(1)]).optional(),
      inputs: z.record(portName, z.object({ tensor: z.string().min(1), preprocess: z.enum([...IMAGE_PREPROCESS, ...MASK_PREPROCESS]) }).strict()),
      outputs: z.record(portName, z.object({ tensor: z.string().min(1), postprocess: z.enum(POSTPROCESS) }).strict()),
      compositeInside: portName.optional(),
    })
    .strict(),
]);

const brickSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/, 'brick names are letters, digits and dashes (FLUX-FILL)').transform((s) => s.toUpperCase()),
    kind: z.enum(['predict', 'edit', 'function']),
    description: z.string().min(1),
    constraint: z.string().optional(),
    version: z.union([z.string().min(1), z.number()]).transform(String).default('1'),
    inputs: z.record(portName, portSchema),
    outputs: z.record(portName, portSchema).refine((o) => Object.keys(o).length > 0, 'a brick needs at least one output'),
    backend: backendSchema,
  })
  .strict();

export const manifestSchema = z.object({ bricks: z.array(brickSchema).min(1, 'declare at least one brick') }).strict();

export type Manifest = z.output<typeof manifestSchema>;
export type BrickDeclaration = Manifest['bricks'][number];
export type BackendDeclaration = BrickDeclaration['backend'];

export class ManifestError extends LegoEditError {
  constructor(readonly file: string, readonly problems: readonly string[]) {
    super('bricks-manifest', `Invalid bricks manifest ${file}:\n${problems.map((p) => `- ${p}`).join('\n')}`);
  }
}

function pathText(path: readonly PropertyKey[]): string {
  return path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)), '') || '(top level)';
}

/** Checks what the schema cannot: names unique, ports consistent with the backend. */
function crossCheck(m: Manifest, file: string, json: JsonFiles): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  m.bricks.forEach((b, i) => {
    const at = `bricks[${i}]`;
    if (seen.has(b.name)) problems.push(`${at}.name: ${b.name} is declared twice`);
    seen.add(b.name);
    for (const [k, p] of Object.entries({ ...b.inputs, ...b.outputs }) as [string, PortSpecData][]) {
      if (p.default !== undefined && typeof p.default !== (p.type === 'Float' ? 'number' : 'string')) problems.push(`${at}: port "${k}" has a default of the wrong type for ${p.type}`);
      if (p.default !== undefined && (p.type === 'Image' || p.type === 'Mask')) problems.push(`${at}: port "${k}" is ${p.type} and cannot have a default`);
    }
    const be = b.backend;
    if (be.type === 'comfyui') {
      for (const [port] of Object.entries(be.outputs)) {
        const t = b.outputs[port]?.type;
        if (!t) problems.push(`${at}.backend.outputs.${port}: not an output of the brick`);
        else if (t !== 'Image' && t !== 'Mask') problems.push(`${at}.backend.outputs.${port}: ComfyUI outputs must be Image or Mask, not ${t}`);
      }
      for (const port of Object.keys(b.outputs)) if (!(port in be.outputs)) problems.push(`${at}.backend.outputs: output "${port}" has no ComfyUI node`);
      let template: unknown;
      try {
        template = typeof be.workflow === 'object' ? be.workflow : loadTemplate(file, be.workflow, json);
      } catch (err) {
        problems.push(`${at}.backend.workflow: ${errorMessage(err)}`);
      }
      const derived = be.derived ?? {};
      for (const [name, d] of Object.entries(derived)) {
        const from = (b.inputs as Record<string, PortSpecData>)[d.from];
        if (!from || from.type !== 'Float') problems.push(`${at}.backend.derived.${name}: "${d.from}" is not a Float input`);
        if (name in b.inputs) problems.push(`${at}.backend.derived.${name}: an input has that name already`);
      }
      if (template !== undefined) {
        const used = new Set([...templatePlaceholders(template)].filter((n) => !(n in derived)));
        problems.push(...placeholderProblems(b, used, `${at}.backend.workflow`));
      }
    }
    if (be.type === 'onnx') {
      for (const [port, spec] of Object.entries(be.inputs)) {
        const t = b.inputs[port]?.type;
        if (!t) problems.push(`${at}.backend.inputs.${port}: not an input of the brick`);
        else if (t === 'Mask' ? !spec.preprocess.startsWith('mask') : t === 'Image' ? !spec.preprocess.startsWith('rgb') : true) {
          problems.push(`${at}.backend.inputs.${port}: ${spec.preprocess} does not fit a ${t} input`);
        }
      }
      for (const [port, spec] of Object.entries(be.outputs)) {
        const t = b.outputs[port]?.type;
        if (!t) problems.push(`${at}.backend.outputs.${port}: not an output of the brick`);
        else if (t === 'Mask' ? !spec.postprocess.startsWith('mask') : t === 'Image' ? !spec.postprocess.startsWith('rgb') : true) {
          problems.push(`${at}.backend.outputs.${port}: ${spec.postprocess} does not produce a ${t}`);
        }
      }
      if (be.compositeInside && b.inputs[be.compositeInside]?.type !== 'Mask') problems.push(`${at}.backend.compositeInside: "${be.compositeInside}" is not a Mask input`);
    }
  });
  return problems;
}

/**
 * Every placeholder must get a value on every run: an input of the brick (or
 * {{seed}}); an optional Str or Float input needs a default; an optional Image
 * or Mask input needs a required Image input to stand in from (an absent mask
 * is the whole image, an absent extra image the main one).
 */
function placeholderProblems(b: BrickDeclaration, names: ReadonlySet<string>, at: string): string[] {
  const problems: string[] = [];
  const ports = b.inputs as Record<string, PortSpecData>;
  const hasRequiredImage = Object.values(ports).some((p) => p.type === 'Image' && p.optional !== true);
  for (const name of names) {
    if (name === 'seed') continue;
    const p = ports[name];
    if (!p) problems.push(`${at}: placeholder {{${name}}} is not an input`);
    else if (p.optional !== true) continue;
    else if ((p.type === 'Str' || p.type === 'Float') && p.default === undefined) problems.push(`${at}: placeholder {{${name}}} is an optional input without a default, so a run without it would leave {{${name}}} in the workflow`);
    else if ((p.type === 'Image' || p.type === 'Mask') && !hasRequiredImage) problems.push(`${at}: placeholder {{${name}}} is an optional ${p.type} input, and no required Image input can stand in when it is absent`);
  }
  return problems;
}

/**
 * JSON files read for one load of the configured manifests, each parsed once:
 * a directory's JSON files are opened to see whether they declare bricks, a
 * manifest is then validated, and its workflows are read by the validator and
 * again by the bricks built from them.
 */
export class JsonFiles {
  readonly #read = new Map<string, { value: unknown } | { error: unknown }>();

  /** The parsed file; throws its read error (with `code`) or its SyntaxError, the same one each time. */
  read(path: string): unknown {
    let hit = this.#read.get(path);
    if (!hit) {
      try {
        hit = { value: JSON.parse(readFileSync(path, 'utf8')) as unknown };
      } catch (error) {
        hit = { error };
      }
      this.#read.set(path, hit);
    }
    if ('error' in hit) throw hit.error;
    return hit.value;
  }
}

export function loadTemplate(manifestFile: string, workflow: string, json = new JsonFiles()): Record<string, unknown> {
  const path = isAbsolute(workflow) ? workflow : resolve(dirname(manifestFile), workflow);
  const parsed = json.read(path);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${path} is not an API-format workflow (an object of nodes)`);
  return parsed as Record<string, unknown>;
}

/** Validates manifest text (YAML or JSON); `file` names it in messages and anchors relative paths. */
export function parseManifest(text: string, file: string, json = new JsonFiles()): Manifest {
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ManifestError(file, [`not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${errorMessage(err)}`]);
  }
  return validManifest(raw, file, json);
}

function validManifest(raw: unknown, file: string, json: JsonFiles): Manifest {
  const result = manifestSchema.safeParse(raw);
  if (!result.success) throw new ManifestError(file, result.error.issues.map((i) => `${pathText(i.path)}: ${i.message}`));
  const problems = crossCheck(result.data, file, json);
  if (problems.length) throw new ManifestError(file, problems);
  return result.data;
}

/** Reads and validates a manifest; a JSON one through `json`, so a file already opened is not parsed again. */
export function loadManifest(file: string, json = new JsonFiles()): Manifest {
  const unreadable = (err: unknown) => new ManifestError(file, [`cannot read it (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)})`]);
  if (file.endsWith('.json')) {
    let raw: unknown;
    try {
      raw = json.read(file);
    } catch (err) {
      throw err instanceof SyntaxError ? new ManifestError(file, [`not valid JSON: ${errorMessage(err)}`]) : unreadable(err);
    }
    return validManifest(raw, file, json);
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw unreadable(err);
  }
  return parseManifest(text, file, json);
}

/** The declaration part of a brick (everything but how it runs). The version carries a hash of the backend, so editing a template invalidates cached results. */
export function declaredShape(d: BrickDeclaration): Omit<AnyBrick, 'run' | 'backends'> {
  const ports = (ps: Record<string, PortSpecData>): Record<string, PortSpec> => Object.fromEntries(Object.entries(ps).map(([k, p]) => [k, portFromData(p)]));
  const backendHash = createHash('sha256').update(JSON.stringify(d.backend)).digest('hex').slice(0, 8);
  return {
    name: d.name,
    kind: d.kind,
    description: d.description,
    ...(d.constraint !== undefined ? { constraint: d.constraint } : {}),
    version: `${d.version}+${backendHash}`,
    inputs: ports(d.inputs),
    outputs: ports(d.outputs),
  };
}
