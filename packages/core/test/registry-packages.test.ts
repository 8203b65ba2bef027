/**
 * How the registry finds a modality package's entry module (conditional exports, as the
 * published packages have them) and how it refuses a second copy of @d2v/core in one process.
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadModality, packageEntry } from '../src/registry/registry.js';

const CORE = fileURLToPath(new URL('..', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(CORE, 'package.json'), 'utf8')) as { version: string }).version;

describe('packageEntry', () => {
  it('follows conditional exports as Node does; from sources, "@d2v/source" picks src/', () => {
    const published = { '@d2v/source': './src/index.ts', types: './dist/index.d.ts', default: './dist/index.js' };
    // These tests run core from its TypeScript sources, so packages resolve to theirs too.
    expect(packageEntry({ exports: { '.': published, './package.json': './package.json' } })).toBe('./src/index.ts');
    expect(packageEntry({ exports: published })).toBe('./src/index.ts');
    // A third-party plugin: no d2v condition, import/default as Node picks them (first match in key order).
    expect(packageEntry({ exports: { '.': { types: './i.d.ts', require: './i.cjs', import: './i.mjs' } } })).toBe('./i.mjs');
    expect(packageEntry({ exports: { '.': { node: { import: './n.mjs' }, default: './d.js' } } })).toBe('./n.mjs');
    expect(packageEntry({ exports: { '.': [{ browser: './b.js' }, './fallback.js'] } })).toBe('./fallback.js');
    expect(packageEntry({ exports: './only.js' })).toBe('./only.js');
    expect(packageEntry({ main: './main.js' })).toBe('./main.js');
    expect(packageEntry({ exports: { '.': { require: './i.cjs' } }, main: './main.js' })).toBe('./main.js');
    expect(packageEntry({})).toBeUndefined();
  });
});

describe('loadModality by name', () => {
  it('an installed package that fails to load reports its own error, not "not installed"', async () => {
    const project = mkdtempSync(join(tmpdir(), 'd2v-broken-modality-'));
    try {
      const pkg = join(project, 'node_modules', '@d2v', 'broken');
      mkdirSync(pkg, { recursive: true });
      writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: '@d2v/broken', type: 'module', exports: { '.': { default: './index.js' }, './package.json': './package.json' }, d2v: { modality: true } }));
      writeFileSync(join(pkg, 'index.js'), "throw new Error('broken on import');\n");
      await expect(loadModality('broken', project)).rejects.toThrow("could not load modality 'broken': broken on import");
      await expect(loadModality('absent', project)).rejects.toThrow(/modality 'absent' is not installed \(tried @d2v\/absent, absent\)/);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});

describe('one @d2v/core per process', () => {
  function importTwice(first: string, second: string) {
    const code = `await import(${JSON.stringify(first)}); await import(${JSON.stringify(second)}); console.log('both loaded');`;
    return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: CORE, encoding: 'utf8', timeout: 60_000 });
  }
  const registry = pathToFileURL(join(CORE, 'src/registry/registry.ts')).href;

  it('a second copy (another folder) refuses to load, naming both copies', () => {
    const other = mkdtempSync(join(tmpdir(), 'd2v-core-copy-'));
    try {
      cpSync(join(CORE, 'src'), join(other, 'src'), { recursive: true });
      cpSync(join(CORE, 'package.json'), join(other, 'package.json'));
      const r = importTwice(registry, pathToFileURL(join(other, 'src/registry/registry.ts')).href);
      expect(r.status).not.toBe(0);
      expect(r.stdout).not.toContain('both loaded');
      expect(r.stderr).toContain(
        `PluginError: two copies of @d2v/core are loaded: ${VERSION} (${join(CORE, 'src/registry/registry.ts')}) and ${VERSION} (${join(other, 'src/registry/registry.ts')}). ` +
          'Modality packages take @d2v/core as a peer dependency',
      );
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('the same copy evaluated again (a module cache reset) is not a second copy', () => {
    const r = importTwice(registry, `${registry}?again`);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('both loaded');
  });
});
