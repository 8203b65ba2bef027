/**
 * Modality registry: packages call registerModality() when imported;
 * loadModality('vision') imports @d2v/vision, loadModality('./my-plugin')
 * imports a user's package or file. Core itself names no modality.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PluginError } from '../errors.js';
import { suggestKey } from '../config/schema.js';
import type { AnyModality } from './modality.js';
import { Registrations, callerOf, type RegisterOptions } from './registrations.js';

/**
 * One @d2v/core per process. A second copy (say a nested node_modules/@d2v/core of another
 * version, pulled in by a modality package) would hold its own registry, so the modality would
 * register where the d2v command never looks, and its errors and modules would be another
 * copy's classes. The first copy to load claims a global key; a second refuses to load.
 */
function claimSingleCopy(): void {
  const key = Symbol.for('@d2v/core');
  const here = fileURLToPath(import.meta.url);
  const version = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
  const holder = globalThis as { [key]?: { file: string; version: string } };
  const first = holder[key];
  if (first && first.file !== here) {
    throw new PluginError(
      `two copies of @d2v/core are loaded: ${first.version} (${first.file}) and ${version} (${here}). ` +
        'Modality packages take @d2v/core as a peer dependency, so one copy must serve them all: ' +
        '`npm ls @d2v/core` shows which package brings the second; install versions that agree.',
    );
  }
  holder[key] = { file: here, version };
}
claimSingleCopy();

const modalities = new Registrations<AnyModality>('modality');

const REQUIRED: (keyof AnyModality)[] = ['name', 'schema', 'presets', 'defaultPreset', 'createEncoder', 'createMasker', 'createData'];

/** Registers a modality under its name; a second one under a taken name is refused unless `opts.replace`. */
export function registerModality(m: AnyModality, opts: RegisterOptions = {}): void {
  addModality(m, opts, callerOf(registerModality));
}

/** registerModality, with where the registration comes from (the caller's file:line, or the plugin loadModality imported). */
function addModality(m: AnyModality, opts: RegisterOptions, by: string | undefined): void {
  const missing = REQUIRED.filter((k) => m[k] === undefined);
  if (missing.length) throw new PluginError(`modality ${m.name ?? '(unnamed)'} is missing ${missing.join(', ')}`);
  if (!/^[a-z][a-z0-9-]*$/.test(m.name)) throw new PluginError(`modality name '${m.name}' must be lower-case letters, digits and dashes`);
  if (!m.presets[m.defaultPreset]) throw new PluginError(`modality ${m.name}: default preset '${m.defaultPreset}' is not among its presets`);
  modalities.add(m.name, m, opts, by);
}

export function getModality(name: string): AnyModality {
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

function isModality(x: unknown): x is AnyModality {
  return !!x && typeof x === 'object' && typeof (x as AnyModality).name === 'string' && typeof (x as AnyModality).createEncoder === 'function';
}

/**
 * Loads a modality by name or path. A path (starting with . or /) may be a
 * file or a package folder; a name is tried as `@d2v/<name>` and then as a
 * package name. The module registers itself or exports `modality`/default.
 */
export async function loadModality(spec: string, cwd = process.cwd()): Promise<AnyModality> {
  if (modalities.has(spec)) return modalities.get(spec)!;
  const before = new Set(modalities.keys());
  let mod: Record<string, unknown>;
  // What registers an exported modality: the plugin file, or the package name.
  let source = spec;
  const isPath = spec.startsWith('.') || spec.startsWith('/');
  try {
    if (isPath) {
      const p = resolve(cwd, spec);
      if (!existsSync(p)) throw new PluginError(`modality plugin ${p} does not exist`);
      let entry = p;
      if (statSync(p).isDirectory()) {
        const pkgFile = join(p, 'package.json');
        const pkg = existsSync(pkgFile) ? (JSON.parse(readFileSync(pkgFile, 'utf8')) as PackageMeta) : {};
        entry = join(p, packageEntry(pkg) ?? 'src/index.ts');
      }
      mod = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
      source = entry;
    } else {
      mod = await importByName(spec, cwd);
    }
  } catch (err) {
    if (err instanceof PluginError) throw err;
    throw new PluginError(`could not load modality '${spec}': ${(err as Error).message}`, { cause: err });
  }
  // The same object again changes nothing; another under a taken name is refused, naming both.
  for (const cand of [mod['modality'], mod['default']]) if (isModality(cand)) addModality(cand, {}, source);
  const added = [...modalities.keys()].filter((k) => !before.has(k));
  const found = added[0] ?? (isModality(mod['modality']) ? (mod['modality'] as AnyModality).name : isModality(mod['default']) ? (mod['default'] as AnyModality).name : spec);
  if (!modalities.has(found)) throw new PluginError(`'${spec}' loaded but registered no modality (export \`modality\` or call registerModality)`);
  return modalities.get(found)!;
}

interface PackageMeta {
  main?: string;
  exports?: unknown;
  d2v?: { modality?: boolean };
}

/**
 * Export conditions a modality package is imported under. When this core runs from its
 * TypeScript sources (a repo checkout), "@d2v/source" comes first, as it does for every other
 * import there: packages are loaded from src/ like this one, never from a stale dist/.
 */
const IMPORT_CONDITIONS = [...(import.meta.url.endsWith('.ts') ? ['@d2v/source'] : []), 'import', 'node', 'default'];

/** The file a conditional export target selects, by Node's rule: the first key, in order, that is an active condition. */
function exportTarget(target: unknown): string | undefined {
  if (typeof target === 'string') return target;
  if (Array.isArray(target)) return target.map(exportTarget).find((t) => t !== undefined);
  if (target && typeof target === 'object') {
    for (const [condition, sub] of Object.entries(target)) {
      if (!IMPORT_CONDITIONS.includes(condition)) continue;
      const t = exportTarget(sub);
      if (t !== undefined) return t;
    }
  }
  return undefined;
}

/** The package's main module: its "." export (a string, a conditions object, or a subpath map) or else `main`. */
export function packageEntry(meta: PackageMeta): string | undefined {
  const exp = meta.exports;
  const isSubpathMap = !!exp && typeof exp === 'object' && !Array.isArray(exp) && Object.keys(exp).some((k) => k.startsWith('.'));
  return exportTarget(isSubpathMap ? (exp as Record<string, unknown>)['.'] : exp) ?? meta.main;
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
    const entry = join(pkgJson.slice(0, -'package.json'.length), packageEntry(meta) ?? 'index.js');
    // Installed: a failure from here on is the package's own (say a second @d2v/core), not a missing package.
    return (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
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
