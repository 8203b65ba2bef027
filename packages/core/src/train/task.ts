/**
 * What the Trainer trains. The Trainer owns the loop (optimiser, schedule,
 * accumulation, clipping, checkpoints, logging); a task owns the model and
 * the forward pass. Pretraining and fine-tuning are both tasks.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { ParamInfo } from '../nn/module.js';
import type { Rng } from '../util/rng.js';
import type { SkippedFile } from '../report/skipped.js';

export interface LossResult {
  loss: tf.Scalar;
  /** Extra scalars to log (not differentiated), e.g. target variance. */
  metrics?: Record<string, tf.Scalar>;
}

export interface TrainTask<P = unknown> {
  /** Parameters the optimiser updates, with names (checkpoints, weight-decay masks). */
  trainableParams(): [string, ParamInfo][];
  /** Work outside the gradient tape for micro-batch `index` (e.g. the EMA teacher's targets). */
  prepare?(index: number, rng: Rng): P;
  /** The differentiable loss of micro-batch `index`; runs inside tf.variableGrads. */
  loss(index: number, rng: Rng, prepared: P): LossResult;
  /** Releases what prepare() returned. */
  release?(prepared: P): void;
  /** After each optimiser update (e.g. the EMA update); returned numbers are logged. */
  afterUpdate?(step: number): Record<string, number> | void;
  /**
   * Variables besides the trainable parameters that a replica of the task in a worker thread
   * (`train.workers`) must hold at every update, e.g. the EMA teacher: the workers copy them with
   * the parameters before each update.
   */
  syncedVariables?(): tf.Variable[];
  /** Sees the update's metrics; may throw (e.g. the collapse guard). */
  check?(step: number, metrics: Record<string, number>): void;
  /** Throughput unit per micro-batch, e.g. { count: 64, unit: 'img' }. */
  itemsPerMicroBatch(): { count: number; unit: string };
  /** Weights to checkpoint, as named groups (e.g. student, teacher). */
  checkpointGroups(): Record<string, Record<string, tf.Tensor>>;
  /** Restores what checkpointGroups() saved. */
  restore(groups: Record<string, Record<string, tf.Tensor>>, file: string): void;
  /** Input files the task's data loaders left out as unreadable (`data.skipBad`); the Trainer lists them in the run folder. */
  skippedFiles?(): readonly SkippedFile[];
  /** Model as a plain description, logged once. */
  describe(): string;
  dispose(): void;
}
