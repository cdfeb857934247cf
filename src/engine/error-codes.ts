/**
 * Every error code this project gives an error, in one union: a code is what
 * logs, the database (`turns.error_code`), the wire to GPU workers and the
 * Builder's repair read, so a misspelt one is a type error, not a silent miss.
 * Grouped by where the error is raised.
 */
export const ERROR_CODES = [
  // images and bricks (src/engine, bricks/)
  'unreadable-image',
  'image-too-large',
  'brick-unavailable',
  'needs-gpu-host',
  'brick-input',
  'brick-output',
  'missing-output',
  'empty-mask',
  'brick-warning',
  'step-failed',
  'step-timeout',
  'brick-worker-crashed',
  'cancelled',
  'onnx-provider',
  'onnx-load',
  'onnx-resize',
  'onnx-output',
  // workflows (src/engine/workflow)
  'workflow-parse',
  'workflow-invalid',
  'unknown-brick',
  'type-mismatch',
  // the Builder (src/builder)
  'plan-refused',
  'plan-invalid',
  'builder-unavailable',
  'builder-config',
  'builder-failed',
  'intent-unreadable',
  // conversations (src/sessions)
  'rule-violated',
  'nothing-to-revise',
  'no-image',
  'image-gone',
  'unknown-reply',
  'rate-limited',
  'command',
  'internal',
  'database-busy',
  'database-unreachable',
  'database-damaged',
  'database-schema',
  'disk-full',
  'image-damaged',
  // the critic (src/critic)
  'check-failed',
  // GPU hosts (src/remote)
  'remote-brick-failed',
  'remote-timeout',
  'worker-unavailable',
  'worker-auth',
  'worker-module',
  'worker-bricks',
  'worker-mode',
  'worker-token',
  'worker-listen',
  'worker-redis',
  'payload-too-large',
  'payload-integrity',
  'wire-format',
  'queue-unavailable',
  'blob-missing',
  'not-found',
  'comfyui-unavailable',
  'comfyui-rejected',
  'comfyui-output',
  'comfyui-execution',
  'bricks-manifest',
  // adapters and configuration
  'download-failed',
  'unauthorised',
  'telegram-local-mode',
  'busy',
  'config',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const KNOWN: ReadonlySet<string> = new Set(ERROR_CODES);

/** Whether a code read from outside (the wire, a stored row) is one of ours. */
export function isErrorCode(code: string): code is ErrorCode {
  return KNOWN.has(code);
}
