import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, Transformer, Rng } from '../src/index.js';

beforeAll(async () => {
  await initBackend('wasm');
});

/**
 * A positive control for every modality's "pretraining did / did not help" finding: the Transformer
 * must be able to move information between positions. Each output has to name the token one step
 * to its left, which its own input says nothing about (chance = 1/V); only attention can solve it.
 */
describe('attention learns to route tokens', () => {
  for (const norm of ['post', 'pre'] as const) {
    it(`${norm}-LN: predicts the previous token far above chance`, () => {
      const V = 12, T = 10, B = 32, dim = 32;
      const rng = new Rng(7);
      const t = new Transformer({ dim, depth: 1, heads: 2, ffnDim: 64, norm, finalNorm: norm === 'pre', dropout: 0, attentionDropout: 0 }, 1);
      const emb = tf.variable(tf.randomNormal([V, dim], 0, 0.5, 'float32', 1));
      const pos = tf.variable(tf.randomNormal([T, dim], 0, 0.5, 'float32', 2));
      const out = tf.variable(tf.randomNormal([dim, V], 0, 0.1, 'float32', 3));
      const vars = [emb, pos, out, ...t.variables().values()];
      const opt = tf.train.adam(3e-3);
      const batch = () => Int32Array.from({ length: B * T }, () => Math.floor(rng.uniform() * V));
      // Logits at positions 1..T-1 and their targets (the token at t-1).
      const logitsOf = (ids: Int32Array) => {
        const x = tf.add(tf.reshape(tf.matMul(tf.oneHot(tf.tensor1d(ids, 'int32'), V).toFloat(), emb), [B, T, dim]), pos) as tf.Tensor3D;
        // Always called inside tf.tidy: the block outputs are freed with it.
        const y = tf.slice(t.forward(x, { collect: false }).output, [0, 1, 0], [B, T - 1, dim]);
        return tf.reshape(tf.matMul(tf.reshape(y, [-1, dim]), out), [B * (T - 1), V]);
      };
      const targetsOf = (ids: Int32Array) => tf.oneHot(tf.tensor1d(ids.filter((_, i) => i % T !== T - 1), 'int32'), V).toFloat();
      const accuracy = () =>
        tf.tidy(() => {
          const ids = batch();
          return tf.mean(tf.cast(tf.equal(tf.argMax(logitsOf(ids), -1), tf.argMax(targetsOf(ids), -1)), 'float32')).dataSync()[0]!;
        });
      const before = accuracy();
      const n = tf.memory().numTensors;
      for (let step = 0; step < 150; step++) {
        const ids = batch();
        tf.tidy(() => {
          opt.minimize(() => tf.losses.softmaxCrossEntropy(targetsOf(ids), logitsOf(ids)) as tf.Scalar, false, vars);
        });
      }
      const after = accuracy();
      expect(before).toBeLessThan(0.25);
      expect(after).toBeGreaterThan(0.9);
      expect(tf.memory().numTensors).toBeLessThanOrEqual(n + 3 * vars.length);
      opt.dispose();
      tf.dispose([emb, pos, out]);
      t.dispose();
    });
  }
});
