/**
 * data2vec 2.0's decoder: a light convolutional network that sees the student's outputs at the
 * visible steps and noise at the masked ones, in the original order, and predicts the teacher's
 * targets everywhere (the loss reads only the masked steps). Each layer is a grouped 'same'
 * convolution (1-D over time, or 2-D over an image's patch grid), LayerNorm without affine, GELU,
 * and a residual when the layer keeps the width; a final projection maps back to the model width.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../nn/module.js';
import { fanInUniform } from '../nn/init.js';
import { dropout, gelu, layerNorm } from '../ops/basic.js';
import { groupedConvSame, groupedConv2dSame } from '../ops/conv.js';
import { RegressionHead } from './regressionHead.js';
import { Rng } from '../util/rng.js';
import { ConfigError, ShapeError } from '../errors.js';
import type { DecoderConfig } from '../config/resolve.js';

export class ConvDecoder extends Module {
  private readonly weights: tf.Variable[] = [];
  private readonly biases: tf.Variable[] = [];
  readonly proj: RegressionHead;

  /** `inDim`: the student's width, which the projection (`projectionLayers` deep) maps back to. */
  constructor(
    readonly cfg: DecoderConfig,
    readonly inDim: number,
    projectionLayers: number,
    seed: number,
  ) {
    super();
    const rng = new Rng(seed);
    const g = cfg.groups;
    if (inDim % g !== 0 || cfg.dim % g !== 0) {
      throw new ConfigError(`objective.decoder.groups (${g}) must divide objective.decoder.dim (${cfg.dim}) and model.dim (${inDim})`, 'objective.decoder.groups');
    }
    const taps = cfg.conv === '2d' ? cfg.kernel * cfg.kernel : cfg.kernel;
    for (let i = 0; i < cfg.layers; i++) {
      const cin = (i === 0 ? inDim : cfg.dim) / g;
      // PyTorch's Conv default: U(+-1/sqrt(fan in)) for weight and bias.
      this.weights.push(this.param(`blocks.${i}.conv.weight`, () => fanInUniform([g, taps * cin, cfg.dim / g], taps * cin, rng.seed())));
      this.biases.push(this.param(`blocks.${i}.conv.bias`, () => fanInUniform([cfg.dim], taps * cin, rng.seed())));
    }
    this.proj = this.child('proj', new RegressionHead(cfg.dim, inDim, projectionLayers, rng.seed()));
  }

  /** x [R, T, inDim] in the original step order -> predictions [R, T, inDim]. `grid` lays T out for '2d'. */
  apply(x: tf.Tensor3D, opts: { grid?: readonly [number, number]; rng?: Rng }): tf.Tensor3D {
    const { cfg } = this;
    const [r, t] = x.shape;
    if (cfg.conv === '2d' && (!opts.grid || opts.grid[0] * opts.grid[1] !== t)) {
      throw new ShapeError(`objective.decoder.conv '2d' needs the modality's features to form a grid of ${t} steps (got ${opts.grid ? opts.grid.join('x') : 'no grid'}); use '1d'`);
    }
    return tf.tidy(() => {
      let h: tf.Tensor = this.training && opts.rng && cfg.inputDropout > 0 ? dropout(x, cfg.inputDropout, opts.rng.seed()) : x;
      if (cfg.conv === '2d') h = tf.reshape(h, [r, opts.grid![0], opts.grid![1], -1]);
      for (let i = 0; i < cfg.layers; i++) {
        const w = this.weights[i] as tf.Tensor3D;
        const b = this.biases[i] as tf.Tensor1D;
        const conv = cfg.conv === '2d' ? groupedConv2dSame(h as tf.Tensor4D, w, b, cfg.kernel) : groupedConvSame(h as tf.Tensor3D, w, b, cfg.kernel);
        const y = gelu(layerNorm(conv));
        h = cfg.residual && y.shape.at(-1) === h.shape.at(-1) ? tf.add(h, y) : y;
      }
      return this.proj.apply(tf.reshape(h, [r, t, cfg.dim])) as tf.Tensor3D;
    });
  }
}
