/** Small reusable layers built on Module. */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from './module.js';
import { truncNormal } from './init.js';
import { linear, layerNorm } from '../ops/basic.js';

export class Linear extends Module {
  readonly weight: tf.Variable;
  readonly bias?: tf.Variable;
  constructor(
    readonly inDim: number,
    readonly outDim: number,
    seed: number,
    opts: { bias?: boolean; std?: number } = {},
  ) {
    super();
    this.weight = this.param('weight', () => truncNormal([inDim, outDim], opts.std ?? 0.02, seed));
    if (opts.bias ?? true) this.bias = this.param('bias', () => tf.zeros([outDim]));
  }
  apply(x: tf.Tensor): tf.Tensor {
    return linear(x, this.weight as tf.Tensor2D, this.bias as tf.Tensor1D | undefined);
  }
}

export class LayerNorm extends Module {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
  constructor(
    readonly dim: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.gamma = this.param('weight', () => tf.ones([dim]), { decay: false });
    this.beta = this.param('bias', () => tf.zeros([dim]), { decay: false });
  }
  apply(x: tf.Tensor): tf.Tensor {
    return layerNorm(x, this.gamma, this.beta, this.eps);
  }
}
