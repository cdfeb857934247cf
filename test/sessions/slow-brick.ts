/** A slow brick for catching a turn mid-run; free of vitest so child processes can load it. */
import { builtinBricks } from '../../bricks/index.ts';
import { OfflineBuilder } from '../../src/builder/offline-builder.ts';
import type { Config } from '../../src/config.ts';
import { Executor, type ExecutorOptions } from '../../src/engine/executor.ts';
import { BrickRegistry } from '../../src/engine/registry.ts';
import { silentLogger } from '../../src/logger.ts';
import type { SessionRuntime } from '../../src/sessions/index.ts';
import { delayBrick, newLog } from '../support/test-bricks.ts';

/**
 * Registers a slow test brick (only in this runtime) and makes the Builder plan
 * it for any instruction containing "slowly", so a turn can be caught mid-run.
 */
export function withSlowBrick(ms: number) {
  return (rt: SessionRuntime): void => {
    rt.registry.register(delayBrick(newLog(), 'SLOW'));
    const plan = rt.builder.plan.bind(rt.builder);
    rt.builder.plan = async (req) => {
      if (!/\bslowly\b/.test(req.instruction)) return plan(req);
      return {
        builder: 'test',
        workflow: {
          process: req.instruction,
          nodes: [
            {
              step: 1,
              brick: 'SLOW',
              inputs: { image: { kind: 'ref', source: { kind: 'init', name: 'image' } }, ms: { kind: 'literal', value: ms }, tag: { kind: 'literal', value: 5 } },
              outputs: ['image'],
            },
          ],
          results: [{ kind: 'step', step: 1, output: 'image' }],
        },
      };
    };
  };
}

/** The runtime the session tests use: built-in bricks, the offline Builder, no remote wiring, whatever the environment says. */
export function testRuntime(config: Config, executor: ExecutorOptions = {}): SessionRuntime {
  const registry = new BrickRegistry(builtinBricks());
  return {
    config,
    registry,
    executor: new Executor(registry, { logger: silentLogger, ...executor }),
    builder: new OfflineBuilder(registry),
    logger: silentLogger,
    limits: { maxBytes: config.maxImageBytes, maxPixels: config.maxImagePixels },
  };
}
