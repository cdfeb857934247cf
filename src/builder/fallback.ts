/**
 * The offline planner's last resort: find a brick whose name, description or
 * constraint shares content words with the instruction and wire it up from its
 * declared ports. This is how a brick added to the registry (a config-declared
 * remote brick, say) becomes plannable without any change to the Builder.
 */
import type { AnyBrick } from '../engine/brick.ts';
import { isRequired } from '../engine/brick.ts';
import type { BrickRegistry } from '../engine/registry.ts';
import { contentStems, statedNumbers } from './language.ts';

/** Words every description uses; matching on them would pick bricks at random. */
const GENERIC = new Set(['chang', 'objec', 'regio', 'given', 'resul', 'brick', 'promp', 'descr', 'speci', 'input', 'outpu', 'insid', 'whole', 'globa', 'part', 'befor', 'after', 'when', 'where', 'what', 'which', 'other', 'anoth', 'first', 'secon', 'sides', 'inste', 'cannot']);

export interface FallbackMatch {
  readonly brick: AnyBrick;
  readonly score: number;
  readonly matched: readonly string[];
  /** The matched words that are in the brick's name, not only its description. */
  readonly byName: readonly string[];
}

/** A brick's name and declaration stems, computed once per brick: the planner searches for every clause of every variant. */
const stemsOf = new WeakMap<AnyBrick, { readonly name: Set<string>; readonly declared: Set<string> }>();

function brickStems(brick: AnyBrick): { readonly name: Set<string>; readonly declared: Set<string> } {
  let stems = stemsOf.get(brick);
  if (!stems) {
    stems = { name: contentStems(brick.name.replace(/[-_]/g, ' ')), declared: contentStems(`${brick.description} ${brick.constraint ?? ''}`) };
    stemsOf.set(brick, stems);
  }
  return stems;
}

/** Bricks (those `only` admits, default all) ranked by how many of the instruction's content words their declaration shares, best first. */
export function searchBricks(instruction: string, registry: BrickRegistry, only: (brick: AnyBrick) => boolean = () => true): FallbackMatch[] {
  const bricks = registry.list().filter(only);
  if (bricks.length === 0) return [];
  const wanted = contentStems(instruction);
  const matches: FallbackMatch[] = [];
  for (const brick of bricks) {
    const { name: nameStems, declared } = brickStems(brick);
    const matched: string[] = [];
    const byName: string[] = [];
    let score = 0;
    for (const w of wanted) {
      if (GENERIC.has(w)) continue;
      // The name counts double: it is what the brick is for, the rest is how to use it.
      if (nameStems.has(w)) {
        score += 2;
        matched.push(w);
        byName.push(w);
      } else if (declared.has(w)) {
        score += 1;
        matched.push(w);
      }
    }
    if (score > 0) matches.push({ brick, score, matched, byName });
  }
  return matches.sort((a, b) => b.score - a.score || a.brick.name.localeCompare(b.brick.name));
}

/**
 * Whether the planner can bind every required input of a brick from the one
 * image it edits, a segmented mask, the instruction's text and its numbers
 * (`floatInputs` says whether the numbers are there). A brick that needs two
 * images (a compositor) cannot be wired from one. Nor is a brick whose inputs
 * come in kinds (INVERSE, COMPOSE, RESIZE: masks or images): which kind is
 * meant is for the families that plan it to say.
 */
export function canWire(brick: AnyBrick): boolean {
  if (brick.inputKinds?.length) return false;
  return Object.values(brick.inputs).filter((spec) => spec.type === 'Image' && isRequired(spec)).length <= 1;
}

/**
 * Literals for a brick's non-optional Float ports: the instruction's numbers in
 * order ("upscale 4x" → factor 4), each checked against the port's range;
 * where the numbers run out, a port's default stands (left unset, the executor
 * fills it). Undefined when a port without a default gets no valid number.
 */
export function floatInputs(brick: AnyBrick, instruction: string): Record<string, number> | undefined {
  const numbers = statedNumbers(instruction);
  const values: Record<string, number> = {};
  for (const [name, spec] of Object.entries(brick.inputs)) {
    if (spec.type !== 'Float' || spec.optional) continue;
    const n = numbers.shift();
    const parsed = n === undefined ? undefined : spec.schema?.safeParse(n);
    if (n !== undefined && (!parsed || parsed.success)) values[name] = n;
    else if (spec.default === undefined) return undefined;
  }
  return values;
}

/**
 * Whether a brick only changes settings its description names ("Adjust
 * brightness, contrast, saturation and hue"): every setting is optional, so a
 * step that sets none of them hands the image back unchanged.
 */
export function needsSettings(brick: AnyBrick): boolean {
  const settings = Object.entries(brick.inputs).filter(([, spec]) => spec.type === 'Float' || spec.type === 'Str');
  if (settings.length === 0 || settings.some(([, spec]) => !spec.optional)) return false;
  const described = contentStems(brick.description);
  return settings.some(([name]) => described.has(name.toLowerCase().slice(0, 5)));
}
