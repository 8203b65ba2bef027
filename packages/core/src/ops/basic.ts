/**
 * Tensor ops written for speed on tfjs-wasm: dense layers always run as one
 * 2-D matMul (the only XNNPACK fast path there), and nothing here creates
 * rank-5 tensors.
 */
import * as tf from '@tensorflow/tfjs-core';

/** x[..., in] @ w[in, out] (+ b) as a single 2-D matMul. */
export function linear(x: tf.Tensor, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor {
  return tf.tidy(() => {
    const inDim = x.shape[x.rank - 1]!;
    const outDim = w.shape[1];
    const x2 = x.rank === 2 ? x : tf.reshape(x, [-1, inDim]);
    let y = tf.matMul(x2 as tf.Tensor2D, w);
    if (b) y = tf.add(y, b);
    return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), outDim]);
  });
}

/** Normalises over the last axis; gamma/beta optional (parameter-less when omitted). */
export function layerNorm(x: tf.Tensor, gamma?: tf.Tensor, beta?: tf.Tensor, eps = 1e-5): tf.Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    let y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
    if (gamma) y = tf.mul(y, gamma);
    if (beta) y = tf.add(y, beta);
    return y;
  });
}

const SQRT1_2 = Math.SQRT1_2;

/** Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), as in BERT/ViT/wav2vec. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, SQRT1_2)), 1)));
}

/** Inverted dropout; a no-op when rate is 0. The seed makes it reproducible. */
export function dropout(x: tf.Tensor, rate: number, seed: number): tf.Tensor {
  if (rate <= 0) return x;
  return tf.dropout(x, rate, undefined, seed);
}

/**
 * Rows of a [B, T, C] tensor at flat indices (b * T + t) as [M, C]. The gather
 * gradient (UnsortedSegmentSum) is provided on wasm by the kernel patches.
 */
export function gatherRows(x: tf.Tensor3D | tf.Tensor2D, flatIndices: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy(() => {
    const c = x.shape[x.rank - 1]!;
    const flat = x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [-1, c]);
    return tf.gather(flat, flatIndices) as tf.Tensor2D;
  });
}

/** Mean over time with an optional padding mask [B, T] (1 = padding). */
export function maskedMeanOverTime(x: tf.Tensor3D, paddingMask?: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    if (!paddingMask) return tf.mean(x, 1) as tf.Tensor2D;
    const keep = tf.expandDims(tf.sub(1, tf.cast(paddingMask, 'float32')), -1);
    const sum = tf.sum(tf.mul(x, keep), 1);
    return tf.div(sum, tf.maximum(tf.sum(keep, 1), 1)) as tf.Tensor2D;
  });
}

/** x [B, T, C] with the rows where mask [B, T] is 1 replaced by the learned mask embedding [C]. */
export function applyMaskEmbedding(x: tf.Tensor, mask: tf.Tensor2D, embedding: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const m = tf.expandDims(mask, -1);
    return tf.add(tf.mul(x, tf.sub(1, m)), tf.mul(m, embedding));
  });
}

/**
 * `fn(x)` computed off the gradient tape, with a zero gradient to `x` (a stop-gradient around a
 * whole computation). Ops inside a custom gradient's forward are not recorded, so variables that
 * `fn` reads (e.g. a shared positional conv in the teacher pass) get no gradient through it.
 */
export function stopGradient(fn: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor): tf.Tensor {
  const stopped = tf.customGrad(((input: tf.Tensor) => ({ value: fn(input), gradFunc: () => tf.zerosLike(input) })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return stopped(x);
}
