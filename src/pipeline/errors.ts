import { LegoEditError } from '../engine/errors.ts';

/** Every plan the Builder offered breaks one of the user's standing rules; the message names them and what to do. */
export class RuleViolationError extends LegoEditError {
  constructor(readonly violations: readonly string[]) {
    super('rule-violated', `The plan I found breaks your rules: ${violations.join(' ')} Try /forget to drop a rule, or rephrase.`);
  }
}
