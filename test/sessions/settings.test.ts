import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_FIELDS, loadConfig } from '../../src/config.ts';
import { DEFAULT_SETTINGS, configuredSettings } from '../../src/sessions/settings.ts';

const emptyDataDir = () => mkdtempSync(join(tmpdir(), 'lego-settings-'));

describe('session settings', () => {
  it('defaults to what an unconfigured deployment gets from the config table', () => {
    const fromConfig = configuredSettings(loadConfig({ LEGO_EDIT_DATA_DIR: emptyDataDir() }));
    expect(Object.keys(fromConfig).length).toBeGreaterThan(0);
    const defaults = Object.fromEntries(Object.keys(fromConfig).map((k) => [k, DEFAULT_SETTINGS[k as keyof typeof fromConfig]]));
    expect(defaults).toEqual(fromConfig);
  });

  it('takes each configured setting from its environment variable', () => {
    const config = loadConfig({
      LEGO_EDIT_DATA_DIR: emptyDataDir(),
      [CONFIG_FIELDS.undoDepth.env]: '5',
      [CONFIG_FIELDS.turnsPerMinute.env]: '7',
      [CONFIG_FIELDS.intentTimeoutMs.env]: '1234',
    });
    expect(configuredSettings(config)).toMatchObject({ undoDepth: 5, turnsPerMinute: 7, adviceTimeoutMs: 1234 });
  });
});
