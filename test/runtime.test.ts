import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinBricks } from '../bricks/index.ts';
import { MllmBuilder } from '../src/builder/mllm-builder.ts';
import { OfflineBuilder } from '../src/builder/offline-builder.ts';
import { loadConfig } from '../src/config.ts';
import { BrickRegistry } from '../src/engine/registry.ts';
import { silentLogger } from '../src/logger.ts';
import { selectBuilder, selectIntentAdvisor } from '../src/runtime.ts';

function chosen(env: Record<string, string>) {
  const config = loadConfig({ LEGO_EDIT_DATA_DIR: mkdtempSync(join(tmpdir(), 'lego-runtime-')), ...env });
  const builder = selectBuilder(config, new BrickRegistry(builtinBricks()), silentLogger);
  return { builder, advisor: selectIntentAdvisor(config, builder) };
}

describe('runtime wiring', () => {
  it('plans offline and classifies deterministically when no model is configured', () => {
    const { builder, advisor } = chosen({});
    expect(builder).toBeInstanceOf(OfflineBuilder);
    expect(advisor).toBeUndefined();
  });

  it('asks the Builder’s endpoint about free text when a model is configured, unless INTENT_MODEL is off', () => {
    const on = chosen({ BUILDER_MODEL: 'lego-edit-builder', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' });
    expect(on.builder).toBeInstanceOf(MllmBuilder);
    expect(on.advisor).toBe(on.builder);
    expect(chosen({ BUILDER_MODEL: 'lego-edit-builder', INTENT_MODEL: 'off' }).advisor).toBeUndefined();
  });
});
