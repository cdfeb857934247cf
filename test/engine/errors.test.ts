/**
 * What to do after an error is a property of its class: `planFixable` (a
 * different plan may work, so the pipeline asks the Builder to repair) and
 * `retryable`, never a list of codes kept elsewhere.
 */
import { describe, expect, it } from 'vitest';
import { PlanRefusedError } from '../../src/builder/builder.ts';
import { ERROR_CODES, isErrorCode } from '../../src/engine/error-codes.ts';
import type {
  LegoEditError} from '../../src/engine/errors.ts';
import {
  BrickInputError,
  BrickUnavailableError,
  CancelledError,
  ImageTooLargeError,
  isPlanFixable,
  MissingOutputError,
  NeedsGpuHostError,
  PlanFixableError,
  StepTimeoutError,
  UnreadableImageError,
} from '../../src/engine/errors.ts';
import { EmptyMaskError, StepFailedError } from '../../src/engine/step-errors.ts';
import { fromWireError, RemoteBrickError, toWireError, UnknownRemoteBrickError, WorkerUnavailableError } from '../../src/remote/protocol/errors.ts';
import { SessionError } from '../../src/sessions/errors.ts';

const fixable: Array<[string, LegoEditError]> = [
  ['an empty mask', EmptyMaskError.foundNothing(1, 'RES', 'mask', 'the dog', 'the edit would change nothing')],
  ['a missing output', new MissingOutputError('INVERSE', 'image', ['the result'])],
  ['a brick that needs a GPU host', new NeedsGpuHostError('FLUX-FILL', 'FLUX.1 Fill')],
  ['an unavailable brick', new BrickUnavailableError('INPAINT', 'no LaMa model', 'Put lama.onnx in the models directory.')],
  ['input a brick refused', new BrickInputError('RESIZE', 'width must be positive')],
  ['a brick a worker does not serve', new UnknownRemoteBrickError('SOS', 'The worker')],
];

const unfixable: Array<[string, unknown]> = [
  ['a step that timed out', new StepTimeoutError(2, 'INPAINT', 1000)],
  ['a cancellation', new CancelledError()],
  ['an unreadable image', new UnreadableImageError('not a PNG')],
  ['an image over the limit', new ImageTooLargeError('50 MP', '40 MP')],
  ['a refused plan', new PlanRefusedError('I cannot do that')],
  ['a conversation error', new SessionError('no-image', 'There is no image yet.')],
  ['a worker that is down', new WorkerUnavailableError('no worker')],
  ['an error that is not ours', new Error('boom')],
  ['a thrown string', 'boom'],
];

describe('fixability by re-planning', () => {
  it.each(fixable)('%s is fixable by another plan', (_what, err) => {
    expect(err).toBeInstanceOf(PlanFixableError);
    expect(err.planFixable).toBe(true);
    expect(isPlanFixable(err)).toBe(true);
  });

  it.each(unfixable)('%s is not fixable by another plan', (_what, err) => {
    expect(isPlanFixable(err)).toBe(false);
  });

  it('a failed step is fixable exactly when its cause is', () => {
    const gpu = new StepFailedError(3, 'FLUX-FILL', {}, new NeedsGpuHostError('FLUX-FILL', 'FLUX.1 Fill'));
    const slow = new StepFailedError(3, 'INPAINT', {}, new StepTimeoutError(3, 'INPAINT', 10));
    const foreign = new StepFailedError(3, 'INPAINT', {}, new Error('disk full'));
    expect([gpu.code, gpu.planFixable]).toEqual(['needs-gpu-host', true]);
    expect([slow.code, slow.planFixable, slow.retryable]).toEqual(['step-timeout', false, true]);
    expect([foreign.code, foreign.planFixable]).toEqual(['step-failed', false]);
  });

  it('a worker says across the wire whether another plan can avoid its failure', () => {
    const gpuWire = toWireError(new NeedsGpuHostError('FLUX-FILL', 'FLUX.1 Fill'));
    expect(gpuWire).toMatchObject({ code: 'needs-gpu-host', planFixable: true });
    const back = fromWireError('FLUX-FILL', gpuWire);
    expect(back).toBeInstanceOf(RemoteBrickError);
    expect([back.code, back.planFixable]).toEqual(['needs-gpu-host', true]);
    // An older worker that does not say reads as not fixable; a code we do not know becomes a generic remote failure.
    const old = fromWireError('X', { code: 'gpu-melted', message: 'gone', retryable: false });
    expect([old.code, old.planFixable]).toEqual(['remote-brick-failed', false]);
  });
});

describe('error codes', () => {
  it('every code is listed once, and only listed codes are ours', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    expect(isErrorCode('empty-mask')).toBe(true);
    expect(isErrorCode('empty_mask')).toBe(false);
  });
});
