/**
 * The offline planner's last resort: find a brick whose name, description or
 * constraint shares content words with the instruction and wire it up from its
 * declared ports. This is how a brick added to the registry (a config-declared
 * remote brick, say) becomes plannable without any change to the Builder.
 */
import type { AnyBrick } from '../engine/brick.ts';
import { isRequired } from '../engine/brick.ts';
import type { BrickRegistry } from '../engine/registry.ts';
import { contentStems } from './language.ts';

/** Words every description uses; matching on them would pick bricks at random. */
const GENERIC = new Set(['chang', 'objec', 'regio', 'given', 'resul', 'brick', 'promp', 'descr', 'speci', 'input', 'outpu', 'insid', 'whole', 'globa', 'part', 'befor', 'after', 'when', 'where', 'what', 'which', 'other', 'anoth', 'first', 'secon', 'sides', 'inste', 'cannot']);

export interface FallbackMatch {
  readonly brick: AnyBrick;
  readonly score: number;
  readonly matched: readonly string[];
}

/** Bricks ranked by how many of the instruction's content words their declaration shares, best first. */
export function searchBricks(instruction: string, registry: BrickRegistry): FallbackMatch[] {
  const wanted = contentStems(instruction);
  const matches: FallbackMatch[] = [];
  for (const brick of registry.list()) {
    const nameStems = contentStems(brick.name.replace(/[-_]/g, ' '));
    const declared = contentStems(`${brick.description} ${brick.constraint ?? ''}`);
    const matched: string[] = [];
    let score = 0;
    for (const w of wanted) {
      if (GENERIC.has(w)) continue;
      // The name counts double: it is what the brick is for, the rest is how to use it.
      if (nameStems.has(w)) {
        score += 2;
        matched.push(w);
      } else if (declared.has(w)) {
        score += 1;
        matched.push(w);
      }
    }
    if (score > 0) matches.push({ brick, score, matched });
  }
  return matches.sort((a, b) => b.score - a.score || a.brick.name.localeCompare(b.brick.name));
}

/** Whether the planner can bind every required input of a brick from an image, a mask and a text prompt. */
export function canWire(brick: AnyBrick): boolean {
  return Object.values(brick.inputs).every((spec) => !isRequired(spec) || spec.type !== 'Float');
}
