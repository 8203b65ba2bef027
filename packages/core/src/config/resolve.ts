/** Builds a run's resolved config: schema defaults -> preset -> JSON file -> command-line flags. */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { CORE_SCHEMA } from './coreSchema.js';
import { applyOverrides, defaultsOf, flattenTree, mergeSchemas, type ConfigTree, type Schema } from './schema.js';
import type { TransformerConfig } from '../nn/transformer.js';
import { checkPhaseRatios, type ScheduleName } from '../optim/schedule.js';

export interface DecoderConfig {
  conv: '1d' | '2d';
  dim: number;
  kernel: number;
  layers: number;
  groups: number;
  residual: boolean;
  inputDropout: number;
}

export interface ObjectiveConfig {
  version: 1 | 2;
  clones: number;
  maskNoiseStd: number;
  clsLoss: number;
  decoder: DecoderConfig;
  topK: number;
  targetSource: 'ffn' | 'block';
  instanceNormTargetLayer: boolean;
  layerNormTargetLayer: boolean;
  instanceNormTargets: boolean;
  layerNormTargets: boolean;
  lossBeta: number;
  lossScale: number | null;
  headLayers: number;
  emaStart: number;
  emaEnd: number;
  emaAnnealSteps: number;
  emaEncoder: boolean;
  minTargetVar: number;
  minPredVar: number;
  collapseCheckAfter: number;
}

export interface OptimConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  clipNorm: number;
  schedule: ScheduleName;
  warmupSteps: number;
  phaseRatios: [number, number, number];
  initLrScale: number;
  finalLrScale: number;
  accumulate: number;
  maxNonFiniteSkips: number;
}

export interface TrainConfig {
  steps: number;
  batchSize: number;
  logEvery: number;
  checkpointEvery: number;
  keepLast: number;
  workers: number;
}

/** The resolved config of a run; modality sections are open-ended records. */
export interface ResolvedConfig {
  modality: string;
  preset: string;
  seed: number;
  backend: string;
  out: string;
  resume: boolean;
  overwrite: boolean;
  model: Omit<TransformerConfig, 'eps'>;
  objective: ObjectiveConfig;
  optim: OptimConfig;
  train: TrainConfig;
  [section: string]: unknown;
}

export interface ResolveOptions {
  modality: string;
  modalitySchema: Schema;
  presets: Record<string, ConfigTree>;
  preset: string;
  /** JSON config file (nested or dotted keys). */
  file?: string;
  /** Dotted-key overrides from the command line (string values are coerced). */
  overrides?: Map<string, unknown>;
  /** The modality's cross-field checks (Modality.validateConfig), run after core's. */
  validate?: (config: ResolvedConfig) => void;
}

export function fullSchema(modalitySchema: Schema): Schema {
  return mergeSchemas(CORE_SCHEMA, modalitySchema);
}

export function readConfigFile(file: string): Map<string, unknown> {
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
  // A saved resolved config names its modality/preset; those are chosen on the command line, not here.
  flat.delete('modality');
  flat.delete('preset');
  return flat;
}

export function resolveConfig(o: ResolveOptions): ResolvedConfig {
  const schema = fullSchema(o.modalitySchema);
  const preset = o.presets[o.preset];
  if (!preset) {
    throw new ConfigError(`modality ${o.modality} has no preset '${o.preset}'; presets: ${Object.keys(o.presets).join(', ')}`, 'preset');
  }
  let cfg = defaultsOf(schema);
  cfg = applyOverrides(cfg, schema, flattenTree(preset), `preset '${o.preset}' of ${o.modality}`);
  if (o.file) cfg = applyOverrides(cfg, schema, readConfigFile(o.file), `config file ${o.file}`);
  if (o.overrides) cfg = applyOverrides(cfg, schema, o.overrides, 'command line');
  const out = { modality: o.modality, preset: o.preset, ...cfg } as unknown as ResolvedConfig;
  validate(out);
  o.validate?.(out);
  return out;
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
