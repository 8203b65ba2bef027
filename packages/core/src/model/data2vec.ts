/**
 * The data2vec pretraining task: student (masked input) regresses, at masked
 * steps, the average of the EMA teacher's normalised top-K block outputs
 * computed on the unmasked input.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModuleGroup, type Module } from '../nn/module.js';
import { Transformer, disposeOutput } from '../nn/transformer.js';
import { EmaTeacher, emaDecay } from '../objective/ema.js';
import { buildTargets } from '../objective/targets.js';
import { regressionLoss } from '../objective/loss.js';
import { channelStd, checkCollapse } from '../objective/collapse.js';
import { gatherRows, stopGradient } from '../ops/basic.js';
import { RegressionHead } from './regressionHead.js';
import { Rng } from '../train/rng.js';
import type { TrainTask, LossResult } from '../train/task.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { DataSource, FeatureEncoder, Features, MaskResult, MaskingStrategy, Modality, Batch } from '../registry/modality.js';
import type { ParamInfo } from '../nn/module.js';

interface Prepared {
  batch: Batch;
  mask: MaskResult;
  /** Teacher targets at the loss positions [M, C]; undefined when loss() builds them from the shared features. */
  targets?: tf.Tensor2D;
  lossIndices: tf.Tensor1D;
  maskTensor?: tf.Tensor2D;
}

export interface Data2VecParts {
  encoder: FeatureEncoder;
  transformer: Transformer;
}

/** Builds a student encoder + Transformer for a modality and config (seeded). */
export function buildStudent(modality: Modality, config: ResolvedConfig): Data2VecParts {
  const rng = new Rng(config.seed);
  const encoder = modality.createEncoder(config, rng.seed());
  const transformer = new Transformer(config.model, rng.seed());
  return { encoder, transformer };
}

export class Data2VecPretrainTask implements TrainTask<Prepared> {
  readonly encoder: FeatureEncoder;
  readonly transformer: Transformer;
  readonly head: RegressionHead;
  readonly ema: EmaTeacher;
  private readonly student: ModuleGroup;
  private readonly teacherEncoder: FeatureEncoder;
  private readonly teacherTransformer: Transformer;

  constructor(
    readonly modality: Modality,
    readonly config: ResolvedConfig,
    readonly data: DataSource,
    readonly masker: MaskingStrategy,
  ) {
    const parts = buildStudent(modality, config);
    this.encoder = parts.encoder;
    this.transformer = parts.transformer;
    const rng = new Rng(config.seed + 1);
    this.head = new RegressionHead(config.model.dim, config.objective.headLayers, rng.seed());
    this.student = new ModuleGroup({ encoder: this.encoder, transformer: this.transformer, head: this.head });

    // The teacher tracks the Transformer only (speech, text: encoder shared) or encoder + Transformer (official vision).
    this.teacherTransformer = new Transformer(config.model, rng.seed());
    if (config.objective.emaEncoder) {
      this.teacherEncoder = modality.createEncoder(config, rng.seed());
      this.ema = new EmaTeacher(
        new ModuleGroup({ encoder: this.encoder, transformer: this.transformer }),
        new ModuleGroup({ encoder: this.teacherEncoder, transformer: this.teacherTransformer }),
      );
    } else {
      this.teacherEncoder = this.encoder;
      this.ema = new EmaTeacher(this.transformer, this.teacherTransformer);
    }
  }

  trainableParams(): [string, ParamInfo][] {
    return this.student.namedParams().filter(([, p]) => p.variable.trainable);
  }

  itemsPerMicroBatch() {
    return { count: this.config.train.batchSize, unit: 'samples' };
  }

  describe(): string {
    const m = this.config.model;
    return (
      `data2vec ${this.modality.name}: ${m.depth} blocks x ${m.dim} wide, ${m.heads} heads, FFN ${m.ffnDim}, ${m.norm}-LN; ` +
      `student ${(this.student.numParams() / 1e6).toFixed(2)}M params, teacher ${(this.ema.teacher.numParams() / 1e6).toFixed(2)}M ` +
      `(EMA of ${this.config.objective.emaEncoder ? 'encoder + Transformer' : 'Transformer; encoder shared'}); data: ${this.data.describe()}`
    );
  }

  /**
   * With a shared encoder and a student batch equal to the teacher's (masking applied in embed(), as
   * speech), the encoder's features() are computed once, in loss(), and the teacher reuses them
   * (fairseq feeds its EMA Transformer the student's pre-mask features): saves one pass of the
   * feature encoder per micro-batch, the largest cost for speech. features() must be the same in
   * training and eval mode (no dropout) for this to be the teacher's input.
   */
  private sharesFeatures(mask: MaskResult): boolean {
    return !this.config.objective.emaEncoder && mask.studentBatch === undefined;
  }

  /** Teacher targets at the loss positions [M, C] from the teacher's encoder features. */
  private teacherTargets(f: Features, lossIndices: tf.Tensor1D): tf.Tensor2D {
    const o = this.config.objective;
    return tf.tidy(() => {
      const e = this.teacherEncoder.embed(f, { training: false });
      const out = this.teacherTransformer.forward(e.x, { paddingMask: e.paddingMask, attnBias: e.attnBias });
      const layers = o.targetSource === 'ffn' ? out.ffn : out.blocks;
      const y = buildTargets(layers, {
        topK: o.topK,
        instanceNormTargetLayer: o.instanceNormTargetLayer,
        layerNormTargetLayer: o.layerNormTargetLayer,
        instanceNormTargets: o.instanceNormTargets,
        layerNormTargets: o.layerNormTargets,
        paddingMask: e.paddingMask,
      });
      disposeOutput(out);
      return gatherRows(y, lossIndices);
    });
  }

  /** Batch and mask; the teacher pass too (outside the gradient tape) unless loss() shares the encoder features. */
  prepare(index: number, rng: Rng): Prepared {
    const batch = this.data.batch(index, this.config.train.batchSize, rng.fork());
    const mask = this.masker.mask(batch, rng.fork());
    const lossIndices = tf.tensor1d(mask.lossIndices, 'int32');
    const maskTensor = mask.mask ? tf.tensor2d(mask.mask, [batch.size, mask.length], 'float32') : undefined;
    if (this.sharesFeatures(mask)) return { batch, mask, lossIndices, maskTensor };
    const targets = tf.tidy(() => this.teacherTargets(this.teacherEncoder.features(batch, { training: false }), lossIndices));
    return { batch, mask, targets, lossIndices, maskTensor };
  }

  loss(_index: number, rng: Rng, p: Prepared): LossResult {
    const o = this.config.objective;
    const ctx = { training: true, rng };
    const f = this.encoder.features(p.mask.studentBatch ?? p.batch, ctx);
    // The teacher pass runs off the tape (stopGradient): no gradient reaches the encoder through the targets.
    const targets = p.targets ?? (stopGradient((x) => this.teacherTargets({ ...f, features: x as tf.Tensor3D }, p.lossIndices), f.features) as tf.Tensor2D);
    const e = this.encoder.embed(f, { ...ctx, mask: p.maskTensor });
    const out = this.transformer.forward(e.x, { paddingMask: e.paddingMask, attnBias: e.attnBias, rng, collect: false });
    const pred = this.head.apply(gatherRows(out.output, p.lossIndices));
    const loss = regressionLoss(pred, targets, { beta: o.lossBeta, scale: o.lossScale ?? undefined });
    return { loss, metrics: { target_var: channelStd(targets), pred_var: channelStd(pred) } };
  }

  release(p: Prepared): void {
    p.batch.dispose();
    p.mask.studentBatch?.dispose();
    p.targets?.dispose();
    p.lossIndices.dispose();
    p.maskTensor?.dispose();
  }

  afterUpdate(step: number): Record<string, number> {
    const o = this.config.objective;
    const tau = emaDecay(step, { start: o.emaStart, end: o.emaEnd, annealSteps: o.emaAnnealSteps });
    this.ema.update(tau);
    return { ema_decay: tau };
  }

  check(step: number, metrics: Record<string, number>): void {
    const o = this.config.objective;
    checkCollapse(step, metrics['target_var'] ?? Infinity, metrics['pred_var'] ?? Infinity, {
      minTargetVar: o.minTargetVar,
      minPredVar: o.minPredVar,
      afterSteps: o.collapseCheckAfter,
    });
  }

  checkpointGroups(): Record<string, Record<string, tf.Tensor>> {
    return { student: this.student.state(), teacher: this.ema.teacher.state() };
  }

  restore(groups: Record<string, Record<string, tf.Tensor>>, file: string): void {
    this.student.loadState(groups['student'] ?? {}, `${file} (student)`);
    this.ema.teacher.loadState(groups['teacher'] ?? {}, `${file} (teacher)`);
  }

  /** The student's modules, for saving or handing to downstream tasks. */
  studentModules(): Record<string, Module> {
    return { encoder: this.encoder, transformer: this.transformer, head: this.head };
  }

  dispose(): void {
    this.student.dispose();
    if (this.config.objective.emaEncoder) this.teacherEncoder.dispose();
    this.teacherTransformer.dispose();
  }
}
