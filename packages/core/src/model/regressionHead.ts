/** Maps the student's outputs at masked steps to the target width. */
import type * as tf from '@tensorflow/tfjs-core';
import { Module } from '../nn/module.js';
import { Linear } from '../nn/layers.js';
import { gelu } from '../ops/basic.js';
import { Rng } from '../train/rng.js';

export class RegressionHead extends Module {
  private readonly layers: Linear[] = [];
  /** layers = 1: Linear C->C (speech, vision); 2: Linear C->2C, GELU, Linear 2C->C (text). */
  constructor(dim: number, layers: number, seed: number) {
    super();
    const rng = new Rng(seed);
    if (layers === 1) this.layers.push(this.child('proj', new Linear(dim, dim, rng.seed())));
    else {
      this.layers.push(this.child('fc1', new Linear(dim, 2 * dim, rng.seed())));
      this.layers.push(this.child('fc2', new Linear(2 * dim, dim, rng.seed())));
    }
  }
  apply(x: tf.Tensor2D): tf.Tensor2D {
    let y: tf.Tensor = this.layers[0]!.apply(x);
    if (this.layers.length > 1) y = this.layers[1]!.apply(gelu(y));
    return y as tf.Tensor2D;
  }
}
