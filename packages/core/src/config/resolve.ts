/** Builds a run's resolved config: schema defaults -> preset -> JSON file -> command-line flags. */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { CORE_SCHEMA } from './coreSchema.js';
import { applyOverrides, defaultsOf, flattenTree, mergeSchemas, type ConfigTree, type Schema } from './schema.js';
import type { TransformerConfig } from '../nn/transformer.js';
import type { ScheduleName } from '../optim/schedule.js';

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
  return out;
}

function validate(c: ResolvedConfig): void {
  const m = c.model;
  if (m.dim % m.heads !== 0) throw new ConfigError(`model.dim (${m.dim}) must be divisible by model.heads (${m.heads})`, 'model.heads');
  if (c.objective.topK > m.depth) {
    throw new ConfigError(`objective.topK (${c.objective.topK}) exceeds model.depth (${m.depth})`, 'objective.topK');
  }
  for (const [k, v] of [
    ['model.dropout', m.dropout],
    ['model.attentionDropout', m.attentionDropout],
    ['model.layerDrop', m.layerDrop],
  ] as const) {
    if (v < 0 || v >= 1) throw new ConfigError(`${k} must be in [0, 1) (got ${v})`, k);
  }
  const o = c.objective;
  if (o.version !== 1 && o.version !== 2) throw new ConfigError(`objective.version must be 1 or 2 (got ${o.version})`, 'objective.version');
  if (o.clones < 1) throw new ConfigError(`objective.clones must be >= 1 (got ${o.clones})`, 'objective.clones');
  if (o.version === 1 && o.clones !== 1) throw new ConfigError(`objective.clones (${o.clones}) needs objective.version 2`, 'objective.clones');
  if (o.version === 2) {
    const d = o.decoder;
    for (const [k, v] of [['dim', d.dim], ['kernel', d.kernel], ['layers', d.layers], ['groups', d.groups]] as const) {
      if (!(v >= 1)) throw new ConfigError(`objective.decoder.${k} must be >= 1 (got ${v})`, `objective.decoder.${k}`);
    }
    if (d.dim % d.groups !== 0 || m.dim % d.groups !== 0) {
      throw new ConfigError(`objective.decoder.groups (${d.groups}) must divide objective.decoder.dim (${d.dim}) and model.dim (${m.dim})`, 'objective.decoder.groups');
    }
    if (d.inputDropout < 0 || d.inputDropout >= 1) throw new ConfigError(`objective.decoder.inputDropout must be in [0, 1) (got ${d.inputDropout})`, 'objective.decoder.inputDropout');
    if (o.maskNoiseStd < 0) throw new ConfigError(`objective.maskNoiseStd must be >= 0 (got ${o.maskNoiseStd})`, 'objective.maskNoiseStd');
  }
  if (c.train.steps < 1) throw new ConfigError(`train.steps must be >= 1`, 'train.steps');
  if (c.train.batchSize < 1) throw new ConfigError(`train.batchSize must be >= 1`, 'train.batchSize');
  if (c.optim.accumulate < 1) throw new ConfigError(`optim.accumulate must be >= 1`, 'optim.accumulate');
}
