import { describe, it, expect, beforeAll } from 'vitest';
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initBackend, resolveConfig, loadModality, getModality, registerModality, ConfigError, PluginError } from '../src/index.js';
import { main as cliMain } from '../src/cli/main.js';
import { parseArgs } from '../src/cli/args.js';
import { modality as toy } from './fixtures/toy-modality.js';
import { tempDir, captureConsole } from '../src/testing.js';

const TOY = resolve(__dirname, 'fixtures/toy-modality.ts');

beforeAll(async () => {
  await initBackend('wasm');
});

describe('argument parsing and config resolution', () => {
  it('parses --k v, --k=v, bare flags and aliases', () => {
    const a = parseArgs(['pretrain', '--modality', 'vision', '--model.depth=4', '--resume', '--lr', '0.001', '--preset', 'tiny']);
    expect(a.command).toBe('pretrain');
    expect(a.meta).toEqual({ modality: 'vision', preset: 'tiny' });
    expect([...a.overrides]).toEqual([
      ['model.depth', '4'],
      ['resume', true],
      ['optim.lr', '0.001'],
    ]);
  });

  it('applies preset, then file, then flags; unknown keys and bad values name the key', () => {
    const dir = tempDir('cfg');
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ model: { depth: 2 }, optim: { lr: 0.01 } }));
    const base = { modality: 'toy', modalitySchema: toy.schema, presets: toy.presets, preset: 'tiny' };
    const c = resolveConfig({ ...base, file, overrides: new Map([['optim.lr', '0.5'], ['objective.topK', '1']]) });
    expect(c.model.depth).toBe(2);
    expect(c.model.dim).toBe(32);
    expect(c.optim.lr).toBe(0.5);
    expect(() => resolveConfig({ ...base, overrides: new Map([['model.dpth', '3']]) })).toThrow(/unknown option 'model.dpth' \(did you mean 'model.depth'\?\)/);
    expect(() => resolveConfig({ ...base, overrides: new Map([['model.depth', 'six']]) })).toThrow(/model.depth expects a number/);
    expect(() => resolveConfig({ ...base, overrides: new Map([['model.norm', 'middle']]) })).toThrow(/must be one of pre, post/);
    writeFileSync(file, JSON.stringify({ train: { stepz: 3 } }));
    expect(() => resolveConfig({ ...base, file })).toThrow(new RegExp(`config file ${file.replace(/[/.]/g, '\\$&')}: unknown option 'train.stepz'`));
    writeFileSync(file, '{ not json');
    expect(() => resolveConfig({ ...base, file })).toThrow(ConfigError);
    expect(() => resolveConfig({ ...base, preset: 'huge' })).toThrow(/no preset 'huge'/);
  });
});

describe('registry', () => {
  it('loads a plugin by path, refuses unknown names and malformed plugins', async () => {
    const m = await loadModality(TOY);
    expect(m.name).toBe('toy');
    expect(getModality('toy')).toBe(m);
    await expect(loadModality('no-such-modality')).rejects.toThrow(PluginError);
    expect(() => registerModality({ ...toy, name: 'Bad Name' })).toThrow(/lower-case/);
    expect(() => registerModality({ ...toy, name: 'half', createEncoder: undefined as never })).toThrow(/missing createEncoder/);
  });
});

describe('d2v command line', () => {
  it('--help lists every option with defaults and paper values', async () => {
    const r = await captureConsole(() => cliMain(['pretrain', '--modality', TOY, '--help']));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/--model\.depth\s+number of Transformer blocks \(default 3\) \[paper 12\]/);
    expect(r.out).toContain('--toy.maskRatio');
    expect(r.out).toContain('--objective.topK');
  });

  it('unknown options and commands fail with a message naming them', async () => {
    await expect(cliMain(['pretrain', '--modality', TOY, '--model.widht', '3'])).rejects.toThrow(/model.widht/);
    const r = await captureConsole(() => cliMain(['pretrian', '--modality', TOY]));
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown command 'pretrian'");
  });

  it('pretrain writes the resolved config next to its checkpoints', async () => {
    const out = tempDir('cli');
    const r = await captureConsole(() => cliMain(['pretrain', '--modality', TOY, '--out', out, '--steps', '3', '--train.logEvery', '1']));
    expect(r.code).toBe(0);
    expect(r.out).toContain('checkpoint:');
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(cfg.train.steps).toBe(3);
    expect(cfg.modality).toBe('toy');
    expect(existsSync(join(out, 'checkpoints'))).toBe(true);
  });
});
