/**
 * The modality and backend registries: a name is registered once (a second registration is
 * refused, naming where the first came from, unless asked to replace), and the `backend` option's
 * choices are the registered backends.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initBackend, activeBackend, registerBackend, registeredBackends, registerModality, getModality, loadModality, resolveConfig, runCli, EXIT, ConfigError, PluginError } from '../src/index.js';
import { main as cliMain } from '../src/cli/main.js';
import { captureConsole, tempDir } from '../src/testing.js';
import { modality as toy } from './fixtures/toy-modality.js';

const TOY = resolve(__dirname, 'fixtures/toy-modality.ts');

/** The d2v command in-process (its exit code and output), leaving process.exitCode as it was. */
async function d2v(...argv: string[]) {
  const exitCode = process.exitCode;
  try {
    return await captureConsole(() => runCli(argv));
  } finally {
    process.exitCode = exitCode;
  }
}

/** A backend that starts tfjs's cpu backend under another name, counting its loads. */
function cpuUnder(): { load: () => Promise<void>; tfName: string; priority: number; loads: number } {
  const entry = {
    loads: 0,
    load: async () => {
      entry.loads++;
      await import('@tensorflow/tfjs-backend-cpu');
    },
    tfName: 'cpu',
    priority: 1,
  };
  return entry;
}

beforeAll(async () => {
  await initBackend('wasm');
});
afterAll(async () => {
  await initBackend('wasm');
});

describe('registerModality', () => {
  it('refuses a second modality under a taken name, naming where the first was registered; the same object again changes nothing', () => {
    const first = { ...toy, name: 'dup' };
    registerModality(first);
    registerModality(first);
    expect(getModality('dup')).toBe(first);
    const err = (() => {
      try {
        registerModality({ ...toy, name: 'dup' });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(PluginError);
    expect(err!.message).toMatch(/^modality 'dup' is already registered \(by [^)]*registries\.test\.ts:\d+\); a second modality of that name \(from [^)]*registries\.test\.ts:\d+\) is refused/);
    expect(err!.message).toContain('{ replace: true }');
    expect(getModality('dup')).toBe(first);
  });

  it('replaces when asked to', () => {
    const first = { ...toy, name: 'swap' };
    const second = { ...toy, name: 'swap', description: 'the second' };
    registerModality(first);
    registerModality(second, { replace: true });
    expect(getModality('swap')).toBe(second);
  });
});

describe('registerBackend', () => {
  it("refuses a second backend under a taken name (a built-in one names backend/registry.ts), and the name 'auto'", () => {
    expect(() => registerBackend('wasm', cpuUnder())).toThrow(PluginError);
    expect(() => registerBackend('wasm', cpuUnder())).toThrow(/^backend 'wasm' is already registered \(by [^)]*backend[/\\]registry\.ts:\d+\)/);
    expect(() => registerBackend('auto', cpuUnder())).toThrow(/backend name 'auto' must be .* not 'auto'/);
    expect(() => registerBackend('My GPU', cpuUnder())).toThrow(PluginError);
    expect(registeredBackends()).toEqual(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
  });

  it('the same entry again changes nothing; replace: true puts the second in its place', async () => {
    const first = cpuUnder();
    const second = cpuUnder();
    registerBackend('swap-cpu', first);
    registerBackend('swap-cpu', first);
    expect(() => registerBackend('swap-cpu', second)).toThrow(/backend 'swap-cpu' is already registered \(by [^)]*registries\.test\.ts:\d+\)/);
    registerBackend('swap-cpu', second, { replace: true });
    expect(await initBackend('swap-cpu')).toBe('swap-cpu');
    expect([first.loads, second.loads]).toEqual([0, 1]);
    await initBackend('wasm');
  });
});

describe('the backend option takes its choices from the registry', () => {
  const resolveWith = (backend: string) =>
    resolveConfig({ modality: 'toy', modalitySchema: toy.schema, presets: toy.presets, preset: 'tiny', overrides: new Map([['backend', backend]]) });

  it('a newly registered backend is selectable, listed by --help and d2v info, and starts', async () => {
    registerBackend('toy-cpu', cpuUnder());
    expect(resolveWith('toy-cpu').backend).toBe('toy-cpu');
    const help = await captureConsole(() => cliMain(['pretrain', '--help']));
    expect(help.out).toMatch(/--backend\s+.*\{auto\|tensorflow-gpu\|tensorflow\|wasm\|cpu\|[^}]*\btoy-cpu\}/);
    const info = await d2v('info', '--backend', 'toy-cpu');
    expect(info.code).toBe(EXIT.ok);
    expect(info.out).toMatch(/^backend: toy-cpu /);
    expect(info.out).toMatch(/^registered backends: tensorflow-gpu, tensorflow, wasm, cpu, .*\btoy-cpu \(--backend auto tries them in this order\)$/m);
    expect(activeBackend()).toBe('toy-cpu');
    expect(tf.getBackend()).toBe('cpu');
    await initBackend('wasm');
  });

  it('an unknown backend is refused while the config is resolved, naming the choices (and the likely one)', () => {
    const err = (() => {
      try {
        resolveWith('wsam');
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.key).toBe('backend');
    expect(err!.message).toMatch(/option backend must be one of auto, tensorflow-gpu, tensorflow, wasm, cpu\b.*; got 'wsam' \(did you mean 'wasm'\?\)/);
  });

  it('D2V_BACKEND sets a run\'s backend unless --backend does; a wrong value names the variable', () => {
    const resolveDefault = () => resolveConfig({ modality: 'toy', modalitySchema: toy.schema, presets: toy.presets, preset: 'tiny' });
    expect(resolveDefault().backend).toBe('wasm');
    process.env['D2V_BACKEND'] = 'cpu';
    try {
      expect(resolveDefault().backend).toBe('cpu');
      expect(resolveWith('wasm').backend).toBe('wasm');
      process.env['D2V_BACKEND'] = 'wsam';
      expect(resolveDefault).toThrow(/environment variable D2V_BACKEND: option backend must be one of auto, .*; got 'wsam' \(did you mean 'wasm'\?\)/);
    } finally {
      delete process.env['D2V_BACKEND'];
    }
  });

  it('initBackend refuses an unknown name the same way, saying when it came from D2V_BACKEND', async () => {
    await expect(initBackend('cpux')).rejects.toThrow(ConfigError);
    await expect(initBackend('cpux')).rejects.toThrow(/^unknown backend 'cpux': choose one of auto, tensorflow-gpu, tensorflow, wasm, cpu\b.* \(did you mean 'cpu'\?\)$/);
    process.env['D2V_BACKEND'] = 'nope';
    try {
      await expect(initBackend()).rejects.toThrow(/^unknown backend 'nope' \(from D2V_BACKEND\): choose one of auto, /);
    } finally {
      delete process.env['D2V_BACKEND'];
    }
    expect(activeBackend()).toBe('wasm');
  });

  it('d2v pretrain --backend with a misspelt name: one line, exit 2, nothing written', async () => {
    const out = join(tempDir('backend-typo'), 'run');
    const r = await d2v('pretrain', '--modality', TOY, '--backend', 'wsam', '--out', out, '--steps', '1');
    expect(r.code).toBe(EXIT.usage);
    expect(r.err.split('\n')).toEqual([expect.stringMatching(/^d2v: ConfigError: command line: option backend must be one of auto, .*; got 'wsam' \(did you mean 'wasm'\?\)$/)]);
    expect(existsSync(out)).toBe(false);
  });
});

// Last: it takes the name 'toy', which the command-line test above loads as a plugin.
describe('loadModality', () => {
  it('a plugin whose modality name is taken by another object is refused, naming both', async () => {
    // The command line above loaded the plugin: its file is named as the registrant.
    expect(() => registerModality({ ...toy })).toThrow(`modality 'toy' is already registered (by ${TOY})`);
    registerModality({ ...toy, description: 'registered under toy before the plugin loads again' }, { replace: true });
    const err = await loadModality(TOY).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(PluginError);
    expect((err as Error).message).toMatch(/^modality 'toy' is already registered \(by [^)]*registries\.test\.ts:\d+\); a second modality of that name \(from [^)]*toy-modality\.ts\) is refused/);
  });
});
