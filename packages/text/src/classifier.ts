/**
 * Sentence classification on top of the data2vec text encoder, as RoBERTa:
 * the last block's output at `<s>` -> dropout -> dense C->C -> tanh ->
 * dropout -> projection to the classes; cross entropy. Metrics: accuracy and
 * macro-averaged F1.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Module, Linear, Rng, disposeOutput, dropout, maskedMeanOverTime, type FeatureEncoder, type Transformer } from '@d2v/core';
import type { TextBatch } from './batch.js';

/** The head's name in a fine-tuned checkpoint: its parameters are `classifier.*`. */
export const CLASSIFIER = 'classifier';

export class ClassificationHead extends Module {
  readonly dense: Linear;
  readonly outProj: Linear;
  constructor(
    dim: number,
    readonly classes: number,
    readonly dropoutRate: number,
    seed: number,
  ) {
    super();
    const rng = new Rng(seed);
    this.dense = this.child('dense', new Linear(dim, dim, rng.seed()));
    this.outProj = this.child('out_proj', new Linear(dim, classes, rng.seed()));
  }

  /** Logits [B, classes] from sentence features [B, C]; dropout only with an rng while training. */
  apply(x: tf.Tensor2D, rng?: Rng): tf.Tensor2D {
    return tf.tidy(() => {
      const drop = (y: tf.Tensor) => (rng && this.training && this.dropoutRate > 0 ? dropout(y, this.dropoutRate, rng.seed()) : y);
      const h = tf.tanh(this.dense.apply(drop(x)));
      return this.outProj.apply(drop(h)) as tf.Tensor2D;
    });
  }
}

export type SentencePooling = 'bos' | 'mean';

/**
 * Sentence features [B, C] from the last block: the `<s>` position (RoBERTa's
 * classification input) or the mean over real tokens (a better frozen feature
 * for probes, since `<s>` is never a pre-training target). `block` picks an
 * earlier representation for probing: 0 = the embeddings (after their layer
 * norm), k = the output of block k; undefined or -1 = the last block.
 */
export function sentenceFeatures(encoder: FeatureEncoder, transformer: Transformer, batch: TextBatch, pool: SentencePooling, rng?: Rng, block = -1): tf.Tensor2D {
  const depth = transformer.blocks.length;
  if (!Number.isInteger(block) || block < -1 || block > depth) {
    throw new ConfigError(`probe.block must be -1 (last) or 0..${depth} (0 = embeddings), got ${block}`, 'probe.block');
  }
  return tf.tidy(() => {
    const training = rng !== undefined;
    const f = encoder.features(batch, { training, rng });
    const e = encoder.embed(f, { training, rng });
    const pooled = (h: tf.Tensor3D): tf.Tensor2D =>
      pool === 'mean' ? maskedMeanOverTime(h, e.paddingMask) : (tf.reshape(tf.slice(h, [0, 0, 0], [-1, 1, -1]), [h.shape[0], h.shape[2]]) as tf.Tensor2D);
    if (block === 0) return pooled(e.x);
    if (block === -1 || block === depth) return pooled(transformer.forward(e.x, { paddingMask: e.paddingMask, rng, collect: false }).output);
    // Collected block outputs are kept past tidy: dispose them here.
    const out = transformer.forward(e.x, { paddingMask: e.paddingMask, rng, collect: true });
    const features = pooled(out.blocks[block - 1]!);
    disposeOutput(out);
    return features;
  });
}

// The loss and metrics are shared with the other classification heads.
export { crossEntropy, classificationMetrics } from '@d2v/core';
export type { ClassificationMetrics } from '@d2v/core';
