/** What the critic (offline checks and the MLLM critic) reads and what it says. */
import type { ImageData, MaskData } from '../engine/values.ts';
import type { CheckFailedError } from './errors.ts';

export type CheckName = 'mask-too-large' | 'mask-borders' | 'mask-box-shaped' | 'no-effect' | 'leak';

/** One failed offline check. */
export interface CheckFinding {
  readonly check: CheckName;
  /** The step whose output the finding is about (the segmenter, or the edit), when known. */
  readonly step?: number;
  /** One line, shown to the user: "the mask of RES (step 1) for "the car" covers 83% of the picture". */
  readonly detail: string;
  /** How far past its threshold the measure is, 0..1, for ranking and the evaluation. */
  readonly score: number;
}

/** A mask a segmenter made for a named object. */
export interface SegmentUnderCheck {
  readonly step: number;
  readonly brick: string;
  readonly prompt?: string;
  readonly mask: MaskData;
  /** The brick outlines objects (a box-shaped mask is then a failure). */
  readonly outline: boolean;
}

/** What the offline checks read from one finished run. */
export interface CheckInput {
  readonly before: ImageData;
  readonly after: ImageData;
  /** The region the plan meant to change: the union of the masks its region-limited edits were given. */
  readonly editMask?: MaskData;
  /** The last region-limited edit step, or the last step when there is none. */
  readonly editStep?: number;
  readonly segments: readonly SegmentUnderCheck[];
}

/** The critic's verdict on a result, stored with the turn. */
export interface Verdict {
  /** Who judged: the offline checks, or the MLLM critic's model. */
  readonly by: 'offline' | 'mllm';
  readonly verdict: 'done' | 'partly' | 'wrong' | 'unchecked';
  /** One line: why. */
  readonly reason: string;
  readonly findings?: readonly CheckFinding[];
  readonly model?: string;
  readonly latencyMs?: number;
  readonly usage?: { readonly promptTokens: number; readonly completionTokens: number };
  /** The critic model gave no answer, so the result went out unchecked: it timed out, or the request failed (unreachable, refused). */
  readonly unanswered?: 'timeout' | 'error';
  /** Which run of the turn it judged: 0 for the first, 1 for the re-planned one. */
  readonly attempt: number;
}

/**
 * A verdict as turns.verdicts holds it: rows written before `unanswered` have `timedOut: true` instead, set
 * for any critic that gave no answer (the reason says which).
 */
export type StoredVerdict = Verdict & { readonly timedOut?: boolean };

/** A stored verdict in today's shape. */
export function readVerdict(stored: StoredVerdict): Verdict {
  const { timedOut, ...verdict } = stored;
  if (!timedOut || verdict.unanswered) return verdict;
  return { ...verdict, unanswered: /did not answer within/.test(verdict.reason) ? 'timeout' : 'error' };
}

/** What one judge (offline checks, MLLM critic) said about one run, and the problem to re-plan for if it failed. */
export interface Review {
  readonly verdicts: readonly Verdict[];
  /** Set when the result should not go out as it is: the pipeline re-plans once with it. */
  readonly problem?: CheckFailedError;
}

/** The reviews of a whole request, kept with the turn. */
export interface ReviewRecord {
  readonly verdicts: readonly Verdict[];
  /** One line for the user: what was checked and changed, or what is still wrong. Absent when all was well. */
  readonly note?: string;
}
