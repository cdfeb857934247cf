/**
 * The offline Builder's English layer: from what a person wrote to the edit
 * clauses the instruction families plan. In order: shorthands and typos
 * (typos.ts), contractions and polite or indirect forms (indirect.ts),
 * requests outside what a photo editor does (scope.ts), the sentence's topic
 * and references (references.ts), the steps of a chain (clauses.ts), and what
 * each step must leave alone (exceptions.ts).
 */
import { rephraseWish, stripPoliteness } from '../language.ts';
import { splitSteps } from './clauses.ts';
import { splitException } from './exceptions.ts';
import { directCommand, expandContractions } from './indirect.ts';
import { normaliseAmounts } from './amounts.ts';
import { plainLocatives, readTopic } from './references.ts';
import { outOfScope } from './scope.ts';
import { correctTypos } from './typos.ts';

export { resolveReference } from './references.ts';
export { correctTypos } from './typos.ts';

/** One edit to plan: a command a family reads, and what it must leave alone. */
export interface EditClause {
  readonly text: string;
  readonly keep?: string;
}

export interface Understood {
  readonly clauses: readonly EditClause[];
  /** The noun a later "one" stands for ("of the two sheep, …"). */
  readonly topic?: string;
  /** Why this cannot be done here, in one sentence with what can; set instead of clauses. */
  readonly refusal?: string;
  /** Said what to keep but not what to change ("don't touch the sky"). */
  readonly keepOnly?: string;
}

/** Spelling, contractions and shorthands put right: the text every later step reads. */
export function normalise(text: string): string {
  const spelt = plainLocatives(expandContractions(correctTypos(text.replace(/\s+&\s+/g, ' and ').replace(/\s+/g, ' ').trim())));
  // "blur everything else": the rest of the picture is everything the edit may touch.
  return spelt.replace(/\b(everything|all)\s+else\b/gi, 'everything');
}

/** Reads an instruction into its edit clauses, or says why it is not one. */
export function understand(instruction: string): Understood {
  const text = normalise(instruction);
  const scope = outOfScope(directCommand(text));
  if (scope) return { clauses: [], refusal: scope };
  const { text: body, noun } = readTopic(normaliseAmounts(directCommand(text)));
  // An exception can span the chain ("keep the car in colour and make the rest black and white"): read it on the whole first.
  const whole = splitException(body);
  const steps = whole.keep && whole.edit ? splitSteps(whole.edit).map((s) => ({ step: s, keep: whole.keep })) : splitSteps(body).map((s) => ({ step: s, keep: undefined }));
  const clauses: EditClause[] = [];
  let keepOnly: string | undefined;
  for (const { step, keep } of steps) {
    const command = directCommand(step);
    const read = splitException(command);
    const scoped = read.keep || !keep ? read : { ...read, keep };
    const edit = rephraseWish(directCommand(stripPoliteness(scoped.edit)));
    if (!edit) {
      keepOnly ??= scoped.keep;
      continue;
    }
    clauses.push({ text: edit, ...(scoped.keep ? { keep: scoped.keep } : {}) });
  }
  // "do not touch the car, just blur the background": what one clause keeps, the others leave alone.
  const kept = keepOnly ? clauses.map((c) => (c.keep ? c : { ...c, keep: keepOnly })) : clauses;
  return { clauses: kept, ...(noun ? { topic: noun } : {}), ...(keepOnly && clauses.length === 0 ? { keepOnly } : {}) };
}
