/** data2vec regression loss on the masked time-steps. */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors.js';

export interface RegressionLossOptions {
  /** 0: squared error; > 0: Smooth L1 with this beta. */
  beta: number;
  /** Multiplies the per-row channel sum; default 1/sqrt(C). */
  scale?: number;
}

/** Elementwise squared error (beta = 0) or Smooth L1 (beta > 0). */
export function elementwiseRegression(pred: tf.Tensor, target: tf.Tensor, beta: number): tf.Tensor {
  return tf.tidy(() => {
    const d = tf.sub(pred, target);
    if (beta <= 0) return tf.square(d);
    // 0.5 min(|d|,b)^2 / b + (|d| - min(|d|,b)) is Smooth L1 written without a comparison op,
    // which tfjs cannot differentiate through: quadratic inside beta, linear (slope 1) outside.
    const ad = tf.abs(d);
    const inner = tf.minimum(ad, beta);
    return tf.add(tf.div(tf.mul(tf.square(inner), 0.5), beta), tf.sub(ad, inner));
  });
}

/** Rows are masked time-steps [M, C]: sum over C, times scale, mean over rows. */
export function regressionLoss(pred: tf.Tensor2D, target: tf.Tensor2D, opts: RegressionLossOptions): tf.Scalar {
  if (!tf.util.arraysEqual(pred.shape, target.shape) || pred.rank !== 2) {
    throw new ShapeError(`regressionLoss: prediction [${pred.shape}] and target [${target.shape}] must be equal [M, C]`);
  }
  const c = pred.shape[1];
  const scale = opts.scale ?? 1 / Math.sqrt(c);
  return tf.tidy(() => tf.mul(tf.mean(tf.sum(elementwiseRegression(pred, target, opts.beta), 1)), scale) as tf.Scalar);
}
