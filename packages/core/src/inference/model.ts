/**
 * Using a trained run from code (and from `d2v predict` / `d2v embed`): `loadModel` rebuilds a
 * modality's encoder + Transformer, and a fine-tuned head when the checkpoint holds one;
 * `embed` extracts features (pooled or per step, from the last block or data2vec's top-K target
 * recipe), `predict` applies the head. Inputs are read and batched by the modality
 * (Modality.inference); an input that cannot be read is reported in `skipped`, never fatal.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { activeBackend, initBackend } from '../backend/registry.js';
import { resolveStoredConfig, type ResolvedConfig, type ResolvedConfigOf } from '../config/resolve.js';
import type { Schema } from '../config/schema.js';
import { CheckpointError, ConfigError, D2vError, PluginError, ShapeError } from '../errors.js';
import { buildStudent, topKTargets } from '../model/base.js';
import { maskedMeanOverTime } from '../ops/basic.js';
import { loadModality } from '../registry/registry.js';
import { ProgressBar, type ProgressStream } from '../report/progress.js';
import { loadStudentWeights, resolveCheckpointDir } from '../run/commands.js';
import type { Transformer } from '../nn/transformer.js';
import type { Batch, FeatureEncoder, AnyModality, Modality, ModalityInference, NamedInput, PredictionRecord, Predictor, SkippedInput } from '../registry/modality.js';

export type EmbedPool = 'mean' | 'none';
export type EmbedLayers = 'last' | 'topk';
export const EMBED_POOLS: readonly EmbedPool[] = ['mean', 'none'];
export const EMBED_LAYERS: readonly EmbedLayers[] = ['last', 'topk'];
/** Inputs per batch unless told otherwise. */
export const DEFAULT_INFERENCE_BATCH = 32;

export interface LoadModelOptions<S extends Schema = {}> {
  /** The modality (object, name or plugin path); default: the one the run's config names. With the object, the model's config has its type. */
  modality?: Modality<any, S, any> | string;
  /** TensorFlow.js backend to start when none is active yet (default: D2V_BACKEND, else wasm). */
  backend?: string;
  /** Messages (checkpoint loaded, inputs skipped); default silent. */
  log?: (msg: string) => void;
}

export interface InferenceOptions {
  /** Inputs per batch (default 32). */
  batchSize?: number;
  /** Draw a progress bar on this stream when there is more than one batch (default: none). */
  progress?: ProgressStream;
}

export interface EmbedOptions extends InferenceOptions {
  /** 'mean': one vector per input (mean over its steps); 'none': every step's vector. Default 'mean'. */
  pool?: EmbedPool;
  /** 'last': the last block's output; 'topk': data2vec's target recipe over the top K blocks. Default 'last'. */
  layers?: EmbedLayers;
  /** K for layers 'topk' (default the run's objective.topK). */
  topK?: number;
}

export interface Embeddings {
  /** The embedded inputs, in input order (skipped ones left out). */
  names: string[];
  dim: number;
  pool: EmbedPool;
  layers: EmbedLayers;
  /** K of layers 'topk'. */
  topK?: number;
  /** Row-major [rows, dim]: pool 'mean' has one row per input; 'none' every input's steps one after another. */
  features: Float32Array;
  rows: number;
  /** pool 'none': input i's steps are rows offsets[i] .. offsets[i+1] - 1 (names.length + 1 entries). */
  offsets?: Int32Array;
  skipped: SkippedInput[];
}

export interface Predictions {
  /** The downstream task the run was fine-tuned for (the head used). */
  task: string;
  /** One record per predicted input, in input order: `input` (its name) and what the head says. */
  records: (PredictionRecord & { input: string })[];
  skipped: SkippedInput[];
}

/** An input as a value the modality reads (a path, a buffer, audio samples, a string) or with a name. */
export type ModelInput<I> = I | NamedInput<I>;

function isNamed(x: unknown): x is NamedInput {
  return typeof x === 'object' && x !== null && !ArrayBuffer.isView(x) && !(x instanceof tf.Tensor) && 'name' in x && 'value' in x;
}

/** A value's name in results: a short string is its own name (a path or a text), anything else `input[i]`. */
function nameOf(value: unknown, index: number): string {
  if (typeof value === 'string') return value.length <= 80 ? value : `${value.slice(0, 77)}...`;
  return `input[${index}]`;
}

/** The message of an input's DataError without the input's name in front (it is reported next to it). */
function reasonOf(err: D2vError, name: string): string {
  return err.message.startsWith(`${name}: `) ? err.message.slice(name.length + 2) : err.message;
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new CheckpointError(file, `cannot be read as JSON (${(err as Error).message.split('\n')[0]})`);
  }
}

/** A trained run ready for inference, in eval mode. Call dispose() when done. */
export class D2vModel<I = unknown, C extends ResolvedConfig = ResolvedConfig> {
  /** @internal use loadModel */
  constructor(
    readonly modality: AnyModality,
    readonly config: C,
    /** The checkpoint folder the weights came from. */
    readonly checkpoint: string,
    readonly step: number,
    readonly encoder: FeatureEncoder,
    readonly transformer: Transformer,
    /** The downstream task of a fine-tuned run (undefined for a pretraining run: embed only). */
    readonly task: string | undefined,
    private readonly predictor: Predictor | undefined,
    private readonly log: (msg: string) => void,
  ) {}

  private get inference(): ModalityInference<I> {
    const inference = this.modality.inference;
    if (!inference) throw new PluginError(`modality ${this.modality.name} has no inference support`);
    return inference;
  }

  /** Paths as the d2v command reads `--input`: files under folders, lines of text files, ... */
  inputsFrom(paths: readonly string[]): { inputs: NamedInput<I>[]; skipped: SkippedInput[] } {
    return this.inference.inputsFrom(paths, this.config);
  }

  /** Features of every input (see EmbedOptions); unreadable inputs are listed in `skipped`. */
  async embed(inputs: readonly ModelInput<I>[], o: EmbedOptions = {}): Promise<Embeddings> {
    const pool = o.pool ?? 'mean';
    const layers = o.layers ?? 'last';
    if (!EMBED_POOLS.includes(pool)) throw new ConfigError(`pool must be one of ${EMBED_POOLS.join(', ')} (got '${pool}')`, 'pool');
    if (!EMBED_LAYERS.includes(layers)) throw new ConfigError(`layers must be one of ${EMBED_LAYERS.join(', ')} (got '${layers}')`, 'layers');
    const depth = this.transformer.blocks.length;
    if (o.topK !== undefined && layers !== 'topk') throw new ConfigError('top-k applies to layers topk only', 'top-k');
    const topK = layers === 'topk' ? (o.topK ?? this.config.objective.topK) : undefined;
    if (topK !== undefined && !(Number.isInteger(topK) && topK >= 1 && topK <= depth)) {
      throw new ConfigError(`top-k must be an integer from 1 to the model's ${depth} blocks (got ${topK})`, 'top-k');
    }
    const dim = this.config.model.dim;
    const names: string[] = [];
    const chunks: Float32Array[] = [];
    const offsets = [0];
    const skipped = await this.eachBatch(inputs, o, 'embed', (batch, batchNames) => {
      const { steps, valid } = tf.tidy(() => {
        const f = this.encoder.features(batch, { training: false });
        let steps: tf.Tensor3D;
        if (topK !== undefined) {
          steps = topKTargets(this.encoder, this.transformer, f, this.config.objective, true, topK);
        } else {
          const e = this.encoder.embed(f, { training: false });
          const out = this.transformer.forward(e.x, { paddingMask: e.paddingMask, attnBias: e.attnBias, collect: false }).output;
          // Extra tokens in front (a CLS token) are not steps of the input.
          const extra = e.x.shape[1] - f.features.shape[1];
          steps = extra > 0 ? (tf.slice(out, [0, extra, 0], [-1, -1, -1]) as tf.Tensor3D) : out;
        }
        if (pool === 'mean') return { steps: maskedMeanOverTime(steps, f.paddingMask) as tf.Tensor, valid: undefined };
        return { steps: steps as tf.Tensor, valid: f.paddingMask ? tf.sum(tf.sub(1, f.paddingMask), 1) : undefined };
      });
      const values = steps.dataSync() as Float32Array;
      const lengths = valid?.dataSync();
      const rows = batch.size;
      const T = pool === 'mean' ? 1 : steps.shape[1]!;
      tf.dispose([steps, valid].filter((t): t is tf.Tensor => t !== undefined));
      if (rows !== batchNames.length) throw new ShapeError(`${this.modality.name}: a batch of ${batchNames.length} inputs has ${rows} rows`);
      for (let b = 0; b < rows; b++) {
        const n = pool === 'mean' ? 1 : lengths ? Math.round(lengths[b]!) : T;
        chunks.push(values.slice(b * T * dim, (b * T + n) * dim));
        offsets.push(offsets.at(-1)! + n);
        names.push(batchNames[b]!);
      }
    });
    const total = offsets.at(-1)!;
    const features = new Float32Array(total * dim);
    let at = 0;
    for (const c of chunks) {
      features.set(c, at);
      at += c.length;
    }
    return { names, dim, pool, layers, topK, features, rows: total, offsets: pool === 'none' ? Int32Array.from(offsets) : undefined, skipped };
  }

  /** The fine-tuned head's prediction for every input; a pretraining run has no head and says so. */
  async predict(inputs: readonly ModelInput<I>[], o: InferenceOptions = {}): Promise<Predictions> {
    const predictor = this.predictor;
    if (!predictor || !this.task) {
      const heads = Object.keys(this.inference.heads);
      throw new CheckpointError(
        this.checkpoint,
        `has no fine-tuned head to predict with (a pretraining checkpoint, step ${this.step}; ${this.modality.name} predicts with: ${heads.join(', ') || 'no head'}): ` +
          `fine-tune it first (d2v finetune --modality ${this.modality.name} --init RUN), or use embed for its features`,
      );
    }
    const records: Predictions['records'] = [];
    const skipped = await this.eachBatch(inputs, o, 'predict', (batch, names) => {
      const out = predictor.predict(batch);
      if (out.length !== names.length) throw new ShapeError(`${this.modality.name} head '${this.task}' made ${out.length} predictions for ${names.length} inputs`);
      out.forEach((r, i) => records.push({ input: names[i]!, ...r }));
    });
    return { task: this.task, records, skipped };
  }

  /** Frees the weights (the model cannot be used afterwards). */
  dispose(): void {
    this.predictor?.dispose();
    this.encoder.dispose();
    this.transformer.dispose();
  }

  /** Loads inputs a batch at a time (unreadable ones skipped and logged), collates them and hands each batch to `fn`. */
  private async eachBatch(inputs: readonly ModelInput<I>[], o: InferenceOptions, label: string, fn: (batch: Batch, names: string[]) => void): Promise<SkippedInput[]> {
    const batchSize = o.batchSize ?? DEFAULT_INFERENCE_BATCH;
    if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new ConfigError(`batch size must be a positive integer (got ${batchSize})`, 'batch-size');
    const named = inputs.map((x, i) => (isNamed(x) ? (x as NamedInput<I>) : { name: nameOf(x, i), value: x as I }));
    const bar = o.progress && named.length > batchSize ? new ProgressBar({ total: named.length, label: `${label} ${this.modality.name}`, stream: o.progress, unit: 'inputs' }) : undefined;
    const say = (m: string) => (bar ? bar.log(m) : this.log(m));
    const skipped: SkippedInput[] = [];
    for (let s = 0; s < named.length; s += batchSize) {
      const chunk = named.slice(s, s + batchSize);
      const samples: unknown[] = [];
      const names: string[] = [];
      for (const input of chunk) {
        try {
          samples.push(await this.inference.load(input.value, input.name, this.config));
          names.push(input.name);
        } catch (err) {
          // A bad input is the user's data (DataError and kin); anything else is a bug and stops.
          if (!(err instanceof D2vError)) throw err;
          const reason = reasonOf(err, input.name);
          skipped.push({ input: input.name, reason });
          say(`d2v: skipped ${input.name}: ${reason}`);
        }
      }
      if (samples.length) {
        const batch = this.inference.collate(samples, this.config);
        try {
          fn(batch, names);
        } finally {
          batch.dispose();
        }
      }
      bar?.update(s + chunk.length, skipped.length ? { skipped: skipped.length } : {}, chunk.length);
    }
    bar?.finish();
    return skipped;
  }
}

/**
 * Loads a run folder (its latest checkpoint) or a checkpoint folder for inference: the modality
 * its config names, the encoder + Transformer, and the head of the downstream task it was
 * fine-tuned for (none for a pretraining run: `embed` works, `predict` says why it cannot).
 */
export async function loadModel<I = unknown, S extends Schema = {}>(runOrCheckpoint: string, o: LoadModelOptions<S> = {}): Promise<D2vModel<I, ResolvedConfigOf<S>>> {
  const log = o.log ?? (() => {});
  const dir = resolveCheckpointDir(runOrCheckpoint);
  const configFile = join(dir, 'config.json');
  if (!existsSync(configFile)) throw new CheckpointError(dir, 'has no config.json: it is not a d2v checkpoint');
  const stored = readJson(configFile);
  const name = stored['modality'];
  if (typeof name !== 'string') throw new CheckpointError(configFile, 'names no modality');
  const modality: AnyModality = typeof o.modality === 'object' ? o.modality : await loadModality(o.modality ?? name);
  if (modality.name !== name) throw new ConfigError(`${runOrCheckpoint} is a ${name} run, not ${modality.name}`, 'modality');
  const inference = modality.inference;
  if (!inference) throw new PluginError(`modality ${name} has no inference support (its Modality object defines no \`inference\`; see docs/extending.md)`);
  const config = resolveStoredConfig(modality, stored, configFile, log);
  if (o.backend || !activeBackend()) await initBackend(o.backend, { log });
  const manifest = readJson(join(dir, 'manifest.json'));
  const step = typeof manifest['step'] === 'number' ? manifest['step'] : -1;

  const parts = buildStudent(modality, config);
  let weights: Record<string, tf.Tensor> | undefined;
  try {
    weights = await loadStudentWeights(dir, parts, log);
    const keys = Object.keys(weights);
    const holds = (task: string) => keys.some((k) => k.startsWith(inference.heads[task]!.weightsPrefix));
    const recorded = inference.taskOf?.(config);
    if (recorded !== undefined && !inference.heads[recorded]) {
      throw new ConfigError(`${configFile} records the task '${recorded}', which ${name} cannot predict (heads: ${Object.keys(inference.heads).join(', ')})`, 'task');
    }
    const present = recorded !== undefined ? [recorded].filter(holds) : Object.keys(inference.heads).filter(holds);
    if (present.length > 1) throw new CheckpointError(dir, `holds the parameters of several heads (${present.join(', ')}); ${name}'s inference.taskOf must say which task the run trained`);
    const task = present[0];
    parts.encoder.setTraining(false);
    parts.transformer.setTraining(false);
    const predictor = task ? await inference.heads[task]!.create({ config, encoder: parts.encoder, transformer: parts.transformer, log, weights }) : undefined;
    log(`d2v: ${name} model from ${dir} (step ${step}): ${task ? `fine-tuned for ${task}` : 'no fine-tuned head (embed only)'}`);
    return new D2vModel<I, ResolvedConfigOf<S>>(modality, config, dir, step, parts.encoder, parts.transformer, task, predictor, log);
  } catch (err) {
    parts.encoder.dispose();
    parts.transformer.dispose();
    throw err;
  } finally {
    if (weights) tf.dispose(Object.values(weights));
  }
}
