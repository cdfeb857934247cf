/**
 * The composition root: wires bricks into a registry, an Executor over it and
 * the Builder, from configuration. Adapters and the CLI start here.
 */
import type { Logger } from 'pino';
import { brickEnvironment } from '../bricks/environment.ts';
import { builtinBricks } from '../bricks/index.ts';
import type { Builder } from './builder/builder.ts';
import type { IntentAdvisor } from './builder/intent-advisor.ts';
import { MllmBuilder } from './builder/mllm-builder.ts';
import { OfflineBuilder } from './builder/offline-builder.ts';
import { type Config, loadConfig } from './config.ts';
import { Critic } from './critic/critic.ts';
import { MllmCritic } from './critic/mllm-critic.ts';
import { Executor, type ExecutorOptions } from './engine/executor.ts';
import { BrickPool } from './engine/pool/brick-pool.ts';
import type { ImageLimits } from './engine/image-io.ts';
import { BrickRegistry } from './engine/registry.ts';
import { createLogger } from './logger.ts';
import { type RemoteWiring, wireRemoteBricks } from './remote/declared/wiring.ts';

export interface Runtime {
  readonly config: Config;
  readonly registry: BrickRegistry;
  readonly executor: Executor;
  readonly builder: Builder;
  /** The model asked what free text means, when one is configured (see INTENT_MODEL). */
  readonly intentAdvisor?: IntentAdvisor;
  /** Judges each result before it is sent: the offline checks, and the critic model when one is configured (CRITIC_MODEL). */
  readonly critic: Critic;
  readonly logger: Logger;
  readonly limits: ImageLimits;
  /** Remote and config-declared bricks (GPU hosts, ComfyUI, manifest); close() releases queue connections. */
  readonly remote: RemoteWiring;
  /** Worker threads running the CPU-heavy bricks; absent when LEGO_EDIT_BRICK_THREADS is 0. Its threads start on first use. */
  readonly pool?: BrickPool;
}

export interface RuntimeOptions {
  readonly config?: Config;
  readonly executor?: ExecutorOptions;
  readonly logger?: Logger;
  /**
   * A one-shot command (`edit`, `run`) has no other work for its event loop, and a thread would load a second
   * copy of the modules and models: its bricks run on the main thread unless LEGO_EDIT_BRICK_THREADS is set.
   */
  readonly oneShot?: boolean;
}

/** The MLLM Builder when a model is configured, else the embedded offline planner. */
export function selectBuilder(config: Config, registry: BrickRegistry, logger: Logger): Builder {
  const offline = new OfflineBuilder(registry);
  if (!config.builderModel) return offline;
  return new MllmBuilder({
    registry,
    model: config.builderModel,
    ...(config.openaiBaseUrl ? { baseURL: config.openaiBaseUrl } : {}),
    ...(config.openaiApiKey ? { apiKey: config.openaiApiKey } : {}),
    ...(config.intentModel && config.intentModel !== 'off' ? { intentModel: config.intentModel } : {}),
    maxRepairs: config.builderMaxRepairs,
    timeoutMs: config.builderTimeoutMs,
    logger,
  });
}

/** The MLLM Builder's endpoint answers what free text means, unless INTENT_MODEL is "off". */
export function selectIntentAdvisor(config: Config, builder: Builder): IntentAdvisor | undefined {
  return builder instanceof MllmBuilder && config.intentModel !== 'off' ? builder : undefined;
}

/** The offline checks, with the critic model of CRITIC_MODEL (default BUILDER_MODEL) unless it is "off" or no model is configured. */
export function selectCritic(config: Config, registry: BrickRegistry, logger: Logger): Critic {
  const model = config.criticModel ?? config.builderModel;
  if (!model || model === 'off') return new Critic(registry);
  return new Critic(
    registry,
    new MllmCritic({
      model,
      ...(config.openaiBaseUrl ? { baseURL: config.openaiBaseUrl } : {}),
      ...(config.openaiApiKey ? { apiKey: config.openaiApiKey } : {}),
      timeoutMs: config.criticTimeoutMs,
      logger,
    }),
  );
}

export function createRuntime(options: RuntimeOptions = {}): Runtime {
  const config = options.config ?? loadConfig();
  const logger = options.logger ?? createLogger(config.logLevel);
  const env = brickEnvironment(config, logger);
  const builtins = builtinBricks(env);
  const registry = new BrickRegistry(builtins);
  // Remote wiring: GPU-only built-ins go to the configured worker; manifest bricks join (and may replace) the built-ins.
  const remote = wireRemoteBricks(registry, config, logger);
  // The pool serves the built-in declarations only: a remote stand-in registered under the same name runs where it was wired.
  const threads = options.oneShot && config.brickThreads === undefined ? 0 : config.brickThreads;
  const pool = threads === 0 ? undefined : new BrickPool({ bricks: builtins, threads, ...(env.modelsDir ? { modelsDir: env.modelsDir } : {}), logger });
  const executor = new Executor(registry, { logger, ...(pool ? { pool } : {}), ...options.executor });
  const limits = { maxBytes: config.maxImageBytes, maxPixels: config.maxImagePixels, maxSide: config.maxImageSide };
  const builder = selectBuilder(config, registry, logger);
  const intentAdvisor = selectIntentAdvisor(config, builder);
  const critic = selectCritic(config, registry, logger);
  return { config, registry, executor, builder, ...(intentAdvisor ? { intentAdvisor } : {}), critic, logger, limits, remote, ...(pool ? { pool } : {}) };
}
