/**
 * What the runtime hands the built-in bricks, instead of each brick reading
 * configuration on every call. A test builds bricks with a models directory
 * of its own, no environment variables involved; a worker and a bot build
 * theirs from their own configuration.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../src/config.ts';

export interface BrickEnvironment {
  /** Directory of user-supplied ONNX models (docs/bricks-edit.md); absent means none are installed. */
  readonly modelsDir?: string;
  /** Told which execution provider each user model got. */
  readonly logger?: Logger;
}

/** Bricks with nothing installed: CPU variants only. */
export const NO_USER_MODELS: BrickEnvironment = {};

/** LEGO_EDIT_MODELS_DIR, or <data dir>/models. */
export function modelsDirOf(config: Pick<Config, 'modelsDir' | 'dataDir'>): string {
  return config.modelsDir ?? join(config.dataDir, 'models');
}

export function brickEnvironment(config: Pick<Config, 'modelsDir' | 'dataDir'>, logger?: Logger): BrickEnvironment {
  return { modelsDir: modelsDirOf(config), ...(logger ? { logger } : {}) };
}
