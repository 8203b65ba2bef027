/** Weight initialisers; every one takes an explicit seed so runs are reproducible. */
import * as tf from '@tensorflow/tfjs-core';

/** Truncated normal at +-2 std (BERT/ViT convention, std 0.02). */
export function truncNormal(shape: number[], std: number, seed: number): tf.Tensor {
  return tf.truncatedNormal(shape, 0, std, 'float32', seed);
}

/** Xavier/Glorot uniform for a [fanIn, fanOut] matrix. */
export function xavierUniform(shape: [number, number], seed: number, gain = 1): tf.Tensor {
  const limit = gain * Math.sqrt(6 / (shape[0] + shape[1]));
  return tf.randomUniform(shape, -limit, limit, 'float32', seed);
}

/** Kaiming-style uniform used for conv kernels: U(-1/sqrt(fanIn), 1/sqrt(fanIn)). */
export function fanInUniform(shape: number[], fanIn: number, seed: number): tf.Tensor {
  const limit = 1 / Math.sqrt(fanIn);
  return tf.randomUniform(shape, -limit, limit, 'float32', seed);
}
