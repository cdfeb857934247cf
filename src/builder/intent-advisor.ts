/**
 * A model's second opinion on what a free-text chat message means, for the
 * session manager's intent classifier. The model may only suggest what is
 * safe to act on: the edit-or-revise choice, reversible commands and talk,
 * never reset, forget or cancel.
 */
export const ADVISED_INTENTS = ['follow-up', 'revision', 'undo', 'redo', 'history', 'rules', 'show-plan', 'chat', 'unclear'] as const;
export type AdvisedIntent = (typeof ADVISED_INTENTS)[number];

/** What a model is told about a message it is asked to place. */
export interface IntentQuestion {
  readonly text: string;
  /** The instruction of the edit feedback would revise, when there is one. */
  readonly lastInstruction?: string;
  readonly signal?: AbortSignal;
}

export interface IntentAdvice {
  readonly intent: AdvisedIntent;
  /** For `unclear`: the question to ask the user. */
  readonly question?: string;
}

/** A model's second opinion on free text (the MLLM Builder's endpoint, when configured). */
export interface IntentAdvisor {
  adviseIntent(question: IntentQuestion): Promise<IntentAdvice>;
}

