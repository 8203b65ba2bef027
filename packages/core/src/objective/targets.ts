/**
 * data2vec targets: the average of the teacher's top-K block outputs, each
 * optionally normalised, the average optionally normalised again.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';

export interface TargetOptions {
  /** How many of the last layers to average (K). */
  topK: number;
  /** Per layer: each channel normalised over time (speech). */
  instanceNormTargetLayer?: boolean;
  /** Per layer: parameter-less layer norm over channels (vision, text). */
  layerNormTargetLayer?: boolean;
  /** On the average: instance norm over time. */
  instanceNormTargets?: boolean;
  /** On the average: parameter-less layer norm over channels (vision). */
  layerNormTargets?: boolean;
  /** [B, T], 1 where padding: instance norm statistics ignore padded steps. */
  paddingMask?: tf.Tensor2D;
  eps?: number;
}

const EPS = 1e-5;

/** Parameter-less layer norm over the last (channel) axis. */
export function layerNormNoParams(x: tf.Tensor, eps = EPS): tf.Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  });
}

/** Instance norm: each (sample, channel) normalised over time (axis 1), padding excluded. */
export function instanceNormOverTime(x: tf.Tensor3D, paddingMask?: tf.Tensor2D, eps = EPS): tf.Tensor3D {
  return tf.tidy(() => {
    if (!paddingMask) {
      const { mean, variance } = tf.moments(x, 1, true);
      return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))) as tf.Tensor3D;
    }
    const keep = tf.expandDims(tf.sub(1, tf.cast(paddingMask, 'float32')), -1); // [B,T,1]
    const n = tf.maximum(tf.sum(keep, 1, true), 1);
    const mean = tf.div(tf.sum(tf.mul(x, keep), 1, true), n);
    const centred = tf.sub(x, mean);
    const variance = tf.div(tf.sum(tf.mul(tf.square(centred), keep), 1, true), n);
    return tf.mul(centred, tf.rsqrt(tf.add(variance, eps))) as tf.Tensor3D;
  });
}

export function buildTargets(layers: tf.Tensor3D[], opts: TargetOptions): tf.Tensor3D {
  const { topK } = opts;
  if (!Number.isInteger(topK) || topK < 1) throw new ConfigError(`objective.topK must be a positive integer (got ${topK})`, 'objective.topK');
  if (layers.length < topK) {
    throw new ConfigError(`objective.topK is ${topK} but the teacher has only ${layers.length} blocks`, 'objective.topK');
  }
  const shape = layers[0]!.shape;
  for (const l of layers) {
    if (!tf.util.arraysEqual(l.shape, shape)) throw new ShapeError(`buildTargets: layer shapes differ ([${l.shape}] vs [${shape}])`);
  }
  const eps = opts.eps ?? EPS;
  return tf.tidy(() => {
    let sum: tf.Tensor | undefined;
    for (const layer of layers.slice(layers.length - topK)) {
      let y: tf.Tensor = layer;
      if (opts.instanceNormTargetLayer) y = instanceNormOverTime(y as tf.Tensor3D, opts.paddingMask, eps);
      if (opts.layerNormTargetLayer) y = layerNormNoParams(y, eps);
      sum = sum ? tf.add(sum, y) : y;
    }
    let avg = tf.div(sum!, topK) as tf.Tensor3D;
    if (opts.instanceNormTargets) avg = instanceNormOverTime(avg, opts.paddingMask, eps);
    if (opts.layerNormTargets) avg = layerNormNoParams(avg, eps) as tf.Tensor3D;
    return avg;
  });
}
