import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { createLogger, serialiseError } from '../src/logger.ts';

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

  it('logs a failed database query by its driver message and SQLSTATE, never its SQL or parameters (the user’s text)', () => {
    const cause = Object.assign(new Error('could not extend file "base/5/16473": No space left on device'), { code: '53100' });
    const query = Object.assign(new Error('Failed query: insert into "turns" ("text") values ($1)\nparams: my secret holiday photo'), { cause });
    const logged = JSON.stringify(serialiseError(query));
    expect(JSON.parse(logged)).toEqual({ type: 'DatabaseQueryError', message: 'could not extend file "base/5/16473": No space left on device', code: '53100' });
    expect(logged).not.toContain('secret');
    expect((serialiseError(new Error('plain')) as { message: string; stack: string }).stack).toMatch(/^Error: plain\n\s+at /);
  });
});

