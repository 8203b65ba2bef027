/**
 * What data2vec 1.0 and 2.0 share (fairseq data2vec 2.0 keeps it in one base too): a student
 * (the modality's feature encoder + the Transformer + a predictor: regression head or decoder),
 * an EMA teacher (the Transformer, or encoder + Transformer), the teacher's targets, the EMA
 * update, the collapse guard and the checkpoint layout. The versions differ in what the student
 * sees and how it predicts: prepare()/loss()/release().
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModuleGroup, type Module, type ParamInfo } from '../nn/module.js';
import { Transformer, disposeOutput } from '../nn/transformer.js';
import { EmaTeacher, emaDecay } from '../objective/ema.js';
import { buildTargets } from '../objective/targets.js';
import { checkCollapse } from '../objective/collapse.js';
import { Rng } from '../util/rng.js';
import type { TrainTask, LossResult } from '../train/task.js';
import type { ObjectiveConfig, ResolvedConfig } from '../config/resolve.js';
import type { DataSource, FeatureEncoder, Features, MaskingStrategy, AnyModality, Modality } from '../registry/modality.js';

export interface Data2VecParts<E extends FeatureEncoder<any> = FeatureEncoder> {
  encoder: E;
  transformer: Transformer;
}

/** Builds a student encoder + Transformer for a modality and config (seeded); the encoder has the modality's encoder type. */
export function buildStudent<E extends FeatureEncoder<any>>(modality: Modality<any, any, E>, config: ResolvedConfig): Data2VecParts<E> {
  const rng = new Rng(config.seed);
  const encoder = modality.createEncoder(config, rng.seed());
  const transformer = new Transformer(config.model, rng.seed());
  return { encoder, transformer };
}

/**
 * data2vec's targets from an encoder + Transformer on unmasked features: the top-K block (or FFN)
 * outputs, each normalised as `objective` says, averaged, normalised again ([B, T, C]; T as the
 * Transformer sees it, or without the extra tokens such as CLS in front when `dropExtra`). The
 * teacher's targets in pretraining, and `d2v embed --layers topk` on a trained model. `topK`
 * overrides objective.topK.
 */
export function topKTargets(encoder: FeatureEncoder, transformer: Transformer, f: Features, objective: ObjectiveConfig, dropExtra: boolean, topK = objective.topK): tf.Tensor3D {
  const o = objective;
  return tf.tidy(() => {
    const e = encoder.embed(f, { training: false });
    const out = transformer.forward(e.x, { paddingMask: e.paddingMask, attnBias: e.attnBias });
    const extra = dropExtra ? e.x.shape[1] - f.features.shape[1] : 0;
    const drop = (x: tf.Tensor3D) => (extra > 0 ? (tf.slice(x, [0, extra, 0], [-1, -1, -1]) as tf.Tensor3D) : x);
    const layers = (o.targetSource === 'ffn' ? out.ffn : out.blocks).map(drop);
    const y = buildTargets(layers, {
      topK,
      instanceNormTargetLayer: o.instanceNormTargetLayer,
      layerNormTargetLayer: o.layerNormTargetLayer,
      instanceNormTargets: o.instanceNormTargets,
      layerNormTargets: o.layerNormTargets,
      paddingMask: extra > 0 && e.paddingMask ? (tf.slice(e.paddingMask, [0, extra], [-1, -1]) as tf.Tensor2D) : e.paddingMask,
    });
    disposeOutput(out);
    return y;
  });
}

export abstract class Data2VecTaskBase<P> implements TrainTask<P> {
  readonly encoder: FeatureEncoder;
  readonly transformer: Transformer;
  readonly ema: EmaTeacher;
  readonly teacherEncoder: FeatureEncoder;
  readonly teacherTransformer: Transformer;
  protected readonly student: ModuleGroup;

  /** `predictor(seed)` builds what maps the student's outputs to targets; it is saved as `predictorName.*`. */
  constructor(
    readonly modality: AnyModality,
    readonly config: ResolvedConfig,
    readonly data: DataSource,
    readonly masker: MaskingStrategy,
    predictorName: string,
    predictor: (seed: number) => Module,
  ) {
    const parts = buildStudent(modality, config);
    this.encoder = parts.encoder;
    this.transformer = parts.transformer;
    const rng = new Rng(config.seed + 1);
    this.student = new ModuleGroup({ encoder: this.encoder, transformer: this.transformer, [predictorName]: predictor(rng.seed()) });

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

  abstract prepare(index: number, rng: Rng): P;
  abstract loss(index: number, rng: Rng, prepared: P): LossResult;
  abstract release(prepared: P): void;

  trainableParams(): [string, ParamInfo][] {
    return this.student.namedParams().filter(([, p]) => p.variable.trainable);
  }

  itemsPerMicroBatch() {
    return { count: this.config.train.batchSize, unit: 'samples' };
  }

  skippedFiles() {
    return this.data.skipped ?? [];
  }

  describe(): string {
    const m = this.config.model;
    const o = this.config.objective;
    const v2 = o.version === 2 ? `; data2vec 2.0: ${o.clones} masks per sample, ${o.decoder.layers}-layer ${o.decoder.conv} conv decoder x ${o.decoder.dim}` : '';
    return (
      `data2vec ${this.modality.name}: ${m.depth} blocks x ${m.dim} wide, ${m.heads} heads, FFN ${m.ffnDim}, ${m.norm}-LN; ` +
      `student ${(this.student.numParams() / 1e6).toFixed(2)}M params, teacher ${(this.ema.teacher.numParams() / 1e6).toFixed(2)}M ` +
      `(EMA of ${o.emaEncoder ? 'encoder + Transformer' : 'Transformer; encoder shared'})${v2}; data: ${this.data.describe()}`
    );
  }

  /**
   * The teacher's targets for every step of the unmasked input [B, T, C] (T as the Transformer sees
   * it, or without the extra tokens such as CLS in front when `dropExtra`). Off the tape: the caller
   * wraps it when needed.
   */
  protected teacherTargets(f: Features, dropExtra: boolean): tf.Tensor3D {
    return topKTargets(this.teacherEncoder, this.teacherTransformer, f, this.config.objective, dropExtra);
  }

  afterUpdate(step: number): Record<string, number> {
    const o = this.config.objective;
    const tau = emaDecay(step, { start: o.emaStart, end: o.emaEnd, annealSteps: o.emaAnnealSteps });
    this.ema.update(tau);
    return { ema_decay: tau };
  }

  /** The EMA teacher: worker threads compute targets with the main thread's teacher. */
  syncedVariables(): tf.Variable[] {
    return [...this.ema.teacher.variables().values()];
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

  dispose(): void {
    this.student.dispose();
    if (this.config.objective.emaEncoder) this.teacherEncoder.dispose();
    this.teacherTransformer.dispose();
  }
}
