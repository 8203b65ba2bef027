/**
 * Downstream image classification: mean-pool the last block's patch outputs,
 * layer norm, linear head (weights scaled by 1e-3 at init as in data2vec/BEiT),
 * cross entropy with label smoothing, optional layer-wise lr decay.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module, Linear, LayerNorm, Rng, maskedMeanOverTime, layerNormNoParams, disposeOutput, type DownstreamContext, type FeatureEncoder, type Transformer } from '@d2v/core';
import type { VisionBatch } from './batch.js';

export class ClassifierHead extends Module {
  readonly norm: LayerNorm;
  readonly fc: Linear;
  constructor(dim: number, classes: number, seed: number) {
    super();
    this.norm = this.child('norm', new LayerNorm(dim));
    this.fc = this.child('fc', new Linear(dim, classes, seed, { std: 0.02 * 1e-3 }));
  }
  apply(pooled: tf.Tensor2D): tf.Tensor2D {
    return this.fc.apply(this.norm.apply(pooled)) as tf.Tensor2D;
  }
}

/**
 * Probe features: the mean over patch tokens of the average of the last `topBlocks` block
 * outputs, each layer-normed without parameters — the representation data2vec regresses
 * (its targets average the top K blocks). `topBlocks` 1 is `pooledFeatures` in eval mode.
 */
export function probeFeatures(encoder: FeatureEncoder<VisionBatch>, transformer: Transformer, batch: VisionBatch, topBlocks: number, cls = false): tf.Tensor2D {
  if (topBlocks <= 1) return pooledFeatures(encoder, transformer, batch, false, undefined, cls);
  return tf.tidy(() => {
    const e = encoder.embed(encoder.features(batch, { training: false }), { training: false });
    const out = transformer.forward(e.x, { attnBias: e.attnBias, collect: true });
    const top = out.blocks.slice(-Math.min(topBlocks, out.blocks.length)).map((b) => layerNormNoParams(b));
    const avg = tf.div(tf.addN(top), top.length) as tf.Tensor3D;
    disposeOutput(out);
    const tokens = cls ? tf.slice(avg, [0, 1, 0], [-1, -1, -1]) : avg;
    return maskedMeanOverTime(tokens as tf.Tensor3D);
  });
}

/** Mean over patch tokens (CLS excluded) of the Transformer output: [B, dim]. */
export function pooledFeatures(encoder: FeatureEncoder<VisionBatch>, transformer: Transformer, batch: VisionBatch, training: boolean, rng?: Rng, cls = false): tf.Tensor2D {
  return tf.tidy(() => {
    const f = encoder.features(batch, { training, rng });
    const e = encoder.embed(f, { training, rng });
    const out = transformer.forward(e.x, { attnBias: e.attnBias, rng: training ? rng : undefined, collect: false });
    const tokens = cls ? tf.slice(out.output, [0, 1, 0], [-1, -1, -1]) : out.output;
    return maskedMeanOverTime(tokens as tf.Tensor3D);
  });
}

/** Cross entropy with label smoothing on int labels. */
export function smoothedCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, classes: number, smoothing: number): tf.Scalar {
  return tf.tidy(() => {
    const onehot = tf.oneHot(labels, classes).toFloat();
    const target = smoothing > 0 ? tf.add(tf.mul(onehot, 1 - smoothing), smoothing / classes) : onehot;
    return tf.neg(tf.mean(tf.sum(tf.mul(target, tf.logSoftmax(logits)), 1))) as tf.Scalar;
  });
}

/** Layer-wise lr decay: the head gets 1, block i gets decay^(depth - i), the encoder decay^(depth + 1). */
export function applyLayerDecay(ctx: DownstreamContext, decay: number): void {
  if (decay >= 1) return;
  const depth = ctx.transformer.blocks.length;
  for (const [, p] of ctx.encoder.namedParams()) p.lrScale = decay ** (depth + 1);
  for (const [name, p] of ctx.transformer.namedParams()) {
    const m = /^blocks\.(\d+)\./.exec(name);
    p.lrScale = m ? decay ** (depth - Number(m[1])) : 1;
  }
}

/** The head's name in a fine-tuned checkpoint: its parameters are `classifier.*`. */
export const CLASSIFIER = 'classifier';

