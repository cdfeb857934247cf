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
export function bricksForPurpose(purpose: string, catalogue: readonly BrickInfo[]): string[] {
  const p = PURPOSES.find((x) => x.name === purpose);
  if (!p) return [];
  return catalogue.filter((b) => p.describes.test(b.description ?? '')).map((b) => b.name.toUpperCase());
}

/** Kept as an alias: `purpose` now lives on Rule itself. */
export type ScopedRule = Rule;

/** A brick name as users write it, captured as `group`: "RES", "the inpainting model", "any FLUX-STYLE step". */
const name = (group: string): string => String.raw`(?<${group}>(?:the\s+|any\s+)?[a-z][a-z0-9-]*(?:\s+(?:brick|model|tool|step))?)(?:'s|s')?(?:\s+(?:output|outputs|result|results|mask|masks))?`;
const NEG = String.raw`(?:don'?t|do\s+not|never|no\s+more|please\s+don'?t|stop|avoid|you\s+(?:must|should)\s*(?:n'?t|not))`;
const USE = String.raw`(?:use|using|run|running|apply|applying|call|calling|put|putting|feed|feeding|chain|chaining)?`;
const BEFORE = String.raw`(?:before|ahead\s+of|prior\s+to|in\s+front\s+of|into|to\s+feed|feeding|upstream\s+of)`;
/** "X shouldn't feed Y", "X must not come before Y": what may follow the negated modal. */
const FEEDS = String.raw`(?:(?:come|go|run|be\s+used|be\s+run)\s+${BEFORE}|feed(?:\s+into)?|be\s+fed\s+(?:in)?to|go\s+into|flow\s+into|reach)`;

const PATTERNS: ReadonlyArray<{ kind: Rule['kind']; re: RegExp }> = [
  { kind: 'forbid-before', re: new RegExp(String.raw`${NEG}\s+${USE}\s*${name('brick')}\s+${BEFORE}\s+${name('before')}`, 'i') },
  { kind: 'forbid-before', re: new RegExp(String.raw`\bno\s+${name('brick')}\s+${BEFORE}\s+${name('before')}`, 'i') },
  { kind: 'forbid-before', re: new RegExp(String.raw`${name('brick')}\s+(?:must|should|may|can|shall)\s*(?:n'?t|not|never)\s+${FEEDS}\s+${name('before')}`, 'i') },
  { kind: 'forbid-before', re: new RegExp(String.raw`${NEG}\s+let\s+${name('brick')}\s+${FEEDS}\s+${name('before')}`, 'i') },
  { kind: 'require', re: new RegExp(String.raw`\b(?:always|only|must)\s+(?:use|run|apply)\s+${name('brick')}(?:\s+(?:for|when|to|in)\s+(?:the\s+)?(?<purpose>[a-z]+))?`, 'i') },
  { kind: 'require', re: new RegExp(String.raw`\buse\s+${name('brick')}\s+(?:for|whenever\s+you\s+need|to\s+do)\s+(?:the\s+|any\s+)?(?<purpose>[a-z]+)`, 'i') },
  // "always segment with SOS": the verb is the purpose, so it must name one.
  { kind: 'require', re: new RegExp(String.raw`\b(?:always|only)\s+(?<purpose>[a-z]+)\s+(?:with|using|via|through|by)\s+${name('brick')}`, 'i') },
  { kind: 'prefer', re: new RegExp(String.raw`\b(?:prefer|i'?d\s+rather\s+(?:you\s+)?use|favou?r)\s+${name('brick')}`, 'i') },
  { kind: 'prefer', re: new RegExp(String.raw`\buse\s+${name('brick')}\s+(?:if|when|where)\s+(?:possible|you\s+can)`, 'i') },
  { kind: 'forbid', re: new RegExp(String.raw`${NEG}\s+${USE}\s*${name('brick')}`, 'i') },
  { kind: 'forbid', re: new RegExp(String.raw`\bno\s+${name('brick')}\b(?!\s+${BEFORE})`, 'i') },
  { kind: 'forbid', re: new RegExp(String.raw`${name('brick')}\s+is\s+(?:forbidden|banned|not\s+allowed)`, 'i') },
];

/** Multi-word aliases users type for a brick, as the token `canonical` maps. */
const SPOKEN_ALIASES: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bstyle[\s_]+transfer\b/gi, 'STYLE-TRANSFER'],
  [/\bfast[\s_]+inpaint(?:ing)?\b/gi, 'FAST-INPAINT'],
];

/**
 * "flux style", "mask seg", "style transfer": a brick's name (or alias) written
 * as separate words is unambiguous, so it is joined into the one token the
 * patterns read. Lone everyday words are left alone.
 */
function joinSpokenNames(text: string, names: readonly string[]): string {
  let t = text;
  for (const [re, token] of SPOKEN_ALIASES) t = t.replace(re, token);
  for (const n of names) {
    const parts = n.split(/[-_]/).filter(Boolean);
    if (parts.length < 2) continue;
    const spaced = new RegExp(String.raw`\b${parts.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join(String.raw`[\s_]+`)}\b`, 'gi');
    t = t.replace(spaced, n.toUpperCase());
  }
  return t;
}

/**
 * Reads a standing rule from a chat message, or undefined when the message is
 * not one (or names no brick we know: "don't make it blue" is an edit, not a rule).
 * `known` is the registry's bricks (`registry.list()`), so rules can name
 * bricks registered later.
 */
export function parseRule(text: string, known: readonly BrickInfo[]): ScopedRule | undefined {
  const names = known.map((b) => b.name);
  const clean = joinSpokenNames(text.replace(/[’`]/g, "'").trim(), names);
  // Set once the message orders two things ("X before Y", "X shouldn't feed Y"): it is then
  // that rule or none, never the plain "forbid X" its first half would also read as.
  let ordering = false;
  for (const { kind, re } of PATTERNS) {
    const m = re.exec(clean);
    if (!m?.groups) continue;
    const brickTok = m.groups.brick!;
    if (kind === 'forbid-before') {
      ordering = true;
      // "X before Y" speaks of tools in both places, so lower case counts there.
      const beforeTok = m.groups.before!;
      if (!namesBrick(brickTok, names, true) || !namesBrick(beforeTok, names, true)) continue;
      const brick = canonical(brickTok);
      const before = canonical(beforeTok);
      return { kind, brick, before, text: text.trim(), bricks: resolveBrickName(brick, names), beforeBricks: resolveBrickName(before, names) };
    }
    if (kind === 'forbid' && ordering) continue;
    const spokenOf = /\b(use|using|run|running|apply|applying|call|calling|feed|feeding|brick|model|tool|prefer|with|via)\b/i.test(m[0]);
    if (!namesBrick(brickTok, names, spokenOf)) continue;
    const brick = canonical(brickTok);
    if (kind === 'require') {
      const purpose = purposeOf(m.groups.purpose);
      // In "always segment with SOS" the verb is the only scope there is: no purpose, no rule.
      if (!purpose && m.groups.purpose && !/\b(?:use|run|apply)\b/i.test(m[0])) continue;
      return { kind, brick, text: text.trim(), ...(purpose ? { purpose } : {}), bricks: resolveBrickName(brick, names) };
    }
    return { kind, brick, text: text.trim(), bricks: resolveBrickName(brick, names) };
  }
  return undefined;
}

/**
 * Parts of brick names that are also everyday words ("don't add a hat", "don't
 * use the mask I sent"): in lower case they never name a brick family.
 */
const EVERYDAY = /^(ADD|MASK|TEXT|FACE|FILL|STYLE|POSE|BOX|FAST|FLIP|CROP|BLUR|ROTATE|RESIZE|SCALE|ADJUST|COMPOSE|INVERSE|DILATE)$/;

/**
 * Whether a token the user wrote names a brick. Everyday words collide with
 * brick names and families ("don't add a hat" is not about ADD-PRED), so an
 * exact name counts in capitals or when spoken of as a tool ("use res"); a
 * family ("inpaint", "flux") counts in capitals, as a known alias, or in lower
 * case when spoken of as a tool and it is a whole part of a brick name that is
 * not an everyday word.
 */
function namesBrick(token: string, names: readonly string[], spokenOf: boolean): boolean {
  const resolved = resolveBrickName(token, names);
  if (resolved.length === 0) return false;
  const written = token.replace(FILLER, ' ').trim();
  const capitals = written === written.toUpperCase();
  const t = canonical(token);
  const exact = names.some((n) => n.toUpperCase() === t);
  if (exact) return capitals || spokenOf;
  if (capitals) return true;
  if (Object.values(ALIASES).includes(t) && Object.keys(ALIASES).includes(written.replace(/\s+/g, '-').toUpperCase())) return true;
  const parts = new Set(names.flatMap((n) => n.toUpperCase().split(/[-_]/)));
  return spokenOf && parts.has(t) && !EVERYDAY.test(t);
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
export function purposesOf(bricks: readonly string[], catalogue: readonly BrickInfo[]): string[] {
  return PURPOSES.filter((p) => bricks.some((r) => p.describes.test(catalogue.find((b) => b.name.toUpperCase() === r.toUpperCase())?.description ?? ''))).map((p) => p.name);
}

/** The purpose a `require` rule covers: its stated one, else the one its brick's description names. */
function requireScope(rule: ScopedRule, required: readonly string[], catalogue: readonly BrickInfo[]): string[] | undefined {
  const purposes = rule.purpose ? [rule.purpose] : purposesOf(required, catalogue);
  if (purposes.length === 0) return undefined;
  return [...new Set(purposes.flatMap((p) => bricksForPurpose(p, catalogue)))];
}

/** One way a workflow breaks one rule. */
export interface RuleViolation {
  readonly rule: ScopedRule;
  /** The steps that break it, the one to change first: the forbidden step, the upstream step that must not feed, or the steps doing a required brick's job. */
  readonly steps: readonly number[];
  /** One sentence for the user and for a self-repair prompt. */
  readonly message: string;
}

/**
 * The ways a workflow breaks the rules, one sentence each, worded for the user
 * and for a self-repair prompt. Empty when it complies. `prefer` rules never
 * make a violation: they steer choices, they do not forbid.
 */
export function checkRules(workflow: Workflow, rules: readonly ScopedRule[], catalogue: readonly BrickInfo[]): string[] {
  return ruleViolations(workflow, rules, catalogue).map((v) => v.message);
}

/** `checkRules` with the rule and the steps of each violation, for planners that re-route around them. */
export function ruleViolations(workflow: Workflow, rules: readonly ScopedRule[], catalogue: readonly BrickInfo[]): RuleViolation[] {
  const inWorkflow = workflow.nodes.map((n) => n.brick.toUpperCase());
  const known = [...new Set([...catalogue.map((b) => b.name.toUpperCase()), ...inWorkflow])];
  const byStep = new Map(workflow.nodes.map((n) => [n.step, n]));
  const label = (n: WorkflowNode): string => `step ${n.step} (${n.brick})`;
  const violations: RuleViolation[] = [];
  for (const rule of rules) {
    const bricks = new Set([...resolveBrickName(rule.brick, known), ...(rule.bricks ?? [])]);
    const is = (n: WorkflowNode): boolean => bricks.has(n.brick.toUpperCase());
    switch (rule.kind) {
      case 'forbid':
        for (const n of workflow.nodes.filter(is)) violations.push({ rule, steps: [n.step], message: `Rule "${rule.text}": ${label(n)} uses ${n.brick}, which is forbidden.` });
        break;
      case 'forbid-before': {
        const later = new Set([...resolveBrickName(rule.before ?? '', known), ...(rule.beforeBricks ?? [])]);
        for (const n of workflow.nodes.filter((x) => later.has(x.brick.toUpperCase()))) {
          for (const up of ancestors(n, byStep).filter(is).sort((a, b) => a.step - b.step)) {
            violations.push({ rule, steps: [up.step, n.step], message: `Rule "${rule.text}": ${label(up)} feeds ${label(n)}; ${up.brick}'s output must not reach ${n.brick}.` });
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
        violations.push({ rule, steps: offenders.map((n) => n.step), message: `Rule "${rule.text}": the workflow must use ${rule.brick}${rule.purpose ? ` for ${rule.purpose}` : ''}${instead}.` });
        break;
      }
      case 'prefer':
        break;
    }
  }
  return violations;
}
