/**
 * Renamed options (config/renamed.ts): a stored config written with an old name is read under
 * the new one, nothing lost; an old name a user gives is an error naming the new one; a
 * modality that still declares the old name keeps it.
 */
import { describe, it, expect } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, RENAMED_KEYS, int, opt, resolveConfig, resolveStoredConfig, type Schema } from '../src/index.js';
import { readConfigFile } from '../src/config/resolve.js';
import { migrateRenamedKeys, renamedTo } from '../src/config/renamed.js';
import { migrateStoredConfig, optionKeys, fullSchema } from '../src/config/resolve.js';
import { tempDir } from '../src/testing.js';

/** A modality with today's masking names (as speech declares them). */
const schema = {
  masking: {
    startProb: opt(0.065, 'span starts'),
    spanLength: int(10, 'steps per span'),
    ratio: opt(0, 'exact fraction', { min: 0, lt: 1 }),
    minSpans: int(2, 'least spans'),
  },
} satisfies Schema;
const modality = { name: 'renamed-test', schema, presets: { tiny: { masking: { spanLength: 5 } } }, defaultPreset: 'tiny' };
const known = optionKeys(fullSchema(schema));
const resolve = (overrides: Record<string, unknown> = {}, file?: string) =>
  resolveConfig({ modality: modality.name, modalitySchema: schema, presets: modality.presets, preset: 'tiny', file, overrides: new Map(Object.entries(overrides)) });

describe('the renamed-options table', () => {
  it('maps each old name to an option of the unified masking section', () => {
    for (const [from, to] of Object.entries(RENAMED_KEYS)) {
      expect(to).toMatch(/^masking\./);
      expect(from).not.toBe(to);
    }
    expect(RENAMED_KEYS['vision.maskRatio']).toBe('masking.ratio');
    expect(RENAMED_KEYS['masking.maskProb']).toBe('masking.startProb');
  });

  it('applies only where the old name is not an option and the new one is', () => {
    expect(renamedTo('masking.maskProb', known)).toBe('masking.startProb');
    // A modality that still declares the old name keeps it; one without the new name gets no hint.
    expect(renamedTo('masking.maskProb', new Set([...known, 'masking.maskProb']))).toBeUndefined();
    expect(renamedTo('vision.maskRatio', new Set(['model.dim']))).toBeUndefined();
    expect(renamedTo('model.dim', known)).toBeUndefined();
  });
});

describe('a stored config with old names', () => {
  const stored = { modality: modality.name, preset: 'tiny', seed: 3, masking: { maskProb: 0.11, spanLength: 5, minMasks: 4, exactFraction: 0.5 } };

  it('is read under the new names, values kept, the move logged (loadModel, predict, embed, export)', () => {
    const logs: string[] = [];
    const c = resolveStoredConfig(modality, stored, 'run/config.json', (m) => logs.push(m));
    expect(c.masking).toEqual({ startProb: 0.11, spanLength: 5, ratio: 0.5, minSpans: 4 });
    expect(c.seed).toBe(3);
    expect(logs.join('\n')).toContain('run/config.json: reading renamed options under their new names: masking.maskProb -> masking.startProb');
    expect(logs.join('\n')).not.toMatch(/ignoring options/);
  });

  it('compares equal to the config resolved today (--resume)', () => {
    const today = resolve({ seed: 3, 'masking.startProb': 0.11, 'masking.minSpans': 4, 'masking.ratio': 0.5 });
    const migrated = migrateStoredConfig(stored, new Set(known));
    expect(migrated['masking']).toEqual(today.masking);
    // Nothing renamed: the stored object itself.
    const current = { modality: modality.name, masking: { startProb: 0.1 } };
    expect(migrateStoredConfig(current, known)).toBe(current);
  });

  it('given as --config (a saved run config.json) is migrated; a hand-written file with an old name is refused', () => {
    const dir = tempDir('renamed');
    const saved = join(dir, 'config.json');
    writeFileSync(saved, JSON.stringify(stored));
    expect(resolve({}, saved).masking).toMatchObject({ startProb: 0.11, ratio: 0.5, minSpans: 4 });
    expect(readConfigFile(saved, known).get('masking.startProb')).toBe(0.11);
    const handWritten = join(dir, 'mine.json');
    writeFileSync(handWritten, JSON.stringify({ masking: { maskProb: 0.2 } }));
    expect(() => resolve({}, handWritten)).toThrow(`config file ${handWritten}: option 'masking.maskProb' was renamed to 'masking.startProb'; use --masking.startProb`);
  });

  it('moves no key onto a value already stored under the new name', () => {
    const flat = new Map<string, unknown>([['masking.maskProb', 0.2], ['masking.startProb', 0.3]]);
    expect(migrateRenamedKeys(flat, known)).toEqual([]);
    expect([...flat]).toEqual([['masking.maskProb', 0.2], ['masking.startProb', 0.3]]);
  });
});

describe('an old name given by a user', () => {
  it('is a ConfigError naming the new option', () => {
    let err: unknown;
    try {
      resolve({ 'masking.exactFraction': 0.5 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).key).toBe('masking.ratio');
    expect((err as ConfigError).message).toBe("command line: option 'masking.exactFraction' was renamed to 'masking.ratio'; use --masking.ratio");
  });

  it('in the preset of a plugin written in JavaScript (TypeScript refuses it at compile time)', () => {
    const presets = JSON.parse('{ "old": { "masking": { "minMasks": 1 } } }');
    expect(() => resolveConfig({ modality: modality.name, modalitySchema: schema, presets, preset: 'old' })).toThrow(
      "preset 'old' of renamed-test: option 'masking.minMasks' was renamed to 'masking.minSpans'",
    );
  });
});
