/**
 * RoBERTa-style text front end for data2vec: token embeddings, learned
 * absolute positions, embedding layer norm and dropout (post-LN Transformer
 * follows). Student and teacher share it (data2vec text EMA-tracks the
 * Transformer layers only). BERT masking corrupts the token ids themselves
 * (see masker.ts), so the student normally passes no `mask`; when a caller
 * does, masked steps get the `<mask>` token's embedding, which is the same
 * thing the corrupted ids would produce.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  Module,
  LayerNorm,
  ShapeError,
  Rng,
  truncNormal,
  dropout,
  applyMaskEmbedding,
  type Embedded,
  type FeatureEncoder,
  type Features,
  type StepContext,
} from '@d2v/core';
import type { TextBatch } from './batch.js';

export interface TokenEncoderConfig {
  vocabSize: number;
  dim: number;
  /** Longest input the learned positions cover (RoBERTa: 512). */
  maxPositions: number;
  maskId: number;
  /** Dropout after the embedding layer norm (RoBERTa uses the model's dropout). */
  dropout: number;
}

export class TokenEncoder extends Module implements FeatureEncoder<TextBatch> {
  readonly tokens: tf.Variable;
  readonly positions: tf.Variable;
  readonly norm: LayerNorm;

  constructor(
    readonly cfg: TokenEncoderConfig,
    seed: number,
  ) {
    super();
    if (!Number.isInteger(cfg.vocabSize) || cfg.vocabSize < 2) throw new ShapeError(`TokenEncoder: vocabSize must be an integer >= 2, got ${cfg.vocabSize}`);
    if (cfg.maskId < 0 || cfg.maskId >= cfg.vocabSize) throw new ShapeError(`TokenEncoder: maskId ${cfg.maskId} outside the vocabulary [0, ${cfg.vocabSize})`);
    const rng = new Rng(seed);
    // BERT/RoBERTa initialise both tables from N(0, 0.02).
    this.tokens = this.param('embed_tokens', () => truncNormal([cfg.vocabSize, cfg.dim], 0.02, rng.seed()));
    this.positions = this.param('embed_positions', () => truncNormal([cfg.maxPositions, cfg.dim], 0.02, rng.seed()));
    this.norm = this.child('layernorm_embedding', new LayerNorm(cfg.dim));
  }

  features(b: TextBatch, _ctx: StepContext): Features {
    const [n, t] = b.tokens.shape;
    if (t > this.cfg.maxPositions) {
      throw new ShapeError(`text batch has ${t} tokens per row but the learned positions cover ${this.cfg.maxPositions} (text.maxPositions); lower text.blockSize or finetune.maxTokens`);
    }
    const features = tf.tidy(() => tf.reshape(tf.gather(this.tokens, tf.reshape(b.tokens, [-1])), [n, t, this.cfg.dim]) as tf.Tensor3D);
    return { features, paddingMask: b.paddingMask };
  }

  embed(f: Features, ctx: StepContext & { mask?: tf.Tensor2D }): Embedded {
    const x = tf.tidy(() => {
      let x: tf.Tensor = f.features;
      const t = x.shape[1]!;
      if (ctx.mask) x = applyMaskEmbedding(x, ctx.mask, tf.gather(this.tokens, this.cfg.maskId));
      x = this.norm.apply(tf.add(x, tf.slice(this.positions, [0, 0], [t, this.cfg.dim])));
      if (ctx.training && this.training && ctx.rng && this.cfg.dropout > 0) x = dropout(x, this.cfg.dropout, ctx.rng.seed());
      return x as tf.Tensor3D;
    });
    return { x, paddingMask: f.paddingMask };
  }
}
