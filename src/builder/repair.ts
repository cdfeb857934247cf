/**
 * Repairing an offline plan after its run failed, without asking the user:
 * what failed (read from the failed turn's error code, trace or message) says
 * what to change. An empty mask gets RES asking for just the head noun ("the
 * small brown dog" → "the dog"), never SOS in its place: that would edit some
 * other object the user did not name (a user's "try again" may do it); a brick
 * that could not run gets a plan without it. When neither leaves anything to
 * try, the refusal says so, and why.
 */
import type { BrickRegistry } from '../engine/registry.ts';
import { serialiseWorkflow } from '../engine/workflow/serialise.ts';
import type { PlanRequest, PriorTurn } from './builder.ts';
import { PlanRefusedError } from './builder.ts';
import { literal } from './draft.ts';
import { afterEmptyMask, emptyMaskStep, type Revision, revisionProblems } from './revise.ts';

/** What went wrong in a failed run, as far as a different plan could avoid it. */
export type Failure =
  | { readonly kind: 'empty-mask'; readonly step: number; readonly brick: string }
  /** A brick that could not be used: needs a GPU host, unavailable, unknown, or refused its input. */
  | { readonly kind: 'brick'; readonly brick: string; readonly why: string }
  | { readonly kind: 'unknown'; readonly why: string };

/** Reads a failed turn: its `errorCode` if the caller gave one, else its trace and error message. */
export function diagnoseFailure(failed: PriorTurn): Failure {
  const message = failed.error ?? failed.trace?.find((t) => t.error)?.error ?? '';
  const wf = failed.workflow;
  if (failed.errorCode === 'empty-mask' || /found nothing|empty mask|is empty/i.test(message) || failed.trace?.some((t) => t.emptyMasks.length > 0)) {
    const empty = wf ? emptyMaskStep(failed, wf) : undefined;
    // An empty mask no step of the plan made (the user's own) is not the plan's to fix.
    if (wf && empty !== undefined) return { kind: 'empty-mask', step: empty, brick: wf.nodes.find((n) => n.step === empty)?.brick ?? '?' };
    return { kind: 'unknown', why: message || 'a mask was empty' };
  }
  const failedStep = failed.trace?.find((t) => t.status === 'failed');
  const named = /^Step (\d+) \(([^)\s]+)\)/i.exec(message) ?? /^([A-Z][\w-]*) cannot run here/.exec(message);
  const brick = failedStep?.brick ?? (named ? named[named.length - 1] : undefined);
  if (!brick) return { kind: 'unknown', why: message || 'no error was given' };
  const why = whyUnusable(failed.errorCode, message);
  return { kind: 'brick', brick, why };
}

/** Why a brick could not be used, worded to follow its name: "FLUX-FILL needs a GPU host". */
function whyUnusable(code: string | undefined, message: string): string {
  if (code === 'needs-gpu-host' || /needs a GPU host/i.test(message)) return 'needs a GPU host';
  if (code === 'unknown-brick' || /unknown brick/i.test(message)) return 'is not in the catalogue';
  const unavailable = /cannot run here: ([^.]+)/i.exec(message);
  if (unavailable) return `cannot run here (${unavailable[1]})`;
  return `failed (${message.replace(/^Step \d+ \([^)]+\)( failed)?:?\s*/i, '').slice(0, 160)})`;
}

/**
 * The repaired workflow for `failed`. `planWithout` plans the failed turn's
 * instruction again without the given bricks (and the reason each is
 * excluded); it throws PlanRefusedError when no plan does without them.
 */
export function repairWorkflow(
  request: PlanRequest,
  failed: PriorTurn,
  registry: BrickRegistry,
  planWithout: (exclude: ReadonlyMap<string, string>) => Revision,
): Revision {
  const previous = failed.workflow;
  if (!previous) throw new PlanRefusedError(`There is no workflow to repair: "${failed.instruction}" failed before it had one (${failed.error ?? 'no error given'}).`);
  const failure = diagnoseFailure(failed);

  if (failure.kind === 'empty-mask') {
    const node = previous.nodes.find((n) => n.step === failure.step);
    const prompt = node ? literal(node, 'prompt') : undefined;
    const what = `${failure.brick} (step ${failure.step}) found nothing${typeof prompt === 'string' ? ` for "${prompt}"` : ''}`;
    const revision = afterEmptyMask(failed, previous);
    if (!revision) {
      throw new PlanRefusedError(`${what}, and there is no simpler way to look for it: the object may not be in the photo. Name it differently, or send a mask of it.`);
    }
    // Only the user may trade the named object for "whatever stands out": unasked, that edits something else.
    if (revision.workflow.nodes.find((n) => n.step === failure.step)?.brick === 'SOS' && failure.brick !== 'SOS') {
      throw new PlanRefusedError(`${what}: it may not be in the photo. Name it differently, send a mask of it, or say "try again" to use the most salient object instead.`);
    }
    const problems = revisionProblems(revision.workflow, request, registry);
    if (problems.length) throw new PlanRefusedError(`${what}; the only other way to look for it is not allowed: ${problems.join(' ')}`);
    return revision;
  }

  if (failure.kind === 'brick') {
    let fresh: Revision;
    try {
      fresh = planWithout(new Map([[failure.brick, failure.why]]));
    } catch (err) {
      if (!(err instanceof PlanRefusedError)) throw err;
      throw new PlanRefusedError(`${failure.brick} ${failure.why}, and I know no way to do "${failed.instruction}" without it.`);
    }
    if (serialiseWorkflow(fresh.workflow, 0) === serialiseWorkflow(previous, 0)) {
      throw new PlanRefusedError(`${failure.brick} ${failure.why}, and the plan without it is the one that failed.`);
    }
    return { workflow: fresh.workflow, reasoning: `${failure.brick} ${failure.why}, so this plan does without it. ${fresh.reasoning}`.trim() };
  }

  throw new PlanRefusedError(`I can't tell from the failure which step to change (${failure.why}), so I have nothing else to try.`);
}
