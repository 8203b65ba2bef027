import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, resolveConfig, stepRng, stopGradient, Data2VecPretrainTask, type MaskingStrategy } from '../src/index.js';
import { modality as toy, type ToyBatch } from './fixtures/toy-modality.js';
import { tempDir } from '../src/testing.js';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('stopGradient', () => {
  it('computes fn(x) off the tape: no gradient reaches x or the variables fn reads', () => {
    const w = tf.variable(tf.tensor1d([2, 3]), true, 'sg_w');
    const v = tf.variable(tf.tensor1d([5, 7]), true, 'sg_v');
    const x = tf.tensor1d([1, -1]);
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => {
      const h = tf.mul(x, v); // d/dv = x through the student path only
      return tf.sum(tf.add(h, stopGradient((y) => tf.mul(y, w), h))) as tf.Scalar;
    }, [w, v]);
    // value = sum(x*v + x*v*w) = (5 + 10) + (-7 - 21) = -13
    expect(value.dataSync()[0]).toBeCloseTo(-13, 5);
    expect(grads['sg_w']).toBeUndefined();
    expect(Array.from(grads['sg_v']!.dataSync())).toEqual([1, -1]);
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([w, v, x]);
  });
});

describe('Data2VecPretrainTask with a shared encoder', () => {
  it('reusing the student features for the teacher gives the loss and gradients of a separate teacher pass', async () => {
    const config = resolveConfig({
      modality: 'toy',
      modalitySchema: toy.schema,
      presets: toy.presets,
      preset: 'tiny',
      overrides: new Map<string, unknown>([['out', tempDir('share')], ['objective.emaEncoder', false]]),
    });
    const data = await toy.createData(config, 'train');
    const masker = toy.createMasker(config);
    // The same masks with a student copy of the batch: Data2VecPretrainTask then runs the teacher's
    // encoder pass separately in prepare(), as for BERT-style masking.
    const separate: MaskingStrategy<ToyBatch> = {
      mask(batch, rng) {
        const m = masker.mask(batch, rng);
        const x = tf.clone(batch.x);
        const labels = tf.clone(batch.labels);
        return { ...m, studentBatch: { ...batch, x, labels, dispose: () => tf.dispose([x, labels]) } };
      },
    };
    const shared = new Data2VecPretrainTask(toy, config, data, masker);
    const twice = new Data2VecPretrainTask(toy, config, data, separate);
    const run = (task: Data2VecPretrainTask) => {
      const rng = stepRng(config.seed, 3);
      const p = task.prepare(3, rng);
      const vars = task.trainableParams().map(([, info]) => info.variable);
      const { value, grads } = tf.variableGrads(() => task.loss(3, rng, p).loss, vars);
      task.release(p);
      const g = vars.map((v) => Array.from(grads[v.name]!.dataSync()));
      const loss = value.dataSync()[0]!;
      tf.dispose([value, ...Object.values(grads)]);
      return { loss, g };
    };
    const before = tf.memory().numTensors;
    const a = run(shared);
    const b = run(twice);
    expect(tf.memory().numTensors).toBe(before);
    expect(a.loss).toBeGreaterThan(0);
    expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-5 * a.loss);
    let maxDiff = 0;
    let maxAbs = 0;
    a.g.forEach((ga, i) => ga.forEach((x, j) => {
      maxDiff = Math.max(maxDiff, Math.abs(x - b.g[i]![j]!));
      maxAbs = Math.max(maxAbs, Math.abs(x));
    }));
    expect(maxAbs).toBeGreaterThan(0);
    expect(maxDiff).toBeLessThan(1e-4 * maxAbs);
    shared.dispose();
    twice.dispose();
  });
});
