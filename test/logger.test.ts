import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';

describe('the process logger', () => {
  it('keeps a command quiet and lets a service say it is alive when no level is configured', () => {
    expect(createLogger(undefined).level).toBe('warn');
    expect(createLogger(undefined, 'service').level).toBe('info');
  });

  it('takes the level from the configuration, the config file included, for commands and services alike', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lego-logger-'));
    writeFileSync(join(dir, 'config.yaml'), 'logLevel: debug\n');
    const config = loadConfig({ LEGO_EDIT_DATA_DIR: dir });
    expect(createLogger(config.logLevel, 'service').level).toBe('debug');
    expect(createLogger(loadConfig({ LEGO_EDIT_DATA_DIR: dir, LOG_LEVEL: 'error' }).logLevel).level).toBe('error');
  });
});
