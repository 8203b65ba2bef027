/**
 * `--init HF_FOLDER`: a Hugging Face data2vec checkpoint as the starting point of pretrain, finetune,
 * eval and export. Its config.json sets the encoder's architecture (under the user's flags, which
 * must agree with it); its weights load into the modality's encoder and d2v's Transformer.
 */
import * as tf from '@tensorflow/tfjs-core';
import { join, resolve } from 'node:path';
import { CheckpointError, ConfigError, PluginError } from '../errors.js';
import { getPath } from '../config/schema.js';
import { resolveConfig, type ResolveOptions, type ResolvedConfig } from '../config/resolve.js';
import { discoverModalities, loadModality, registeredModalities } from '../registry/registry.js';
import type { AnyModality } from '../registry/modality.js';
import type { Data2VecParts } from '../model/base.js';
import { weightsUnder } from '../nn/module.js';
import {
  HF_CONFIG_FILE,
  HF_WEIGHTS_FILE,
  checkDerivedHfOptions,
  d2vOptionsFromHf,
  d2vTensorsFromHf,
  isHfCheckpoint,
  readHfConfig,
  readHfTensors,
  type AnyHfMapping,
} from '../io/hf.js';

/** The modality's Hugging Face mapping, or an error saying it has none. */
export function hfMappingOf(modality: AnyModality): AnyHfMapping {
  if (!modality.hf) throw new ConfigError(`modality ${modality.name} declares no Hugging Face mapping (Modality.hf), so it cannot read or write Hugging Face checkpoints`);
  return modality.hf;
}

/** The installed modality whose Hugging Face mapping reads `modelType` (e.g. data2vec-audio -> speech). */
export async function modalityForHfModelType(modelType: unknown, file: string): Promise<AnyModality> {
  const names = [...new Set([...registeredModalities(), ...discoverModalities()])];
  for (const name of names) {
    const m: AnyModality | undefined = await loadModality(name).catch(() => undefined);
    if (m && m.hf?.modelType === modelType) return m;
  }
  throw new PluginError(`${file}: no installed d2v modality reads Hugging Face model_type ${JSON.stringify(modelType)} (installed: ${names.join(', ') || 'none'}); pass --modality`);
}

const show = (v: unknown) => JSON.stringify(v);

/**
 * Resolves a run's config; when its `finetune.init` (`--init`) is a Hugging Face folder, that
 * folder's config.json sets the architecture options (model size, patches, conv layers, ...). A
 * command-line flag that contradicts the checkpoint is refused, naming the key.
 */
export function resolveWithHfInit(modality: AnyModality, o: ResolveOptions, log: (m: string) => void): ResolvedConfig {
  const config = resolveConfig(o);
  const init = config.finetune.init;
  if (!init || !isHfCheckpoint(resolve(init))) return config;
  const dir = resolve(init);
  const file = join(dir, HF_CONFIG_FILE);
  const mapping = hfMappingOf(modality);
  const hf = readHfConfig(dir);
  const { overrides: arch, notes } = d2vOptionsFromHf(mapping, hf, file);
  const flags = o.overrides ?? new Map<string, unknown>();
  // Targets average the top K blocks: a preset's K may exceed a small checkpoint's depth.
  const depth = arch.get('model.depth');
  if (typeof depth === 'number' && config.objective.topK > depth && !flags.has('objective.topK')) arch.set('objective.topK', depth);
  try {
    // The checkpoint's architecture over the run's other options (a small grid may need smaller mask blocks).
    resolveConfig({ ...o, overrides: new Map([...flags, ...arch]) });
  } catch (err) {
    if (err instanceof ConfigError) throw new CheckpointError(file, `does not make a valid d2v ${modality.name} config: ${err.message}`);
    throw err;
  }
  const merged = resolveConfig({ ...o, overrides: new Map([...arch, ...flags]) });
  for (const [key, value] of arch) {
    const got = getPath(merged, key);
    if (show(got) !== show(value)) {
      throw new ConfigError(`--init ${dir} is a Hugging Face ${mapping.architecture} with ${key} = ${show(value)} (from its config.json), but the command line sets ${show(got)}: drop that option`, key);
    }
  }
  checkDerivedHfOptions(mapping, hf, merged, file);
  const list = [...arch].map(([k, v]) => `${k} ${show(v)}`).join(', ');
  log(`d2v: --init ${dir} is a Hugging Face ${mapping.architecture}; from its config.json: ${list}`);
  for (const n of notes) log(`d2v: note: ${file}: ${n}`);
  return merged;
}

const withPrefix = (prefix: string, m: Map<string, tf.Variable>) => [...m].map(([n, v]) => [prefix + n, v.shape] as const);

/**
 * Loads a Hugging Face folder's weights into `parts` (built from the config resolveWithHfInit gave)
 * and returns them under d2v's names (`encoder.*`, `transformer.*`; the caller disposes them).
 */
export async function loadHfWeights(dir: string, modality: AnyModality, config: ResolvedConfig, parts: Data2VecParts, log: (m: string) => void): Promise<Record<string, tf.Tensor>> {
  const mapping = hfMappingOf(modality);
  const file = join(dir, HF_WEIGHTS_FILE);
  const shapes = new Map<string, readonly number[]>([...withPrefix('encoder.', parts.encoder.variables()), ...withPrefix('transformer.', parts.transformer.variables())]);
  const hf = readHfTensors(dir);
  let imported;
  try {
    imported = d2vTensorsFromHf(mapping, config, hf, shapes, file);
  } finally {
    tf.dispose(Object.values(hf));
  }
  const { tensors, absent, unused } = imported;
  const strict = absent.length === 0;
  try {
    parts.encoder.loadState(weightsUnder(tensors, 'encoder.') ?? {}, `${file} (encoder)`, { strict });
    parts.transformer.loadState(weightsUnder(tensors, 'transformer.') ?? {}, `${file} (transformer)`, { strict });
  } catch (err) {
    tf.dispose(Object.values(tensors));
    throw err;
  }
  log(`d2v: loaded encoder + Transformer from the Hugging Face ${mapping.architecture} in ${dir}`);
  if (absent.length) log(`d2v: ${file} has no ${absent.join(', ')}: kept at their initial values`);
  if (unused.length) log(`d2v: ${file}: ${unused.length} tensor(s) outside the encoder left unused (${unused.slice(0, 4).join(', ')}${unused.length > 4 ? ', ...' : ''})`);
  return tensors;
}
