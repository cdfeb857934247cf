import { closest, distance } from 'fastest-levenshtein';
import type { AnyBrick, BackendStatus, PortSpec } from './brick.ts';
import { isRequired } from './brick.ts';

export interface BrickStatus {
  readonly brick: AnyBrick;
  readonly backends: readonly BackendStatus[];
  /** The first available backend, or undefined when the brick cannot run here. */
  readonly active: BackendStatus | undefined;
}

const IN_PROCESS: readonly BackendStatus[] = [{ name: 'in-process', available: true }];

/** The set of bricks a Builder may plan with and an Executor may run. */
export class BrickRegistry {
  readonly #bricks = new Map<string, AnyBrick>();

  constructor(bricks: Iterable<AnyBrick> = []) {
    for (const b of bricks) this.register(b);
  }

  /** Adds a brick; a later registration of the same name replaces the earlier (config overrides built-ins). */
  register(brick: AnyBrick): this {
    this.#bricks.set(brick.name.toUpperCase(), brick);
    return this;
  }

  get(name: string): AnyBrick | undefined {
    return this.#bricks.get(name.trim().toUpperCase());
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  list(): AnyBrick[] {
    return [...this.#bricks.values()];
  }

  names(): string[] {
    return [...this.#bricks.keys()];
  }

  /** The registered name closest to a misspelt one, if it is plausibly what was meant. */
  suggest(name: string): string | undefined {
    const names = this.names();
    if (names.length === 0) return undefined;
    const wanted = name.trim().toUpperCase();
    const best = closest(wanted, names);
    return distance(wanted, best) <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
  }

  async status(): Promise<BrickStatus[]> {
    return Promise.all(
      this.list().map(async (brick) => {
        const backends = brick.backends ? await brick.backends() : IN_PROCESS;
        return { brick, backends, active: backends.find((b) => b.available) };
      }),
    );
  }

  /** Names of the bricks that can run right now. */
  async available(): Promise<Set<string>> {
    const all = await this.status();
    return new Set(all.filter((s) => s.active).map((s) => s.brick.name));
  }

  /** The tool catalogue in the Lego-Edit prompt style. */
  catalogue(options: { only?: ReadonlySet<string> } = {}): string {
    return this.list()
      .filter((b) => !options.only || options.only.has(b.name))
      .map(renderBrick)
      .join('\n\n');
  }
}

function renderPorts(ports: Record<string, PortSpec>): string {
  const parts = Object.entries(ports).map(([name, spec]) => `${spec.type}[${name}]${isRequired(spec) ? '' : '?'}`);
  return `{${parts.join(', ')}}`;
}

const literal = (v: string | number): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/** What a port's declaration says beyond its type: "Multiplier; 1 keeps it (0 to 4, default 1)". Empty when nothing. */
export function portDetail(spec: PortSpec): string {
  const facts: string[] = [];
  if (spec.oneOf) facts.push(`one of ${spec.oneOf.map(literal).join(', ')}`);
  if (spec.min !== undefined && spec.max !== undefined) facts.push(`${spec.min} to ${spec.max}`);
  else if (spec.min !== undefined) facts.push(`at least ${spec.min}`);
  else if (spec.max !== undefined) facts.push(`at most ${spec.max}`);
  if (spec.default !== undefined) facts.push(`default ${literal(spec.default)}`);
  const said = spec.description?.trim() ?? '';
  if (!facts.length) return said;
  return said ? `${said} (${facts.join(', ')})` : facts.join(', ');
}

/** One line per port with something to say, after the Lego-Edit lines: "- brightness: Multiplier; 1 keeps it (0 to 4, default 1)". */
function portLines(ports: Record<string, PortSpec>, prefix: string): string[] {
  return Object.entries(ports).flatMap(([name, spec]) => {
    const detail = portDetail(spec);
    return detail ? [`- ${prefix}${name}: ${detail}`] : [];
  });
}

/**
 * A brick as the Builder reads it. The first lines keep the format of the
 * published Lego-Edit system prompt, which its Builder was trained on
 * (`NAME (description)`, `Input: {Type[port]?, …}`, `Output: …`, `Constraint: …`);
 * the port details (descriptions, choices, bounds, defaults) follow, one line
 * a port, outputs marked "output".
 */
export function renderBrick(b: AnyBrick): string {
  const lines = [`${b.name} (${b.description})`, `Input: ${renderPorts(b.inputs)}`, `Output: ${renderPorts(b.outputs)}`];
  if (b.constraint) lines.push(`Constraint: ${b.constraint}`);
  lines.push(...portLines(b.inputs, ''), ...portLines(b.outputs, 'output '));
  return lines.join('\n');
}
