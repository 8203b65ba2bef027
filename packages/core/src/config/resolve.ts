/** Builds a run's resolved config: schema defaults -> preset -> JSON file -> command-line flags. */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { CORE_SCHEMA } from './coreSchema.js';
import { applyOverrides, defaultsOf, flattenSchema, flattenTree, mergeSchemas, type ConfigOf, type DeepPartial, type Schema } from './schema.js';
import { migrateRenamedKeys } from './renamed.js';
import { checkPhaseRatios } from '../optim/schedule.js';

/**
 * The resolved config of a run, as core's schema declares it (CORE_SCHEMA): one declaration,
 * no hand-written copy. A modality's config adds its own sections: `ResolvedConfigOf<typeof schema>`.
 */
export type ResolvedConfig = { modality: string; preset: string } & ConfigOf<typeof CORE_SCHEMA>;

/**
 * The resolved config of a modality: core's options and the sections of the modality's schema.
 * (`any` for a schema of type `any`: an `AnyModality`, whose types core erases at the boundary.)
 */
export type ResolvedConfigOf<S extends Schema> = 0 extends 1 & S ? any : ResolvedConfig & ConfigOf<S>;

/** A preset of a config: any of its options (not `modality`, `preset`), nested by section, all optional. */
export type PresetOf<C> = DeepPartial<Omit<C, 'modality' | 'preset'>>;

/** A modality's named presets, typed by its schema: a misspelt or mistyped key fails to compile. */
export type PresetsOf<S extends Schema> = Record<string, PresetOf<ResolvedConfigOf<S>>>;

export type ObjectiveConfig = ResolvedConfig['objective'];
export type DecoderConfig = ObjectiveConfig['decoder'];
export type OptimConfig = ResolvedConfig['optim'];
export type TrainConfig = ResolvedConfig['train'];

export interface ResolveOptions<S extends Schema = {}> {
  modality: string;
  modalitySchema: S;
  presets: Readonly<PresetsOf<S>>;
  preset: string;
  /** JSON config file (nested or dotted keys). */
  file?: string;
  /** Dotted-key overrides from the command line (string values are coerced). */
  overrides?: Map<string, unknown>;
  /** The modality's cross-field checks (Modality.validateConfig), run after core's. */
  validate?: (config: ResolvedConfigOf<S>) => void;
}

export function fullSchema(modalitySchema: Schema): Schema {
  return mergeSchemas(CORE_SCHEMA, modalitySchema);
}

/** The dotted keys of a schema (core's options and a modality's), to tell known options from renamed ones. */
export function optionKeys(schema: Schema): Set<string> {
  return new Set(flattenSchema(schema).keys());
}

/**
 * A JSON config file's options as dotted keys. A saved run's config.json (it names its modality)
 * written before an option was renamed has its old keys moved to the new ones (options `known`).
 */
export function readConfigFile(file: string, known?: ReadonlySet<string>): Map<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${file} must hold a JSON object`);
  }
  const flat = flattenTree(parsed);
  if (known && flat.has('modality')) migrateRenamedKeys(flat, known);
  // A saved resolved config names its modality/preset; those are chosen on the command line, not here.
  flat.delete('modality');
  flat.delete('preset');
  return flat;
}

/** The config of a run of the modality whose schema is `o.modalitySchema`, typed by that schema. */
export function resolveConfig<S extends Schema>(o: ResolveOptions<S>): ResolvedConfigOf<S> {
  const schema = fullSchema(o.modalitySchema);
  const preset = o.presets[o.preset];
  if (!preset) {
    throw new ConfigError(`modality ${o.modality} has no preset '${o.preset}'; presets: ${Object.keys(o.presets).join(', ')}`, 'preset');
  }
  let cfg = defaultsOf(schema);
  cfg = applyOverrides(cfg, schema, flattenTree(preset), `preset '${o.preset}' of ${o.modality}`);
  // D2V_BACKEND picks the backend of every run unless a config file or --backend does.
  const envBackend = process.env['D2V_BACKEND']?.trim();
  if (envBackend) cfg = applyOverrides(cfg, schema, new Map([['backend', envBackend]]), 'environment variable D2V_BACKEND');
  if (o.file) cfg = applyOverrides(cfg, schema, readConfigFile(o.file, optionKeys(schema)), `config file ${o.file}`);
  if (o.overrides) cfg = applyOverrides(cfg, schema, o.overrides, 'command line');
  // The one place the config gets its type: every key and value was just checked against the schema.
  const out = { modality: o.modality, preset: o.preset, ...cfg } as unknown as ResolvedConfigOf<S>;
  validate(out);
  o.validate?.(out);
  return out;
}

/** What resolveStoredConfig needs of a modality. */
export interface StoredConfigModality<S extends Schema> {
  readonly name: string;
  readonly schema: S;
  readonly presets: Readonly<PresetsOf<S>>;
  readonly defaultPreset: string;
}

/**
 * The config of a trained run from its stored config.json (`stored`, read from `file`), resolved
 * again through the modality's schema: options renamed since are moved to their new names,
 * options added since get their defaults, options the modality no longer has are left out (both
 * logged).
 */
export function resolveStoredConfig<S extends Schema>(modality: StoredConfigModality<S>, stored: Record<string, unknown>, file: string, log: (m: string) => void): ResolvedConfigOf<S> {
  const flat = flattenTree(stored);
  flat.delete('modality');
  flat.delete('preset');
  const known = optionKeys(fullSchema(modality.schema));
  const moved = migrateRenamedKeys(flat, known);
  if (moved.length) log(`d2v: ${file}: reading renamed options under their new names: ${moved.join(', ')}`);
  const dropped = [...flat.keys()].filter((k) => !known.has(k));
  for (const k of dropped) flat.delete(k);
  if (dropped.length) log(`d2v: ${file}: ignoring options ${modality.name} no longer has: ${dropped.join(', ')}`);
  const preset = typeof stored['preset'] === 'string' && modality.presets[stored['preset']] ? stored['preset'] : modality.defaultPreset;
  return resolveConfig({ modality: modality.name, modalitySchema: modality.schema, presets: modality.presets, preset, overrides: flat });
}

/** A stored (nested) config with its renamed keys moved, for comparing with a config resolved today. */
export function migrateStoredConfig(stored: Record<string, unknown>, known: ReadonlySet<string>): Record<string, unknown> {
  const flat = flattenTree(stored);
  if (migrateRenamedKeys(flat, known).length === 0) return stored;
  const out: Record<string, unknown> = {};
  for (const [key, value] of flat) {
    const parts = key.split('.');
    let section = out;
    for (const part of parts.slice(0, -1)) {
      const next = section[part];
      const child: Record<string, unknown> = isSection(next) ? next : {};
      section = section[part] = child;
    }
    section[parts[parts.length - 1]!] = value;
  }
  return out;
}

function isSection(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/**
 * Checks that span several options. Single-option ranges are declared in the schema and checked
 * as each value is applied; everything here runs before a run writes anything.
 */
function validate(c: ResolvedConfig): void {
  const m = c.model;
  if (m.dim % m.heads !== 0) throw new ConfigError(`model.dim (${m.dim}) must be divisible by model.heads (${m.heads})`, 'model.heads');
  if (c.objective.topK > m.depth) {
    throw new ConfigError(`objective.topK (${c.objective.topK}) exceeds model.depth (${m.depth})`, 'objective.topK');
  }
  const o = c.objective;
  if (o.version === 1 && o.clones !== 1) throw new ConfigError(`objective.clones (${o.clones}) needs objective.version 2`, 'objective.clones');
  if (o.version === 2) {
    const d = o.decoder;
    if (d.dim % d.groups !== 0 || m.dim % d.groups !== 0) {
      throw new ConfigError(`objective.decoder.groups (${d.groups}) must divide objective.decoder.dim (${d.dim}) and model.dim (${m.dim})`, 'objective.decoder.groups');
    }
  }
  checkPhaseRatios(c.optim.phaseRatios);
  if (c.overwrite && c.resume) throw new ConfigError('--resume continues the run in --out and --overwrite replaces it: give one of them', 'overwrite');
}
