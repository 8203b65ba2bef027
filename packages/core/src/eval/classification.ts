/**
 * What every classification head shares: the loss on integer labels and the metrics of its
 * predictions (accuracy, macro-averaged F1, the confusion matrix).
 */
import * as tf from '@tensorflow/tfjs-core';

/** Mean cross entropy of logits [B, K] against int labels [B]. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const onehot = tf.oneHot(labels, logits.shape[1]).toFloat();
    return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1))) as tf.Scalar;
  });
}

export interface ClassificationMetrics {
  accuracy: number;
  /** Unweighted mean over classes of F1 (a class never predicted nor present scores 0 and is left out). */
  macroF1: number;
  /** F1 per class, in label order. */
  f1: number[];
  /** confusion[true][predicted]: counts, classes x classes. */
  confusion: number[][];
}

export function classificationMetrics(pred: ArrayLike<number>, labels: ArrayLike<number>, classes: number): ClassificationMetrics {
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    const p = pred[i]!;
    if (!(y >= 0 && y < classes && p >= 0 && p < classes)) throw new RangeError(`classificationMetrics: label ${y} / prediction ${p} outside 0..${classes - 1}`);
    confusion[y]![p]!++;
  }
  const f1: number[] = [];
  let correct = 0;
  let sum = 0;
  let present = 0;
  for (let k = 0; k < classes; k++) {
    const tp = confusion[k]![k]!;
    let fn = 0;
    let fp = 0;
    for (let j = 0; j < classes; j++) {
      if (j === k) continue;
      fn += confusion[k]![j]!;
      fp += confusion[j]![k]!;
    }
    correct += tp;
    const denom = 2 * tp + fp + fn;
    f1.push(denom > 0 ? (2 * tp) / denom : 0);
    if (denom > 0) {
      sum += f1[k]!;
      present++;
    }
  }
  return { accuracy: labels.length ? correct / labels.length : 0, macroF1: present ? sum / present : 0, f1, confusion };
}
