/**
 * data2vec 2.0 (Baevski et al., "Efficient Self-supervised Learning with Contextualized Target
 * Representations for Vision, Speech and Language", 2022). Three changes to data2vec 1.0 make it
 * learn several times faster per unit of compute:
 *  1. the student encodes only the visible steps (the masked ones are dropped, as in MAE), and a
 *     light convolutional decoder fills the masked positions with noise and predicts their targets;
 *  2. each sample is masked `clones` times (multi-mask): the teacher runs once per sample and its
 *     targets serve every copy, so the expensive target computation is amortised;
 *  3. targets are built as before (top-K teacher outputs, each instance-normed, averaged).
 * The loss is the squared error of every masked step of every copy, averaged over them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { regressionLoss, type RegressionLossOptions } from '../objective/loss.js';
import { channelStd } from '../objective/collapse.js';
import { gatherRows, stopGradient } from '../ops/basic.js';
import { ConvDecoder } from './decoder.js';
import { Data2VecTaskBase } from './base.js';
import { ConfigError, ShapeError } from '../errors.js';
import type { Rng } from '../util/rng.js';
import type { LossResult } from '../train/task.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { Batch, DataSource, MaskingStrategy, AnyModality } from '../registry/modality.js';

/** Where every step of every masked copy goes; rows are copies, r = sample * clones + copy. */
export interface MultiMask {
  /** Copies (R = B * clones) and steps per copy. */
  rows: number;
  steps: number;
  /** Visible steps per copy (the same in every row). */
  visible: number;
  /** [R, T] 1 = masked, for the encoder's embed(). */
  mask: Uint8Array;
  /** r*T + t of the visible steps, row by row in step order: what the student encodes. */
  keep: Int32Array;
  /** For decoder input laid out as [visible..., masked...] per row: the flat index that restores step order. */
  restore: Int32Array;
  /** r*T + t of the masked steps (predictions), and b*T + t (the teacher's targets for them). */
  masked: Int32Array;
  targetRows: Int32Array;
  /** The sample each row copies, [R]. */
  sampleOf: Int32Array;
}

/** Lays out `clones` masks of a batch of B samples ([B*T] each, 1 = masked) as one multi-mask. */
export function multiMask(masks: Uint8Array[], batch: number, steps: number): MultiMask {
  const clones = masks.length;
  const rows = batch * clones;
  const mask = new Uint8Array(rows * steps);
  const sampleOf = new Int32Array(rows);
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < clones; c++) {
      const r = b * clones + c;
      sampleOf[r] = b;
      mask.set(masks[c]!.subarray(b * steps, (b + 1) * steps), r * steps);
    }
  }
  let masked = 0;
  for (let t = 0; t < steps; t++) masked += mask[t]!;
  const visible = steps - masked;
  const keep = new Int32Array(rows * visible);
  const maskedIdx = new Int32Array(rows * masked);
  const targetRows = new Int32Array(rows * masked);
  const restore = new Int32Array(rows * steps);
  for (let r = 0, k = 0, m = 0; r < rows; r++) {
    let kv = 0;
    let km = 0;
    for (let t = 0; t < steps; t++) {
      const at = r * steps + t;
      if (mask[at]) {
        maskedIdx[m] = at;
        targetRows[m++] = sampleOf[r]! * steps + t;
        restore[at] = r * steps + visible + km++;
      } else {
        keep[k++] = at;
        restore[at] = r * steps + kv++;
      }
    }
    if (kv !== visible) {
      throw new ShapeError(`data2vec 2.0 needs the same number of masked steps in every row: row ${r} has ${steps - kv}, row 0 has ${masked} (the modality's masker must give an exact count)`);
    }
  }
  return { rows, steps, visible, mask, keep, restore, masked: maskedIdx, targetRows, sampleOf };
}

/**
 * The data2vec 2.0 loss: the decoder's predictions [R, T, C] at every copy's masked steps against
 * the teacher's targets [B, T, C] of the sample it copies, averaged over all of them.
 */
export function maskedRegression(
  decoded: tf.Tensor3D,
  targets: tf.Tensor3D,
  at: { masked: tf.Tensor1D; targetRows: tf.Tensor1D },
  opts: RegressionLossOptions,
): { pred: tf.Tensor2D; target: tf.Tensor2D; loss: tf.Scalar } {
  const pred = gatherRows(decoded, at.masked);
  const target = gatherRows(targets, at.targetRows);
  return { pred, target, loss: regressionLoss(pred, target, opts) };
}

interface Prepared {
  batch: Batch;
  layout: MultiMask;
  /** Teacher targets [B, T, C]; undefined when loss() builds them from the shared features. */
  targets?: tf.Tensor3D;
  tensors: { mask: tf.Tensor2D; keep: tf.Tensor1D; restore: tf.Tensor1D; masked: tf.Tensor1D; targetRows: tf.Tensor1D; sampleOf: tf.Tensor1D };
}

export class Data2Vec2PretrainTask extends Data2VecTaskBase<Prepared> {
  readonly decoder: ConvDecoder;

  constructor(modality: AnyModality, config: ResolvedConfig, data: DataSource, masker: MaskingStrategy) {
    let decoder!: ConvDecoder;
    const o = config.objective;
    super(modality, config, data, masker, 'decoder', (seed) => (decoder = new ConvDecoder(o.decoder, config.model.dim, o.headLayers, seed)));
    this.decoder = decoder;
  }

  /** Batch, `clones` masks per sample, and the teacher's targets when it has its own encoder. */
  prepare(index: number, rng: Rng): Prepared {
    const o = this.config.objective;
    const batch = this.data.batch(index, this.config.train.batchSize, rng.fork());
    const masks: Uint8Array[] = [];
    let steps = 0;
    for (let c = 0; c < o.clones; c++) {
      const m = this.masker.mask(batch, rng.fork());
      if (!m.mask || m.studentBatch) {
        m.studentBatch?.dispose();
        throw new ConfigError(`objective.version 2 needs a masker that marks masked steps (mask) without corrupting the batch; ${this.modality.name}'s masker does not`, 'objective.version');
      }
      masks.push(m.mask);
      steps = m.length;
    }
    const layout = multiMask(masks, batch.size, steps);
    const tensors = {
      mask: tf.tensor2d(layout.mask, [layout.rows, steps], 'float32'),
      keep: tf.tensor1d(layout.keep, 'int32'),
      restore: tf.tensor1d(layout.restore, 'int32'),
      masked: tf.tensor1d(layout.masked, 'int32'),
      targetRows: tf.tensor1d(layout.targetRows, 'int32'),
      sampleOf: tf.tensor1d(layout.sampleOf, 'int32'),
    };
    // With a shared encoder loss() computes the features once and the teacher reuses them.
    const targets = o.emaEncoder ? tf.tidy(() => this.teacherTargets(this.teacherEncoder.features(batch, { training: false }), true)) : undefined;
    return { batch, layout, targets, tensors };
  }

  loss(_index: number, rng: Rng, p: Prepared): LossResult {
    const o = this.config.objective;
    const { layout, tensors: ix } = p;
    const ctx = { training: true, rng };
    const f = this.encoder.features(p.batch, ctx);
    const targets = p.targets ?? (stopGradient((x) => this.teacherTargets({ ...f, features: x as tf.Tensor3D }, true), f.features) as tf.Tensor3D);

    // Student: every copy's visible steps only (plus extra tokens such as CLS in front).
    const copies = (x: tf.Tensor) => (o.clones > 1 ? tf.gather(x, ix.sampleOf) : x);
    const e = this.encoder.embed({ ...f, features: copies(f.features) as tf.Tensor3D, paddingMask: f.paddingMask && (copies(f.paddingMask) as tf.Tensor2D) }, { ...ctx, mask: ix.mask });
    if (e.attnBias) {
      throw new ConfigError(`objective.version 2 drops masked steps, so a full-length attention bias cannot follow (${this.modality.name}: use learned positions)`, 'objective.version');
    }
    const extra = e.x.shape[1] - layout.steps;
    const visibleOnly = (x: tf.Tensor3D) => {
      const dim = x.shape[2];
      const body = tf.reshape(gatherRows(tf.slice(x, [0, extra, 0], [-1, -1, -1]) as tf.Tensor3D, ix.keep), [layout.rows, layout.visible, dim]);
      return (extra > 0 ? tf.concat([tf.slice(x, [0, 0, 0], [-1, extra, -1]), body], 1) : body) as tf.Tensor3D;
    };
    const paddingMask = e.paddingMask && (tf.squeeze(visibleOnly(tf.expandDims(e.paddingMask, 2) as tf.Tensor3D), [2]) as tf.Tensor2D);
    const out = this.transformer.forward(visibleOnly(e.x), { paddingMask, rng, collect: false });

    // Decoder: the visible outputs back in place, noise (no mask token) at the masked steps.
    const dim = out.output.shape[2];
    const visible = tf.slice(out.output, [0, extra, 0], [-1, -1, -1]);
    const noise = tf.randomNormal([layout.rows, layout.steps - layout.visible, dim], 0, o.maskNoiseStd, 'float32', rng.seed());
    const input = tf.reshape(gatherRows(tf.concat([visible, noise], 1) as tf.Tensor3D, ix.restore), [layout.rows, layout.steps, dim]) as tf.Tensor3D;
    const decoded = this.decoder.apply(input, { grid: f.grid, rng });

    const scale = o.lossScale ?? undefined;
    const { pred, target, loss: regression } = maskedRegression(decoded, targets, ix, { beta: o.lossBeta, scale });
    let loss = regression;
    if (o.clsLoss > 0 && extra > 0) {
      // The last extra token (CLS) regresses the mean target of its sample; like fairseq it is summed over copies.
      const cls = tf.reshape(tf.slice(out.output, [0, extra - 1, 0], [-1, 1, -1]), [layout.rows, dim]) as tf.Tensor2D;
      const clsTarget = tf.gather(tf.mean(targets, 1), ix.sampleOf) as tf.Tensor2D;
      loss = tf.add(loss, tf.mul(regressionLoss(cls, clsTarget, { beta: o.lossBeta, scale }), o.clsLoss * layout.rows)) as tf.Scalar;
    }
    return { loss, metrics: { target_var: channelStd(target), pred_var: channelStd(pred) } };
  }

  release(p: Prepared): void {
    p.batch.dispose();
    p.targets?.dispose();
    tf.dispose(Object.values(p.tensors));
  }
}
