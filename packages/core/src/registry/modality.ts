/**
 * The contract between @d2v/core and a modality package. Core names no
 * modality: vision, speech, text and user plugins all implement this one
 * interface and register themselves (fairseq data2vec 2.0's `modalities/`
 * idea; transformers.js's name -> class registry).
 *
 * The contract is typed by the modality's batch `B` (what its data source makes), its schema `S`
 * (whose resolved config, core's options and the modality's, is `ResolvedConfigOf<S>`) and its
 * encoder `E`, so a package reads its own batches, options and encoder without casts. Core holds
 * modalities of any types (`AnyModality`): the registry and the run code are the only places
 * those types are erased.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Module } from '../nn/module.js';
import type { Schema } from '../config/schema.js';
import type { Rng } from '../util/rng.js';
import type { PresetsOf, ResolvedConfig, ResolvedConfigOf } from '../config/resolve.js';
import type { Transformer } from '../nn/transformer.js';
import type { TrainTask } from '../train/task.js';
import type { HfMapping } from '../io/hf.js';
import type { SkippedFile } from '../report/skipped.js';

/** A batch of raw inputs as the modality's data source produced it. */
export interface Batch {
  /** Number of samples. */
  readonly size: number;
  dispose(): void;
}

export interface Features {
  /** Per time-step features [B, T, C]. */
  features: tf.Tensor3D;
  /** The T steps as a row-major [height, width] grid (image patches), for 2-D decoders. */
  grid?: readonly [number, number];
  /** [B, T], 1 where padding. */
  paddingMask?: tf.Tensor2D;
}

export interface Embedded {
  /** Transformer input [B, T, dim]. */
  x: tf.Tensor3D;
  paddingMask?: tf.Tensor2D;
  /** Added to attention logits in every block (e.g. shared relative position bias). */
  attnBias?: tf.Tensor;
}

export interface StepContext {
  training: boolean;
  rng?: Rng;
}

/**
 * The modality front end: raw batch -> features (conv stack, patch embedding,
 * token embedding) -> Transformer input (mask embedding, positions, norm).
 */
export interface FeatureEncoder<B extends Batch = Batch> extends Module {
  /**
   * Encoder features of the raw batch. Must not depend on training mode (no dropout here; put it
   * in embed()): with a shared encoder the teacher reuses the student's features.
   */
  features(batch: B, ctx: StepContext): Features;
  /** `mask` [B, T] (1 = replace by the mask embedding) only on the student side. */
  embed(f: Features, ctx: StepContext & { mask?: tf.Tensor2D }): Embedded;
}

export interface MaskResult<B extends Batch = Batch> {
  /** [B*T] 1 where the student input is replaced by the mask embedding (omit when the batch itself is corrupted, as in BERT). */
  mask?: Uint8Array;
  /** Flat indices b*T+t of the time-steps the loss is computed on. */
  lossIndices: Int32Array;
  /** Steps per sample covered by `mask` (the Transformer may see more, e.g. a CLS token). */
  length: number;
  /** A corrupted copy of the batch for the student (BERT-style masking); the teacher keeps the original. */
  studentBatch?: B;
}

/**
 * Masks a batch. With `objective.version` 2 core calls mask() `objective.clones` times per batch
 * (one call per masked copy) and drops the masked steps from the student's input, so every result
 * must carry `mask`, no `studentBatch`, and the same number of masked steps in every row of every
 * call (createMasker sees the config and returns such a masker for version 2).
 */
export interface MaskingStrategy<B extends Batch = Batch> {
  mask(batch: B, rng: Rng): MaskResult<B>;
}

export interface DataSource<B extends Batch = Batch> {
  /** Samples in one epoch. */
  readonly size: number;
  /** One line for logs: where the data comes from and how much. */
  describe(): string;
  /** Files left out as unreadable (`data.skipBad`); a pretraining run lists them in its folder. */
  readonly skipped?: readonly SkippedFile[];
  /** The batch for micro-step `index` (deterministic given rng), so a resumed run sees the same data. */
  batch(index: number, batchSize: number, rng: Rng): B;
}

/** What core hands a modality when it builds downstream tasks and evaluations (its config `C` and encoder `E`). */
export interface DownstreamContext<C extends ResolvedConfig = ResolvedConfig, E extends FeatureEncoder<any> = FeatureEncoder> {
  config: C;
  encoder: E;
  transformer: Transformer;
  log: (msg: string) => void;
  /** The loaded checkpoint's student group (e.g. a fine-tuned head under `head.*`); valid only during the call. */
  weights?: Record<string, tf.Tensor>;
}

export interface DownstreamTask extends TrainTask {
  /** Metrics on the held-out split, e.g. { accuracy: 0.83 }. */
  evaluate(): Promise<Record<string, number>>;
}

/** One input of `embed`/`predict`, with the name results and messages report it under. */
export interface NamedInput<I = unknown> {
  name: string;
  value: I;
}

/** An input that could not be read: named with the reason, while the others are processed. */
export interface SkippedInput {
  input: string;
  reason: string;
}

/** What a head predicts for one input, as JSON (label and probabilities, a transcript, ...); core adds `input`. */
export type PredictionRecord = Record<string, unknown>;

/** A fine-tuned head ready for inference, in eval mode: one record per sample of a batch. */
export interface Predictor<B extends Batch = Batch> {
  predict(batch: B): PredictionRecord[];
  dispose(): void;
}

/** A downstream task that `predict` can apply (e.g. image classification, CTC transcription). */
export interface PredictionHead<B extends Batch = Batch, C extends ResolvedConfig = ResolvedConfig, E extends FeatureEncoder<any> = FeatureEncoder<B>> {
  /**
   * Prefix of the head's parameters in a fine-tuned checkpoint's student group (e.g. 'classifier.'):
   * a checkpoint holding them was fine-tuned for this task.
   */
  weightsPrefix: string;
  /** Builds the head from `ctx.weights` (the fine-tuned checkpoint's student group, valid only during the call). */
  create(ctx: DownstreamContext<C, E>): Predictor<B> | Promise<Predictor<B>>;
}

/**
 * Inference with a trained run (`d2v predict` / `d2v embed`, core's `loadModel`): how inputs are
 * read and batched, and which heads turn a fine-tuned model's outputs into predictions. Core does
 * the rest (checkpoint, batching loop, skipped inputs, features, pooling, output files).
 */
export interface ModalityInference<I = unknown, S = unknown, B extends Batch = Batch, C extends ResolvedConfig = ResolvedConfig, E extends FeatureEncoder<any> = FeatureEncoder<B>> {
  /** What one input is, for messages (e.g. 'image', 'WAV file', 'text'). */
  readonly inputKind: string;
  /**
   * Command-line paths -> named inputs (files under folders, lines of a text file, ...); a path
   * that holds nothing usable is returned in `skipped`, never thrown.
   */
  inputsFrom(paths: readonly string[], config: C): { inputs: NamedInput<I>[]; skipped: SkippedInput[] };
  /** Reads one input (a path from inputsFrom or an in-memory value) into a sample; an unusable one throws a DataError naming it. */
  load(value: I, name: string, config: C): S | Promise<S>;
  /** Stacks samples into a batch as the evaluations build it (no augmentation, no masking). */
  collate(samples: S[], config: C): B;
  /** Downstream tasks by name (the names a fine-tuning config may record). */
  heads: Record<string, PredictionHead<B, C, E>>;
  /**
   * The task a run's config fine-tuned (e.g. a `finetune.task` key), when a modality has several
   * heads. Without it core picks the head whose parameters the checkpoint holds.
   */
  taskOf?(config: C): string | undefined;
}

/**
 * A modality: batches `B`, option schema `S` and feature encoder `E`; its resolved config is
 * `ResolvedConfigOf<S>` (core's options and the sections of `S`). Declare it with its own types,
 * e.g. `Modality<VisionBatch, typeof schema, PatchEncoder>`, and the schema `satisfies Schema`.
 */
export interface Modality<B extends Batch = Batch, S extends Schema = {}, E extends FeatureEncoder<B> = FeatureEncoder<B>> {
  readonly name: string;
  readonly description: string;
  /** Modality-specific option sections (data, encoder, masking, finetune, ...). */
  readonly schema: S;
  /** Named config presets; must include 'tiny' (runs on a laptop CPU) and 'paper-base'. */
  readonly presets: Readonly<PresetsOf<S>>;
  readonly defaultPreset: string;
  /**
   * Checks across the modality's options (e.g. the patch size divides the image size), run while
   * the config is resolved, before a run writes anything. Throw a ConfigError naming the option.
   * Single-option ranges belong in the schema (`opt(..., { min, max, gt, lt })`).
   */
  validateConfig?(config: ResolvedConfigOf<S>): void;
  createEncoder(config: ResolvedConfigOf<S>, seed: number): E;
  createMasker(config: ResolvedConfigOf<S>): MaskingStrategy<B>;
  createData(config: ResolvedConfigOf<S>, split: 'train' | 'valid' | 'test'): Promise<DataSource<B>>;
  /** Supervised fine-tuning task on top of a (pre-trained) encoder + Transformer (`createDownstreamTask` builds one from a head). */
  createFinetuneTask?(ctx: DownstreamContext<ResolvedConfigOf<S>, E>): Promise<DownstreamTask>;
  /** Evaluations, e.g. { probe: linear probe }, selected with `d2v eval --task NAME`. */
  evaluations?: Record<string, (ctx: DownstreamContext<ResolvedConfigOf<S>, E>) => Promise<Record<string, number>>>;
  /**
   * The check `d2v pretrain` ends with (skipped with --no-summary): which evaluation to run on the
   * pretrained and the randomly initialised encoder (default `probe`), the metric to compare
   * (default `accuracy`) and config overrides that keep it to a minute or two on 2 CPU cores.
   */
  summaryProbe?: { evaluation?: string; metric?: string; overrides?: Record<string, unknown> };
  /**
   * Forward FLOPs per sample of the feature encoder in front of the Transformer, for benchmarks
   * (e.g. speech's conv stack, which costs more than its Transformer). Omitted = negligible.
   */
  encoderForwardFlops?(config: ResolvedConfigOf<S>, tokensPerSample: number): number;
  /** How encoder + Transformer map to a Hugging Face transformers model (`d2v export --format hf`, `--init HF_FOLDER`). */
  readonly hf?: HfMapping<ResolvedConfigOf<S>, B>;
  /** Inference with trained runs: `d2v predict`, `d2v embed`, `loadModel` (see ModalityInference). */
  inference?: ModalityInference<any, any, B, ResolvedConfigOf<S>, E>;
}

/**
 * A modality of any batch, config and encoder type: what the registry holds and core's run code
 * takes. Its types are erased here, at the boundary, and nowhere in a modality package.
 */
export type AnyModality = Modality<any, any, any>;
