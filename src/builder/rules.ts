/**
 * Standing rules from user feedback ("don't use RES before INPAINT", "never use
 * FLUX-STYLE", "always use SOS for segmentation", "prefer FASTINPAINT") parsed
 * into structured constraints, and the check every workflow must pass, in
 * either Builder, before it is accepted.
 *
 * Rules are plain data (they are stored with the conversation), so names are
 * kept as the user's tokens and resolved against brick names at check time:
 * a rule about INPAINT also binds a brick registered after the rule was made.
 */
import type { Workflow, WorkflowNode } from '../engine/workflow/types.ts';
import type { Rule } from './builder.ts';

/** What a rule needs to know about a brick to resolve families and purposes. */
export interface BrickInfo {
  readonly name: string;
  readonly description?: string;
}

/**
 * The built-in catalogue's names and one-line descriptions, so rules parse and
 * check without loading the bricks themselves. Callers with a registry pass
 * `registry.list()` instead, which also covers bricks added later.
 */
export const BUILTIN_BRICKS: readonly BrickInfo[] = [
  { name: 'RES', description: 'Segmentation by object specified by prompt' },
  { name: 'SOS', description: 'Segmentation of the most salient object' },
  { name: 'MASK-SEG', description: 'Segment the object inside a rough user mask' },
  { name: 'ADD-PRED', description: 'Predict where to add the described object' },
  { name: 'CMI-PRED', description: 'Caption the image; with ratios, set up an outpainting canvas' },
  { name: 'TEXT-DET', description: 'Detect text regions (signs, captions, watermarks)' },
  { name: 'FACE-DET', description: 'Detect faces' },
  { name: 'FASTINPAINT', description: 'Quick removal: fill the masked region from its surroundings' },
  { name: 'FLUX-FILL', description: 'Generate the prompt inside the mask' },
  { name: 'FLUX-RCM', description: 'Change the colour or material of the masked object' },
  { name: 'FLUX-INPAINT', description: 'High-quality removal refining a FASTINPAINT pre-fill' },
  { name: 'FLUX-CBG', description: 'Change the background (mask = background)' },
  { name: 'FLUX-STYLE', description: 'Style transfer, whole image or masked part' },
  { name: 'FLUX-ENV', description: 'Change weather, season or time of day' },
  { name: 'FLUX-POSE', description: 'Change posture or expression' },
  { name: 'INVERSE', description: 'Subtract one mask from another (or one image from another)' },
  { name: 'BBOX', description: 'Turn a mask into the mask of its bounding box' },
  { name: 'COMPOSE', description: 'Lay the second image over the first' },
  { name: 'RESIZE', description: 'Scale the image by a ratio' },
  { name: 'ADJUST', description: 'Adjust brightness, contrast, saturation and hue, globally or inside a mask' },
  { name: 'GRAYSCALE', description: 'Make the image black and white, globally or inside a mask' },
];

/**
 * Purposes a rule can be scoped to ("for segmentation"), matched against brick
 * descriptions so that new bricks with honest descriptions join them.
 */
const PURPOSES: ReadonlyArray<{ readonly words: RegExp; readonly describes: RegExp; readonly name: string }> = [
  { name: 'segmentation', words: /^(segment\w*|mask\w*|selection|selecting)$/, describes: /\bsegment/i },
  { name: 'removal', words: /^(remov\w*|eras\w*|inpaint\w*|delet\w*)$/, describes: /\bremov/i },
  { name: 'detection', words: /^(detect\w*)$/, describes: /\bdetect/i },
  { name: 'style', words: /^(styl\w*)$/, describes: /\bstyle\b/i },
  { name: 'background', words: /^(background\w*)$/, describes: /\bbackground\b/i },
  { name: 'recolouring', words: /^(recolou?r\w*|colou?r\w*|material\w*)$/, describes: /\bcolou?r\b/i },
  { name: 'adding', words: /^(add\w*|generat\w*|insert\w*)$/, describes: /\b(add|generate)\b/i },
];

/** Words users put around brick names that are not part of them. */
const FILLER = /\b(the|a|an|any|brick|bricks|model|models|tool|tools|step|steps|stage)\b/gi;

/** Natural names for brick families. */
const ALIASES: Readonly<Record<string, string>> = {
  INPAINTING: 'INPAINT',
  INPAINTER: 'INPAINT',
  FLUXSTYLE: 'FLUX-STYLE',
  'STYLE-TRANSFER': 'FLUX-STYLE',
  'FAST-INPAINT': 'FASTINPAINT',
};

function canonical(token: string): string {
  const t = token.replace(FILLER, ' ').trim().replace(/\s+/g, '-').toUpperCase();
  return ALIASES[t] ?? t;
}

/**
 * The bricks a name stands for: the brick itself when one has exactly that
 * name, otherwise every brick whose name contains it as a family ("INPAINT" →
 * FASTINPAINT, FLUX-INPAINT; "FLUX" → every FLUX-* brick).
 */
export function resolveBrickName(token: string, known: Iterable<string>): string[] {
  const t = canonical(token);
  if (t.length < 2) return [];
  const names = [...new Set([...known].map((n) => n.toUpperCase()))];
  if (names.includes(t)) return [t];
  if (t.length < 3) return [];
  return names.filter((n) => n.includes(t));
}

function purposeOf(word: string | undefined): string | undefined {
  if (!word) return undefined;
  const w = word.toLowerCase().replace(/[^a-z]/g, '');
  return PURPOSES.find((p) => p.words.test(w))?.name;
}

/** Bricks serving a purpose, by their descriptions. */
export function bricksForPurpose(purpose: string, catalogue: readonly BrickInfo[] = BUILTIN_BRICKS): string[] {
  const p = PURPOSES.find((x) => x.name === purpose);
  if (!p) return [];
  return catalogue.filter((b) => p.describes.test(b.description ?? '')).map((b) => b.name.toUpperCase());
}

/** Kept as an alias: `purpose` now lives on Rule itself. */
export type ScopedRule = Rule;

const NAME = String.raw`((?:the\s+|any\s+)?[a-z][a-z0-9-]*(?:\s+(?:brick|model|tool|step))?)`;
const NEG = String.raw`(?:don'?t|do\s+not|never|no\s+more|please\s+don'?t|stop|avoid|you\s+(?:must|should)\s*(?:n'?t|not))`;
const USE = String.raw`(?:use|using|run|running|apply|applying|call|calling|put|putting|feed|feeding|chain|chaining)?`;
const BEFORE = String.raw`(?:before|ahead\s+of|prior\s+to|in\s+front\s+of|into|to\s+feed|feeding|upstream\s+of)`;

const PATTERNS: ReadonlyArray<{ kind: Rule['kind']; re: RegExp }> = [
  { kind: 'forbid-before', re: new RegExp(String.raw`${NEG}\s+${USE}\s*${NAME}\s+${BEFORE}\s+${NAME}`, 'i') },
  { kind: 'forbid-before', re: new RegExp(String.raw`\bno\s+${NAME}\s+${BEFORE}\s+${NAME}`, 'i') },
  { kind: 'forbid-before', re: new RegExp(String.raw`${NAME}\s+(?:must|should|may)\s*(?:n'?t|not|never)\s+(?:come|go|run|be\s+used)\s+${BEFORE}\s+${NAME}`, 'i') },
  { kind: 'require', re: new RegExp(String.raw`\b(?:always|only|must)\s+(?:use|run|apply)\s+${NAME}(?:\s+(?:for|when|to|in)\s+(?:the\s+)?([a-z]+))?`, 'i') },
  { kind: 'require', re: new RegExp(String.raw`\buse\s+${NAME}\s+(?:for|whenever\s+you\s+need|to\s+do)\s+(?:the\s+|any\s+)?([a-z]+)`, 'i') },
  { kind: 'prefer', re: new RegExp(String.raw`\b(?:prefer|i'?d\s+rather\s+(?:you\s+)?use|favou?r)\s+${NAME}`, 'i') },
  { kind: 'prefer', re: new RegExp(String.raw`\buse\s+${NAME}\s+(?:if|when|where)\s+(?:possible|you\s+can)`, 'i') },
  { kind: 'forbid', re: new RegExp(String.raw`${NEG}\s+${USE}\s*${NAME}`, 'i') },
  { kind: 'forbid', re: new RegExp(String.raw`\bno\s+${NAME}\b(?!\s+${BEFORE})`, 'i') },
  { kind: 'forbid', re: new RegExp(String.raw`${NAME}\s+is\s+(?:forbidden|banned|not\s+allowed)`, 'i') },
];

/**
 * Reads a standing rule from a chat message, or undefined when the message is
 * not one (or names no brick we know: "don't make it blue" is an edit, not a rule).
 * `known` defaults to the built-in catalogue; pass `registry.list()` so rules
 * can name bricks registered later.
 */
export function parseRule(text: string, known: readonly BrickInfo[] = BUILTIN_BRICKS): ScopedRule | undefined {
  const names = known.map((b) => b.name);
  const clean = text.replace(/[’`]/g, "'").trim();
  for (const { kind, re } of PATTERNS) {
    const m = re.exec(clean);
    if (!m) continue;
    const brickTok = m[1]!;
    const spokenOf = /\b(use|using|run|running|apply|applying|call|calling|feed|feeding|brick|model|tool|prefer)\b/i.test(m[0]);
    if (!namesBrick(brickTok, names, spokenOf)) continue;
    const brick = canonical(brickTok);
    if (kind === 'forbid-before') {
      const beforeTok = m[2]!;
      if (!namesBrick(beforeTok, names, true)) continue;
      const before = canonical(beforeTok);
      return { kind, brick, before, text: text.trim(), bricks: resolveBrickName(brick, names), beforeBricks: resolveBrickName(before, names) };
    }
    if (kind === 'require') {
      const purpose = purposeOf(m[2]);
      return { kind, brick, text: text.trim(), ...(purpose ? { purpose } : {}), bricks: resolveBrickName(brick, names) };
    }
    return { kind, brick, text: text.trim(), bricks: resolveBrickName(brick, names) };
  }
  return undefined;
}

/**
 * Whether a token the user wrote names a brick. Everyday words collide with
 * brick names and families ("don't add a hat" is not about ADD-PRED), so a
 * family counts only when written in capitals or as a known alias, and an exact
 * name only in capitals or after a verb such as "use".
 */
function namesBrick(token: string, names: readonly string[], spokenOf: boolean): boolean {
  const resolved = resolveBrickName(token, names);
  if (resolved.length === 0) return false;
  const written = token.replace(FILLER, ' ').trim();
  const capitals = written === written.toUpperCase();
  const t = canonical(token);
  const exact = names.some((n) => n.toUpperCase() === t);
  if (exact) return capitals || spokenOf;
  return capitals || Object.values(ALIASES).includes(t) && Object.keys(ALIASES).includes(written.replace(/\s+/g, '-').toUpperCase());
}

/** One line per rule, for prompts and `/rules` listings. */
export function describeRule(rule: ScopedRule): string {
  switch (rule.kind) {
    case 'forbid':
      return `never use ${rule.brick}`;
    case 'forbid-before':
      return `${rule.brick}'s output must not feed ${rule.before ?? '?'}, directly or through other steps`;
    case 'require':
      return rule.purpose ? `always use ${rule.brick} for ${rule.purpose}` : `always use ${rule.brick} where it applies`;
    case 'prefer':
      return `prefer ${rule.brick} where there is a choice`;
  }
}

/** Every step that feeds `node`, directly or transitively. */
function ancestors(node: WorkflowNode, byStep: ReadonlyMap<number, WorkflowNode>): WorkflowNode[] {
  const seen = new Set<number>();
  const out: WorkflowNode[] = [];
  const stack = [node];
  while (stack.length) {
    const n = stack.pop()!;
    for (const b of Object.values(n.inputs)) {
      if (b.kind !== 'ref' || b.source.kind !== 'step' || seen.has(b.source.step)) continue;
      seen.add(b.source.step);
      const up = byStep.get(b.source.step);
      if (up) {
        out.push(up);
        stack.push(up);
      }
    }
  }
  return out;
}

/** The purposes the named bricks serve, by their descriptions ("removal" for FASTINPAINT). */
export function purposesOf(bricks: readonly string[], catalogue: readonly BrickInfo[] = BUILTIN_BRICKS): string[] {
  return PURPOSES.filter((p) => bricks.some((r) => p.describes.test(catalogue.find((b) => b.name.toUpperCase() === r.toUpperCase())?.description ?? ''))).map((p) => p.name);
}

/** The purpose a `require` rule covers: its stated one, else the one its brick's description names. */
function requireScope(rule: ScopedRule, required: readonly string[], catalogue: readonly BrickInfo[]): string[] | undefined {
  const purposes = rule.purpose ? [rule.purpose] : purposesOf(required, catalogue);
  if (purposes.length === 0) return undefined;
  return [...new Set(purposes.flatMap((p) => bricksForPurpose(p, catalogue)))];
}

/**
 * The ways a workflow breaks the rules, one sentence each, worded for the user
 * and for a self-repair prompt. Empty when it complies. `prefer` rules never
 * make a violation: they steer choices, they do not forbid.
 */
export function checkRules(workflow: Workflow, rules: readonly ScopedRule[], catalogue: readonly BrickInfo[] = BUILTIN_BRICKS): string[] {
  const inWorkflow = workflow.nodes.map((n) => n.brick.toUpperCase());
  const known = [...new Set([...catalogue.map((b) => b.name.toUpperCase()), ...inWorkflow])];
  const byStep = new Map(workflow.nodes.map((n) => [n.step, n]));
  const label = (n: WorkflowNode): string => `step ${n.step} (${n.brick})`;
  const violations: string[] = [];
  for (const rule of rules) {
    const bricks = new Set([...resolveBrickName(rule.brick, known), ...(rule.bricks ?? [])]);
    const is = (n: WorkflowNode): boolean => bricks.has(n.brick.toUpperCase());
    switch (rule.kind) {
      case 'forbid':
        for (const n of workflow.nodes.filter(is)) violations.push(`Rule "${rule.text}": ${label(n)} uses ${n.brick}, which is forbidden.`);
        break;
      case 'forbid-before': {
        const later = new Set([...resolveBrickName(rule.before ?? '', known), ...(rule.beforeBricks ?? [])]);
        for (const n of workflow.nodes.filter((x) => later.has(x.brick.toUpperCase()))) {
          for (const up of ancestors(n, byStep).filter(is).sort((a, b) => a.step - b.step)) {
            violations.push(`Rule "${rule.text}": ${label(up)} feeds ${label(n)}; ${up.brick}'s output must not reach ${n.brick}.`);
          }
        }
        break;
      }
      case 'require': {
        if (workflow.nodes.some(is)) break;
        const scope = requireScope(rule, [...bricks], catalogue);
        const offenders = scope ? workflow.nodes.filter((n) => scope.includes(n.brick.toUpperCase())) : [...workflow.nodes];
        if (scope && offenders.length === 0) break;
        const instead = offenders.length ? ` (${offenders.map(label).join(', ')} ${offenders.length === 1 ? 'does' : 'do'} its job instead)` : '';
        violations.push(`Rule "${rule.text}": the workflow must use ${rule.brick}${rule.purpose ? ` for ${rule.purpose}` : ''}${instead}.`);
        break;
      }
      case 'prefer':
        break;
    }
  }
  return violations;
}
