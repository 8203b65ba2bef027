/**
 * Modality registry: packages call registerModality() when imported;
 * loadModality('vision') imports @d2v/vision, loadModality('./my-plugin')
 * imports a user's package or file. Core itself names no modality.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PluginError } from '../errors.js';
import { suggestKey } from '../config/schema.js';
import type { Modality } from './modality.js';

const modalities = new Map<string, Modality>();

const REQUIRED: (keyof Modality)[] = ['name', 'schema', 'presets', 'defaultPreset', 'createEncoder', 'createMasker', 'createData'];

export function registerModality(m: Modality): void {
  const missing = REQUIRED.filter((k) => m[k] === undefined);
  if (missing.length) throw new PluginError(`modality ${m.name ?? '(unnamed)'} is missing ${missing.join(', ')}`);
  if (!/^[a-z][a-z0-9-]*$/.test(m.name)) throw new PluginError(`modality name '${m.name}' must be lower-case letters, digits and dashes`);
  if (!m.presets[m.defaultPreset]) throw new PluginError(`modality ${m.name}: default preset '${m.defaultPreset}' is not among its presets`);
  modalities.set(m.name, m);
}

export function getModality(name: string): Modality {
  const m = modalities.get(name);
  if (!m) {
    const known = [...modalities.keys()];
    throw new PluginError(`no modality '${name}' is registered${known.length ? ` (registered: ${known.join(', ')})` : ''}; load it with --modality NAME or ./path`);
  }
  return m;
}

export function registeredModalities(): string[] {
  return [...modalities.keys()];
}

function isModality(x: unknown): x is Modality {
  return !!x && typeof x === 'object' && typeof (x as Modality).name === 'string' && typeof (x as Modality).createEncoder === 'function';
}

/**
 * Loads a modality by name or path. A path (starting with . or /) may be a
 * file or a package folder; a name is tried as `@d2v/<name>` and then as a
 * package name. The module registers itself or exports `modality`/default.
 */
export async function loadModality(spec: string, cwd = process.cwd()): Promise<Modality> {
  if (modalities.has(spec)) return modalities.get(spec)!;
  const before = new Set(modalities.keys());
  let mod: Record<string, unknown>;
  const isPath = spec.startsWith('.') || spec.startsWith('/');
  try {
    if (isPath) {
      const p = resolve(cwd, spec);
      if (!existsSync(p)) throw new PluginError(`modality plugin ${p} does not exist`);
      let entry = p;
      if (statSync(p).isDirectory()) {
        const pkgFile = join(p, 'package.json');
        const pkg = existsSync(pkgFile) ? (JSON.parse(readFileSync(pkgFile, 'utf8')) as { main?: string; exports?: unknown }) : {};
        const exp = typeof pkg.exports === 'string' ? pkg.exports : (pkg.exports as Record<string, unknown> | undefined)?.['.'];
        entry = join(p, typeof exp === 'string' ? exp : (pkg.main ?? 'src/index.ts'));
      }
      mod = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
    } else {
      mod = await importByName(spec, cwd);
    }
  } catch (err) {
    if (err instanceof PluginError) throw err;
    throw new PluginError(`could not load modality '${spec}': ${(err as Error).message}`, { cause: err });
  }
  for (const cand of [mod['modality'], mod['default']]) if (isModality(cand) && !modalities.has(cand.name)) registerModality(cand);
  const added = [...modalities.keys()].filter((k) => !before.has(k));
  const found = added[0] ?? (isModality(mod['modality']) ? (mod['modality'] as Modality).name : isModality(mod['default']) ? (mod['default'] as Modality).name : spec);
  if (!modalities.has(found)) throw new PluginError(`'${spec}' loaded but registered no modality (export \`modality\` or call registerModality)`);
  return modalities.get(found)!;
}

interface PackageMeta {
  main?: string;
  exports?: unknown;
  d2v?: { modality?: boolean };
}

/**
 * Imports an installed modality package by name: `@d2v/<name>`, else `<name>`. Only packages whose
 * package.json declares `"d2v": { "modality": true }` are imported: `--modality semver` must not
 * run an arbitrary installed package.
 */
async function importByName(name: string, cwd: string): Promise<Record<string, unknown>> {
  const req = createRequire(join(cwd, 'noop.js'));
  const tries = name.includes('/') ? [name] : [`@d2v/${name}`, name];
  for (const pkg of tries) {
    let pkgJson: string;
    try {
      pkgJson = req.resolve(`${pkg}/package.json`);
    } catch {
      continue;
    }
    const meta = JSON.parse(readFileSync(pkgJson, 'utf8')) as PackageMeta;
    if (!meta.d2v?.modality) {
      throw new PluginError(`package ${pkg} is not a d2v modality (its package.json does not declare "d2v": { "modality": true })${installedHint(cwd)}`);
    }
    const dir = pkgJson.slice(0, -'package.json'.length);
    const exp = typeof meta.exports === 'string' ? meta.exports : (meta.exports as Record<string, unknown> | undefined)?.['.'];
    return (await import(pathToFileURL(join(dir, typeof exp === 'string' ? exp : (meta.main ?? 'index.js'))).href)) as Record<string, unknown>;
  }
  const hint = suggestKey(name, [...new Set([...discoverModalities(cwd), ...modalities.keys()])]);
  if (hint) throw new PluginError(`modality '${name}' is not installed; did you mean '${hint}'?${installedHint(cwd)}`);
  throw new PluginError(`modality '${name}' is not installed (tried ${tries.join(', ')})${installedHint(cwd)}; install @d2v/${name}, or pass a plugin's path (./my-plugin)`);
}

/** "; installed modalities: speech, text, vision" (or nothing when none are found). */
function installedHint(cwd: string): string {
  const found = discoverModalities(cwd);
  return found.length ? `; installed modalities: ${found.join(', ')}` : '';
}

/** Names of installed @d2v/* packages that declare `"d2v": { "modality": true }` in package.json. */
export function discoverModalities(cwd = process.cwd()): string[] {
  const found = new Set<string>();
  let dir = resolve(cwd);
  for (;;) {
    const scope = join(dir, 'node_modules', '@d2v');
    if (existsSync(scope)) {
      for (const name of readdirSync(scope)) {
        try {
          const meta = JSON.parse(readFileSync(join(scope, name, 'package.json'), 'utf8')) as { d2v?: { modality?: boolean } };
          if (meta.d2v?.modality) found.add(name);
        } catch {
          // Not a package folder: nothing to discover.
        }
      }
    }
    const parent = resolve(dir, '..');
    if (parent === dir) break;
    dir = parent;
  }
  return [...found].sort();
}
