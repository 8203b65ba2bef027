/**
 * The contract between @d2v/core and a modality package. Core names no
 * modality: vision, speech, text and user plugins all implement this one
 * interface and register themselves (fairseq data2vec 2.0's `modalities/`
 * idea; transformers.js's name -> class registry).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Module } from '../nn/module.js';
import type { Schema, ConfigTree } from '../config/schema.js';
import type { Rng } from '../train/rng.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { Transformer } from '../nn/transformer.js';
import type { TrainTask } from '../train/task.js';

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
export interface FeatureEncoder extends Module {
  /**
   * Encoder features of the raw batch. Must not depend on training mode (no dropout here; put it
   * in embed()): with a shared encoder the teacher reuses the student's features.
   */
  features(batch: Batch, ctx: StepContext): Features;
  /** `mask` [B, T] (1 = replace by the mask embedding) only on the student side. */
  embed(f: Features, ctx: StepContext & { mask?: tf.Tensor2D }): Embedded;
}

export interface MaskResult {
  /** [B*T] 1 where the student input is replaced by the mask embedding (omit when the batch itself is corrupted, as in BERT). */
  mask?: Uint8Array;
  /** Flat indices b*T+t of the time-steps the loss is computed on. */
  lossIndices: Int32Array;
  /** Steps per sample covered by `mask` (the Transformer may see more, e.g. a CLS token). */
  length: number;
  /** A corrupted copy of the batch for the student (BERT-style masking); the teacher keeps the original. */
  studentBatch?: Batch;
}

/**
 * Masks a batch. With `objective.version` 2 core calls mask() `objective.clones` times per batch
 * (one call per masked copy) and drops the masked steps from the student's input, so every result
 * must carry `mask`, no `studentBatch`, and the same number of masked steps in every row of every
 * call (createMasker sees the config and returns such a masker for version 2).
 */
export interface MaskingStrategy {
  mask(batch: Batch, rng: Rng): MaskResult;
}

export interface DataSource {
  /** Samples in one epoch. */
  readonly size: number;
  /** One line for logs: where the data comes from and how much. */
  describe(): string;
  /** The batch for micro-step `index` (deterministic given rng), so a resumed run sees the same data. */
  batch(index: number, batchSize: number, rng: Rng): Batch;
}

/** What core hands a modality when it builds downstream tasks and evaluations. */
export interface DownstreamContext {
  config: ResolvedConfig;
  encoder: FeatureEncoder;
  transformer: Transformer;
  log: (msg: string) => void;
  /** The loaded checkpoint's student group (e.g. a fine-tuned head under `head.*`); valid only during the call. */
  weights?: Record<string, tf.Tensor>;
}

export interface DownstreamTask extends TrainTask {
  /** Metrics on the held-out split, e.g. { accuracy: 0.83 }. */
  evaluate(): Promise<Record<string, number>>;
}

export interface Modality {
  readonly name: string;
  readonly description: string;
  /** Modality-specific option sections (data, encoder, masking, finetune, ...). */
  readonly schema: Schema;
  /** Named config presets; must include 'tiny' (runs on a laptop CPU) and 'paper-base'. */
  readonly presets: Record<string, ConfigTree>;
  readonly defaultPreset: string;
  createEncoder(config: ResolvedConfig, seed: number): FeatureEncoder;
  createMasker(config: ResolvedConfig): MaskingStrategy;
  createData(config: ResolvedConfig, split: 'train' | 'valid' | 'test'): Promise<DataSource>;
  /** Supervised fine-tuning task on top of a (pre-trained) encoder + Transformer. */
  createFinetuneTask?(ctx: DownstreamContext): Promise<DownstreamTask>;
  /** Evaluations, e.g. { probe: linear probe }, selected with `d2v eval --task NAME`. */
  evaluations?: Record<string, (ctx: DownstreamContext) => Promise<Record<string, number>>>;
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
  encoderForwardFlops?(config: ResolvedConfig, tokensPerSample: number): number;
}
