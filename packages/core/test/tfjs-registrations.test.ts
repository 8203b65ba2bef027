/**
 * d2v depends on @tensorflow/tfjs-core and its backends, not on the @tensorflow/tfjs union
 * package; what the union adds on import (every op's gradient, the chained tensor methods)
 * comes from src/backend/tfjsGradientsAndChainedOps.mjs, bundled from tfjs-core itself.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/index.js';
// @ts-expect-error: a plain .mjs script without types
import { bundleTfjsRegistrations, REGISTRATIONS_FILE } from '../scripts/bundle-tfjs-registrations.mjs';

describe('tfjs gradients and chained ops without @tensorflow/tfjs', () => {
  it('the union package is not installed: nothing in d2v may lean on it', () => {
    expect(() => createRequire(import.meta.url).resolve('@tensorflow/tfjs')).toThrow(/Cannot find module/);
  });

  it('every tfjs-core gradient is registered: grads of the ops d2v trains with match finite differences', async () => {
    await initBackend('cpu');
    const x = tf.tensor2d([
      [0.3, -1.2, 0.7],
      [1.1, 0.4, -0.5],
    ]);
    const w = tf.tensor2d([
      [0.2, -0.4],
      [0.9, 0.1],
      [-0.3, 0.6],
    ]);
    // matMul, erf (exact GELU), softmax, exp, log, mean, sqrt, gather, transpose: what the Transformer and the losses use.
    const f = (a: tf.Tensor) => {
      const h = tf.matMul(a, w);
      const gelu = tf.mul(tf.mul(h, 0.5), tf.add(1, tf.erf(tf.div(h, Math.SQRT2))));
      const p = tf.softmax(tf.transpose(gelu));
      const g = tf.gather(p, [1, 0, 1]);
      return tf.add(tf.mean(tf.log(tf.add(g, 1))), tf.sqrt(tf.sum(tf.exp(tf.mul(a, 0.1)))));
    };
    const analytic = tf.grad(f)(x).arraySync() as number[][];
    const eps = 1e-3;
    const base = x.arraySync();
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 3; j++) {
        const plus = base.map((r) => [...r]);
        const minus = base.map((r) => [...r]);
        plus[i]![j]! += eps;
        minus[i]![j]! -= eps;
        const numeric = (f(tf.tensor2d(plus)).dataSync()[0]! - f(tf.tensor2d(minus)).dataSync()[0]!) / (2 * eps);
        expect(analytic[i]![j]!).toBeCloseTo(numeric, 3);
      }
    }
    // Every gradient of tfjs-core's register_all_gradients, e.g. those no model here uses yet.
    for (const kernel of ['Abs', 'Conv2D', 'MaxPool', 'Prod', 'Cumsum', 'UnsortedSegmentSum']) expect(tf.getGradient(kernel), kernel).toBeDefined();
  });

  it('chained tensor methods are registered (x.reshape(), x.toFloat())', () => {
    const x = tf.tensor1d([1, 2, 3, 4], 'int32');
    expect(x.reshape([2, 2]).toFloat().dtype).toBe('float32');
    expect(x.reshape([2, 2]).shape).toEqual([2, 2]);
  });

  it('the committed bundle is what scripts/bundle-tfjs-registrations.mjs makes from the installed tfjs-core', async () => {
    const committed = readFileSync(REGISTRATIONS_FILE, 'utf8');
    const fresh: string = await bundleTfjsRegistrations();
    // A mismatch means tfjs-core or esbuild changed: rerun `node packages/core/scripts/bundle-tfjs-registrations.mjs`.
    expect(committed === fresh, 'src/backend/tfjsGradientsAndChainedOps.mjs is stale').toBe(true);
    const { version } = createRequire(import.meta.url)('@tensorflow/tfjs-core/package.json') as { version: string };
    expect(committed.split('\n', 1)[0]).toContain(`@tensorflow/tfjs-core@${version}`);
  });
});
