/**
 * The Transformer shared by every modality: pre-LN (ViT/BEiT) or post-LN
 * (wav2vec 2.0/RoBERTa), GELU FFN, dropout, attention dropout, layer drop,
 * layer scale, key-padding mask and an optional additive attention bias
 * (e.g. a shared relative position bias). It returns every block's FFN output
 * (before dropout, layer scale and the last residual add) and block output,
 * which is what data2vec's teacher targets are built from.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from './module.js';
import { Linear, LayerNorm } from './layers.js';
import { dropout, gelu } from '../ops/basic.js';
import { ConfigError, ShapeError } from '../errors.js';
import { Rng } from '../util/rng.js';

export interface TransformerConfig {
  dim: number;
  depth: number;
  heads: number;
  ffnDim: number;
  /** 'pre': LN before attention/FFN (ViT); 'post': LN after the residual add (BERT, wav2vec 2.0). */
  norm: 'pre' | 'post';
  dropout: number;
  attentionDropout: number;
  /** Dropout after the FFN activation. */
  activationDropout: number;
  /** Probability of skipping a whole block while training. */
  layerDrop: number;
  /** Initial value of per-channel layer scale on both branches; 0 disables it. */
  layerScale: number;
  /** Final LayerNorm after the last block (usual for pre-LN). */
  finalNorm: boolean;
  eps: number;
}

export const DEFAULT_TRANSFORMER: TransformerConfig = {
  dim: 768,
  depth: 12,
  heads: 12,
  ffnDim: 3072,
  norm: 'post',
  dropout: 0.1,
  attentionDropout: 0.1,
  activationDropout: 0,
  layerDrop: 0,
  layerScale: 0,
  finalNorm: false,
  eps: 1e-5,
};

export interface ForwardOptions {
  /** [B, T], 1 (or true) where the position is padding; padded keys get no attention. */
  paddingMask?: tf.Tensor2D;
  /** Added to the attention logits; broadcastable to [B, heads, T, T]. */
  attnBias?: tf.Tensor;
  /** Randomness for dropout and layer drop (required when training with dropout > 0). */
  rng?: Rng;
  /** Keep per-block outputs (default true). */
  collect?: boolean;
}

export interface TransformerOutput {
  /** Output of the last block (after the final norm when enabled). */
  output: tf.Tensor3D;
  /** Per-block FFN output before dropout/layer scale/residual, first block first. */
  ffn: tf.Tensor3D[];
  /** Per-block output (after the residual add and, for post-LN, its norm). */
  blocks: tf.Tensor3D[];
}

class Attention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  constructor(
    readonly dim: number,
    readonly heads: number,
    rng: Rng,
  ) {
    super();
    this.qkv = this.child('qkv', new Linear(dim, 3 * dim, rng.seed()));
    this.proj = this.child('proj', new Linear(dim, dim, rng.seed()));
  }

  apply(x: tf.Tensor3D, bias: tf.Tensor | undefined, attnDrop: number, rng: Rng | undefined): tf.Tensor3D {
    const [b, t, c] = x.shape;
    const h = this.heads;
    const d = c / h;
    // [B*T, 3, C] -> [3, B*T, C]: q, k and v become contiguous slices (a split along an inner axis
    // is ~2.5x slower on wasm), then each splits its heads with a rank-4 transpose (rank 5 is ~40x slower).
    const qkv = tf.transpose(tf.reshape(this.qkv.apply(x), [b * t, 3, c]), [1, 0, 2]);
    const head = (i: number) => tf.transpose(tf.reshape(tf.slice(qkv, [i, 0, 0], [1, b * t, c]), [b, t, h, d]), [0, 2, 1, 3]) as tf.Tensor4D;
    const [q, k, v] = [head(0), head(1), head(2)];
    let scores = tf.matMul(tf.mul(q, 1 / Math.sqrt(d)), tf.transpose(k, [0, 1, 3, 2])) as tf.Tensor4D;
    if (bias) scores = tf.add(scores, bias);
    let probs = tf.softmax(scores);
    if (attnDrop > 0 && rng) probs = dropout(probs, attnDrop, rng.seed()) as tf.Tensor4D;
    const ctx = tf.reshape(tf.transpose(tf.matMul(probs, v), [0, 2, 1, 3]), [b, t, c]);
    return this.proj.apply(ctx) as tf.Tensor3D;
  }
}

class Block extends Module {
  readonly attn: Attention;
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly ls1?: tf.Variable;
  readonly ls2?: tf.Variable;

  constructor(
    readonly cfg: TransformerConfig,
    rng: Rng,
  ) {
    super();
    this.attn = this.child('attn', new Attention(cfg.dim, cfg.heads, rng));
    this.norm1 = this.child('norm1', new LayerNorm(cfg.dim, cfg.eps));
    this.fc1 = this.child('fc1', new Linear(cfg.dim, cfg.ffnDim, rng.seed()));
    this.fc2 = this.child('fc2', new Linear(cfg.ffnDim, cfg.dim, rng.seed()));
    this.norm2 = this.child('norm2', new LayerNorm(cfg.dim, cfg.eps));
    if (cfg.layerScale > 0) {
      this.ls1 = this.param('ls1', () => tf.fill([cfg.dim], cfg.layerScale), { decay: false });
      this.ls2 = this.param('ls2', () => tf.fill([cfg.dim], cfg.layerScale), { decay: false });
    }
  }

  apply(x: tf.Tensor3D, bias: tf.Tensor | undefined, rng: Rng | undefined): { out: tf.Tensor3D; ffn: tf.Tensor3D } {
    const { cfg } = this;
    const train = this.training && rng !== undefined;
    const drop = (y: tf.Tensor, p: number) => (train && p > 0 ? dropout(y, p, rng!.seed()) : y);
    const scale = (y: tf.Tensor, s?: tf.Variable) => (s ? tf.mul(y, s) : y);
    const mlp = (y: tf.Tensor) =>
      this.fc2.apply(drop(gelu(this.fc1.apply(y)), cfg.activationDropout)) as tf.Tensor3D;
    const attnDrop = train ? cfg.attentionDropout : 0;

    if (cfg.norm === 'pre') {
      const a = this.attn.apply(this.norm1.apply(x) as tf.Tensor3D, bias, attnDrop, rng);
      const h = tf.add(x, drop(scale(a, this.ls1), cfg.dropout)) as tf.Tensor3D;
      const ffn = mlp(this.norm2.apply(h));
      const out = tf.add(h, drop(scale(ffn, this.ls2), cfg.dropout)) as tf.Tensor3D;
      return { out, ffn };
    }
    const a = this.attn.apply(x, bias, attnDrop, rng);
    const h = this.norm1.apply(tf.add(x, drop(scale(a, this.ls1), cfg.dropout))) as tf.Tensor3D;
    const ffn = mlp(h);
    const out = this.norm2.apply(tf.add(h, drop(scale(ffn, this.ls2), cfg.dropout))) as tf.Tensor3D;
    return { out, ffn };
  }
}

export class Transformer extends Module {
  readonly cfg: TransformerConfig;
  readonly blocks: Block[] = [];
  readonly finalNorm?: LayerNorm;

  constructor(config: Partial<TransformerConfig>, seed: number) {
    super();
    const cfg = (this.cfg = { ...DEFAULT_TRANSFORMER, ...config });
    if (cfg.dim % cfg.heads !== 0) {
      throw new ConfigError(`model.dim (${cfg.dim}) must be divisible by model.heads (${cfg.heads})`, 'model.heads');
    }
    if (cfg.depth < 1) throw new ConfigError(`model.depth must be >= 1 (got ${cfg.depth})`, 'model.depth');
    const rng = new Rng(seed);
    for (let i = 0; i < cfg.depth; i++) this.blocks.push(this.child(`blocks.${i}`, new Block(cfg, rng.fork())));
    if (cfg.finalNorm) this.finalNorm = this.child('norm', new LayerNorm(cfg.dim, cfg.eps));
  }

  forward(x: tf.Tensor3D, opts: ForwardOptions = {}): TransformerOutput {
    if (x.rank !== 3 || x.shape[2] !== this.cfg.dim) {
      throw new ShapeError(`Transformer expects [B, T, ${this.cfg.dim}] input, got [${x.shape}]`);
    }
    const collect = opts.collect ?? true;
    const ffn: tf.Tensor3D[] = [];
    const blocks: tf.Tensor3D[] = [];
    const output = tf.tidy(() => {
      let bias = opts.attnBias;
      if (opts.paddingMask) {
        const [b, t] = opts.paddingMask.shape;
        const keyMask = tf.reshape(tf.mul(tf.cast(opts.paddingMask, 'float32'), -1e9), [b, 1, 1, t]);
        bias = bias ? tf.add(bias, keyMask) : keyMask;
      }
      const rng = this.training ? opts.rng : undefined;
      let h = x;
      for (const block of this.blocks) {
        // Layer drop skips whole blocks while training (the teacher never trains, so it never skips).
        if (rng && this.cfg.layerDrop > 0 && rng.uniform() < this.cfg.layerDrop) continue;
        const r = block.apply(h, bias, rng);
        h = r.out;
        if (collect) {
          ffn.push(tf.keep(r.ffn));
          blocks.push(tf.keep(r.out));
        }
      }
      if (this.finalNorm) return this.finalNorm.apply(h) as tf.Tensor3D;
      // A distinct tensor object (shared data) so disposing `output` never disposes `blocks[depth-1]`.
      return collect ? tf.clone(h) : h;
    });
    return { output, ffn, blocks };
  }
}

/** Disposes every tensor of a TransformerOutput. */
export function disposeOutput(o: TransformerOutput): void {
  o.output.dispose();
  tf.dispose(o.ffn);
  tf.dispose(o.blocks);
}
