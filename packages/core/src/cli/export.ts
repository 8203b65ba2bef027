/**
 * `d2v export --format hf --init RUN --out DIR`: a d2v run (or checkpoint, or another Hugging Face
 * folder) as a Hugging Face transformers folder (config.json + model.safetensors) that the
 * modality's Data2Vec*Model.from_pretrained(DIR) loads. The student's encoder + Transformer are
 * exported (what fine-tuning starts from); heads, decoder, teacher and optimizer state are not.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CheckpointError, ConfigError } from '../errors.js';
import { coerce, suggestKey } from '../config/schema.js';
import { CORE_SCHEMA } from '../config/coreSchema.js';
import { resolveStoredConfig, type ResolvedConfig } from '../config/resolve.js';
import { loadModality } from '../registry/registry.js';
import type { AnyModality } from '../registry/modality.js';
import { buildStudent, type Data2VecParts } from '../model/base.js';
import { initBackend } from '../backend/registry.js';
import { HF_CONFIG_FILE, hfConfigFor, hfTensorsFor, isHfCheckpoint, readHfConfig, writeHfCheckpoint } from '../io/hf.js';
import { hfMappingOf, modalityForHfModelType, resolveWithHfInit } from '../run/hfInit.js';
import { loadInit, resolveCheckpointDir } from '../run/commands.js';

export const EXPORT_FORMATS = ['hf'] as const;

export const EXPORT_USAGE = [
  'usage: d2v export --format hf --init RUN_OR_CHECKPOINT --out DIR [--modality NAME] [--backend B]',
  '',
  "  Writes the student's encoder + Transformer as a Hugging Face transformers folder (config.json +",
  '  model.safetensors) that Data2VecVisionModel / Data2VecAudioModel / Data2VecTextModel.from_pretrained(DIR)',
  '  loads. --init takes a d2v run folder (its latest checkpoint), a checkpoint folder, or a Hugging Face',
  '  folder; --modality is read from the checkpoint when omitted. Options Hugging Face cannot express',
  '  (e.g. post-LN vision blocks) are refused, naming the option.',
].join('\n');

export interface ExportOptions {
  format: string;
  /** d2v run or checkpoint folder, or a Hugging Face folder. */
  init: string;
  out: string;
  /** Taken from the checkpoint (its config's modality, or the HF model_type) when omitted. */
  modality?: string | AnyModality;
  /** Options for a Hugging Face source (e.g. backend, tokenizer.model); a d2v checkpoint's stored config is used as is. */
  overrides?: Map<string, unknown>;
  log?: (m: string) => void;
}

export interface ExportResult {
  dir: string;
  architecture: string;
  modality: string;
  tensors: number;
  parameters: number;
}

/** The modality and config of a d2v checkpoint folder (its stored, resolved config). */
async function d2vSource(dir: string, given: string | AnyModality | undefined, log: (m: string) => void): Promise<{ modality: AnyModality; config: ResolvedConfig }> {
  const file = join(dir, 'config.json');
  if (!existsSync(file)) throw new CheckpointError(file, 'is missing: cannot tell which model the checkpoint holds');
  let stored: Record<string, unknown>;
  try {
    stored = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CheckpointError(file, `is not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  const name = stored['modality'];
  if (typeof name !== 'string') throw new CheckpointError(file, 'names no modality');
  const modality = given === undefined ? await loadModality(name) : typeof given === 'string' ? await loadModality(given) : given;
  if (modality.name !== name) throw new ConfigError(`${dir} holds a ${name} model, not ${modality.name}`, 'modality');
  // Resolved again through the schema: options renamed since the run are read under their new names.
  return { modality, config: resolveStoredConfig(modality, stored, file, log) };
}

export interface OpenedCheckpoint {
  modality: AnyModality;
  config: ResolvedConfig;
  /** Encoder + Transformer with the checkpoint's weights (the caller disposes them). */
  parts: Data2VecParts;
}

/**
 * The encoder + Transformer a checkpoint holds, on the config's backend: a d2v run or checkpoint
 * folder (its stored config), or a Hugging Face folder (the modality's default preset with the
 * architecture from its config.json, then `overrides`). The modality is read from the checkpoint
 * unless given.
 */
export async function openCheckpoint(
  init: string,
  o: {
    modality?: string | AnyModality;
    overrides?: Map<string, unknown>;
    log?: (m: string) => void;
    /** Runs before any weight is read (e.g. refusing what an export cannot express). */
    check?: (modality: AnyModality, config: ResolvedConfig) => void;
  } = {},
): Promise<OpenedCheckpoint> {
  const log = o.log ?? ((m: string) => console.error(m));
  const src = resolve(init);
  const given = typeof o.modality === 'string' ? await loadModality(o.modality) : o.modality;
  let modality: AnyModality;
  let config: ResolvedConfig;
  if (isHfCheckpoint(src)) {
    modality = given ?? (await modalityForHfModelType(readHfConfig(src)['model_type'], join(src, HF_CONFIG_FILE)));
    const overrides = new Map([...(o.overrides ?? []), ['finetune.init', src]]);
    config = resolveWithHfInit(modality, { modality: modality.name, modalitySchema: modality.schema, presets: modality.presets, preset: modality.defaultPreset, overrides }, log);
  } else {
    const other = [...(o.overrides?.keys() ?? [])].filter((k) => k !== 'backend');
    if (other.length) throw new ConfigError(`${src} is a d2v checkpoint: its stored config is used as is (only --backend may be given, not --${other[0]})`, other[0]);
    ({ modality, config } = await d2vSource(resolveCheckpointDir(src), given, log));
    const backend = o.overrides?.get('backend');
    if (typeof backend === 'string') config = { ...config, backend: coerce('backend', CORE_SCHEMA.backend, backend, 'command line') };
  }
  o.check?.(modality, config);
  await initBackend(config.backend, { log });
  const parts = buildStudent(modality, config);
  try {
    tf.dispose(Object.values(await loadInit(src, modality, config, parts, log)));
  } catch (err) {
    parts.encoder.dispose();
    parts.transformer.dispose();
    throw err;
  }
  for (const p of [parts.encoder, parts.transformer]) p.setTraining(false);
  return { modality, config, parts };
}

export async function exportCheckpoint(o: ExportOptions): Promise<ExportResult> {
  const log = o.log ?? ((m: string) => console.error(m));
  if (!(EXPORT_FORMATS as readonly string[]).includes(o.format)) {
    const hint = suggestKey(o.format, EXPORT_FORMATS);
    throw new ConfigError(`unknown export format '${o.format}'${hint ? ` (did you mean ${hint}?)` : ''}; formats: ${EXPORT_FORMATS.join(', ')}`, 'format');
  }
  if (!o.init) throw new ConfigError('d2v export needs --init RUN_OR_CHECKPOINT (what to export)', 'finetune.init');
  if (!o.out) throw new ConfigError('d2v export needs --out DIR (where to write the Hugging Face folder)', 'out');
  let hfConfig: Record<string, unknown> = {};
  // Refuses what HF cannot express before any weight is read.
  const check = (m: AnyModality, c: ResolvedConfig) => void (hfConfig = hfConfigFor(hfMappingOf(m), c));
  const { modality, config, parts } = await openCheckpoint(o.init, { modality: o.modality, overrides: o.overrides, log, check });
  try {
    const mapping = hfMappingOf(modality);
    const state: Record<string, tf.Tensor> = {};
    for (const [n, v] of parts.encoder.variables()) state[`encoder.${n}`] = v;
    for (const [n, v] of parts.transformer.variables()) state[`transformer.${n}`] = v;
    const tensors = hfTensorsFor(mapping, config, state);
    try {
      const dir = resolve(o.out);
      await writeHfCheckpoint(dir, hfConfig, tensors);
      const parameters = Object.values(tensors).reduce((s, t) => s + t.size, 0);
      log(`d2v: exported ${modality.name} encoder + Transformer (${(parameters / 1e6).toFixed(2)}M parameters) as Hugging Face ${mapping.architecture} -> ${dir}`);
      return { dir, architecture: mapping.architecture, modality: modality.name, tensors: Object.keys(tensors).length, parameters };
    } finally {
      tf.dispose(Object.values(tensors));
    }
  } finally {
    parts.encoder.dispose();
    parts.transformer.dispose();
  }
}

/** `d2v export` from parsed command-line options (--format, --init, --out, --modality; other options only for a Hugging Face source). */
export async function exportFromArgs(meta: Record<string, string | true>, overrides: Map<string, unknown>, log: (m: string) => void): Promise<ExportResult> {
  const rest = new Map([...overrides].filter(([k]) => k !== 'finetune.init' && k !== 'out'));
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  if (!str(meta['format'])) throw new ConfigError(`d2v export needs --format (${EXPORT_FORMATS.join(', ')})`, 'format');
  return exportCheckpoint({
    format: str(meta['format']),
    init: str(overrides.get('finetune.init')),
    out: str(overrides.get('out')),
    modality: typeof meta['modality'] === 'string' ? meta['modality'] : undefined,
    overrides: rest,
    log,
  });
}
