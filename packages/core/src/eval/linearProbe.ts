/**
 * Linear probe: multinomial logistic regression on frozen features
 * (standardised with the training split's statistics), trained with Adam.
 * Shared by every modality's `eval --task probe`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../util/rng.js';

export interface ProbeData {
  features: Float32Array;
  labels: Int32Array;
}

export interface ProbeOptions {
  dim: number;
  classes: number;
  epochs: number;
  lr: number;
  batchSize: number;
  weightDecay: number;
  seed: number;
}

export interface ProbeResult {
  trainAccuracy: number;
  testAccuracy: number;
}

export function accuracyOf(pred: ArrayLike<number>, labels: ArrayLike<number>): number {
  let c = 0;
  for (let i = 0; i < labels.length; i++) c += pred[i] === labels[i] ? 1 : 0;
  return labels.length ? c / labels.length : 0;
}

export function trainLinearProbe(train: ProbeData, test: ProbeData, o: ProbeOptions): ProbeResult {
  const n = train.labels.length;
  const rng = new Rng(o.seed);
  const mean = new Float32Array(o.dim);
  const std = new Float32Array(o.dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < o.dim; d++) mean[d] += train.features[i * o.dim + d]! / n;
  for (let i = 0; i < n; i++) for (let d = 0; d < o.dim; d++) std[d] += (train.features[i * o.dim + d]! - mean[d]!) ** 2 / n;
  for (let d = 0; d < o.dim; d++) std[d] = Math.sqrt(std[d]!) + 1e-6;
  const standardise = (x: Float32Array) => {
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = (x[i]! - mean[i % o.dim]!) / std[i % o.dim]!;
    return out;
  };
  const xTrain = tf.tensor2d(standardise(train.features), [n, o.dim]);
  const yTrain = tf.tensor1d(train.labels, 'int32');
  // A variable shares its initial tensor's data; that tensor is ours to dispose.
  const w = tf.tidy(() => tf.variable(tf.zeros([o.dim, o.classes])));
  const b = tf.tidy(() => tf.variable(tf.zeros([o.classes])));
  const opt = tf.train.adam(o.lr);
  const logits = (x: tf.Tensor2D) => tf.add(tf.matMul(x, w), b) as tf.Tensor2D;
  try {
    const order = [...Array(n).keys()];
    for (let e = 0; e < o.epochs; e++) {
      rng.shuffle(order);
      for (let s = 0; s < n; s += o.batchSize) {
        const idx = tf.tensor1d(order.slice(s, s + o.batchSize), 'int32');
        const cost = opt.minimize(
          () =>
            tf.tidy(() => {
              const x = tf.gather(xTrain, idx) as tf.Tensor2D;
              const y = tf.oneHot(tf.gather(yTrain, idx), o.classes).toFloat();
              const ce = tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(logits(x))), 1)));
              return tf.add(ce, tf.mul(tf.sum(tf.square(w)), o.weightDecay)) as tf.Scalar;
            }),
          false,
        );
        cost?.dispose();
        idx.dispose();
      }
    }
    const predict = (x: Float32Array, rows: number) =>
      tf.tidy(() => tf.argMax(logits(tf.tensor2d(standardise(x), [rows, o.dim])), 1).dataSync() as Int32Array);
    return {
      trainAccuracy: accuracyOf(predict(train.features, n), train.labels),
      testAccuracy: accuracyOf(predict(test.features, test.labels.length), test.labels),
    };
  } finally {
    tf.dispose([xTrain, yTrain, w, b]);
    opt.dispose();
  }
}
