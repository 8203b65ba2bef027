/**
 * data2vec 1.0 (Baevski et al., 2022): the student sees the whole input with the masked steps
 * replaced by a mask embedding and regresses, at the masked steps, the average of the EMA
 * teacher's normalised top-K block outputs computed on the unmasked input.
 */
import * as tf from '@tensorflow/tfjs-core';
import { regressionLoss } from '../objective/loss.js';
import { channelStd } from '../objective/collapse.js';
import { gatherRows, stopGradient } from '../ops/basic.js';
import { RegressionHead } from './regressionHead.js';
import { Data2VecTaskBase } from './base.js';
import type { Rng } from '../util/rng.js';
import type { LossResult } from '../train/task.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { DataSource, Features, MaskResult, MaskingStrategy, AnyModality, Batch } from '../registry/modality.js';

export { buildStudent, type Data2VecParts } from './base.js';

interface Prepared {
  batch: Batch;
  mask: MaskResult;
  /** Teacher targets at the loss positions [M, C]; undefined when loss() builds them from the shared features. */
  targets?: tf.Tensor2D;
  lossIndices: tf.Tensor1D;
  maskTensor?: tf.Tensor2D;
}

export class Data2VecPretrainTask extends Data2VecTaskBase<Prepared> {
  readonly head: RegressionHead;

  constructor(modality: AnyModality, config: ResolvedConfig, data: DataSource, masker: MaskingStrategy) {
    let head!: RegressionHead;
    super(modality, config, data, masker, 'head', (seed) => (head = new RegressionHead(config.model.dim, config.model.dim, config.objective.headLayers, seed)));
    this.head = head;
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
  private targetsAt(f: Features, lossIndices: tf.Tensor1D): tf.Tensor2D {
    return tf.tidy(() => gatherRows(this.teacherTargets(f, false), lossIndices));
  }

  /** Batch and mask; the teacher pass too (outside the gradient tape) unless loss() shares the encoder features. */
  prepare(index: number, rng: Rng): Prepared {
    const batch = this.data.batch(index, this.config.train.batchSize, rng.fork());
    const mask = this.masker.mask(batch, rng.fork());
    const lossIndices = tf.tensor1d(mask.lossIndices, 'int32');
    const maskTensor = mask.mask ? tf.tensor2d(mask.mask, [batch.size, mask.length], 'float32') : undefined;
    if (this.sharesFeatures(mask)) return { batch, mask, lossIndices, maskTensor };
    const targets = tf.tidy(() => this.targetsAt(this.teacherEncoder.features(batch, { training: false }), lossIndices));
    return { batch, mask, targets, lossIndices, maskTensor };
  }

  loss(_index: number, rng: Rng, p: Prepared): LossResult {
    const o = this.config.objective;
    const ctx = { training: true, rng };
    const f = this.encoder.features(p.mask.studentBatch ?? p.batch, ctx);
    // The teacher pass runs off the tape (stopGradient): no gradient reaches the encoder through the targets.
    const targets = p.targets ?? (stopGradient((x) => this.targetsAt({ ...f, features: x as tf.Tensor3D }, p.lossIndices), f.features) as tf.Tensor2D);
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
}
