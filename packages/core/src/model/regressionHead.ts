/** Maps the student's outputs (version 1) or the decoder's (version 2) to the target width. */
import type * as tf from '@tensorflow/tfjs-core';
import { Module } from '../nn/module.js';
import { Linear } from '../nn/layers.js';
import { gelu } from '../ops/basic.js';
import { Rng } from '../util/rng.js';

export class RegressionHead extends Module {
  private readonly layers: Linear[] = [];
  /** layers = 1: Linear in->out (speech, vision); 2: Linear in->2in, GELU, Linear 2in->out (text). */
  constructor(inDim: number, outDim: number, layers: number, seed: number) {
    super();
    const rng = new Rng(seed);
    if (layers === 1) this.layers.push(this.child('proj', new Linear(inDim, outDim, rng.seed())));
    else {
      this.layers.push(this.child('fc1', new Linear(inDim, 2 * inDim, rng.seed())));
      this.layers.push(this.child('fc2', new Linear(2 * inDim, outDim, rng.seed())));
    }
  }
  apply<T extends tf.Tensor>(x: T): T {
    let y: tf.Tensor = this.layers[0]!.apply(x);
    if (this.layers.length > 1) y = this.layers[1]!.apply(gelu(y));
    return y as T;
  }
}
