/**
 * ViT front end for data2vec: patch embedding, learned absolute positions or a
 * shared relative position bias (BEiT), optional CLS token, and the learned
 * mask embedding that replaces masked patches in the student.
 *
 * Patches are cut on the CPU by the data pipeline ([B, N, p*p*C]), so the
 * patch embedding is one 2-D matmul: a conv2d or a rank-6 transpose here would
 * be far slower on tfjs-wasm.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Module, Linear, Rng, truncNormal, applyMaskEmbedding, type Embedded, type FeatureEncoder, type Features, type StepContext } from '@d2v/core';
import type { VisionBatch } from './batch.js';

export interface PatchEncoderConfig {
  imageSize: number;
  patchSize: number;
  channels: number;
  dim: number;
  heads: number;
  /** 'learned': absolute position embeddings; 'relative': BEiT shared relative position bias. */
  positions: 'learned' | 'relative';
  cls: boolean;
}

/** vision.patchSize must cut vision.imageSize into whole patches (checked by validateConfig before a run writes anything, and by the encoder itself). */
export function checkPatchGrid(imageSize: number, patchSize: number): void {
  if (imageSize % patchSize !== 0) {
    throw new ConfigError(`vision.patchSize (${patchSize}) must divide vision.imageSize (${imageSize}) into whole patches`, 'vision.patchSize');
  }
}

/** BEiT relative position index for an h x w grid (+ CLS): [T, T] into a table of (2h-1)(2w-1)+3 rows. */
export function relativePositionIndex(h: number, w: number, cls: boolean): Int32Array {
  const n = h * w;
  const t = n + (cls ? 1 : 0);
  const numRel = (2 * h - 1) * (2 * w - 1);
  const idx = new Int32Array(t * t);
  const off = cls ? 1 : 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const dy = Math.floor(i / w) - Math.floor(j / w) + h - 1;
      const dx = (i % w) - (j % w) + w - 1;
      idx[(i + off) * t + (j + off)] = dy * (2 * w - 1) + dx;
    }
  }
  if (cls) {
    // Three extra table rows: cls->token, token->cls, cls->cls.
    for (let j = 1; j < t; j++) idx[j] = numRel;
    for (let i = 1; i < t; i++) idx[i * t] = numRel + 1;
    idx[0] = numRel + 2;
  }
  return idx;
}

export class PatchEncoder extends Module implements FeatureEncoder {
  readonly grid: number;
  readonly numPatches: number;
  readonly patchDim: number;
  readonly proj: Linear;
  readonly maskEmb: tf.Variable;
  readonly pos?: tf.Variable;
  readonly clsToken?: tf.Variable;
  readonly relTable?: tf.Variable;
  private relIndex?: tf.Tensor1D;

  constructor(
    readonly cfg: PatchEncoderConfig,
    seed: number,
  ) {
    super();
    checkPatchGrid(cfg.imageSize, cfg.patchSize);
    const rng = new Rng(seed);
    this.grid = cfg.imageSize / cfg.patchSize;
    this.numPatches = this.grid * this.grid;
    this.patchDim = cfg.patchSize * cfg.patchSize * cfg.channels;
    this.proj = this.child('patch_embed', new Linear(this.patchDim, cfg.dim, rng.seed()));
    this.maskEmb = this.param('mask_emb', () => truncNormal([cfg.dim], 0.02, rng.seed()), { decay: false });
    const t = this.numPatches + (cfg.cls ? 1 : 0);
    if (cfg.cls) this.clsToken = this.param('cls_token', () => truncNormal([1, 1, cfg.dim], 0.02, rng.seed()), { decay: false });
    if (cfg.positions === 'learned') {
      this.pos = this.param('pos_embed', () => truncNormal([1, t, cfg.dim], 0.02, rng.seed()), { decay: false });
    } else {
      const rows = (2 * this.grid - 1) * (2 * this.grid - 1) + 3;
      this.relTable = this.param('rel_pos_bias', () => tf.zeros([rows, cfg.heads]), { decay: false });
    }
  }

  /** Time-steps the Transformer sees (patches + CLS). */
  get length(): number {
    return this.numPatches + (this.cfg.cls ? 1 : 0);
  }

  features(batch: VisionBatch, _ctx: StepContext): Features {
    return { features: this.proj.apply(batch.patches) as tf.Tensor3D, grid: [this.grid, this.grid] };
  }

  embed(f: Features, ctx: StepContext & { mask?: tf.Tensor2D }): Embedded {
    return tf.tidy(() => {
      let x: tf.Tensor = f.features;
      const [b] = x.shape;
      // The mask covers patches only (the CLS token is never masked).
      if (ctx.mask) x = applyMaskEmbedding(x, ctx.mask, this.maskEmb);
      if (this.clsToken) x = tf.concat([tf.tile(this.clsToken, [b!, 1, 1]), x], 1);
      if (this.pos) x = tf.add(x, this.pos);
      let attnBias: tf.Tensor | undefined;
      if (this.relTable) {
        const t = this.length;
        this.relIndex ??= tf.keep(tf.tensor1d(relativePositionIndex(this.grid, this.grid, this.cfg.cls), 'int32'));
        // [T*T, heads] -> [heads, T, T], shared by every block (BEiT's shared relative position bias).
        attnBias = tf.transpose(tf.reshape(tf.gather(this.relTable, this.relIndex), [t, t, this.cfg.heads]), [2, 0, 1]);
      }
      return { x: x as tf.Tensor3D, attnBias };
    });
  }

  override dispose(): void {
    this.relIndex?.dispose();
    super.dispose();
  }
}
