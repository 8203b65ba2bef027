import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, AdamW, Module, learningRate, clipByGlobalNorm, type ScheduleConfig } from '../src/index.js';

beforeAll(async () => {
  await initBackend('wasm');
});

class P extends Module {
  readonly w = this.param('w', () => tf.tensor2d([[1, -2]]));
  readonly b = this.param('b', () => tf.tensor1d([0.5]));
}

describe('AdamW', () => {
  it('matches a hand-computed first step, decays weights but not biases', () => {
    const p = new P();
    const opt = new AdamW(p.namedParams(), { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 });
    const g = [tf.tensor2d([[0.5, -1]]), tf.tensor1d([2])];
    opt.apply(g, 0.01);
    // Step 1: m_hat = g, v_hat = g^2 -> update = sign(g) (up to eps); decay lr*wd*w on w only.
    const w = p.w.dataSync();
    expect(w[0]).toBeCloseTo(1 - 0.01 - 0.01 * 0.1 * 1, 6);
    expect(w[1]).toBeCloseTo(-2 + 0.01 - 0.01 * 0.1 * -2, 6);
    expect(p.b.dataSync()[0]).toBeCloseTo(0.5 - 0.01, 6);
    const n = tf.memory().numTensors;
    opt.apply(g, 0.01);
    expect(tf.memory().numTensors).toBe(n);
    tf.dispose(g);
    opt.dispose();
    p.dispose();
  });

  it('clips by global norm', () => {
    const g = [tf.tensor1d([3]), tf.tensor1d([4])];
    const c = clipByGlobalNorm(g, 1);
    expect(c.norm).toBeCloseTo(5, 5);
    expect(c.grads[0]!.dataSync()[0]).toBeCloseTo(0.6, 4);
    tf.dispose([...g, ...c.grads]);
  });
});

describe('learning-rate schedules', () => {
  const base: ScheduleConfig = {
    schedule: 'cosine',
    lr: 1,
    totalSteps: 100,
    warmupSteps: 10,
    finalLrScale: 0,
    initLrScale: 0.01,
    phaseRatios: [0.1, 0.4, 0.5],
  };
  it('warmup + cosine', () => {
    expect(learningRate(0, base)).toBeCloseTo(0.1);
    expect(learningRate(9, base)).toBeCloseTo(1);
    expect(learningRate(55, base)).toBeCloseTo(0.5);
    expect(learningRate(100, base)).toBeCloseTo(0);
  });
  it('tri-stage: linear warm-up, hold, exponential decay', () => {
    const c = { ...base, schedule: 'tri-stage' as const, finalLrScale: 0.01 };
    expect(learningRate(0, c)).toBeCloseTo(0.01);
    expect(learningRate(5, c)).toBeCloseTo(0.505);
    expect(learningRate(30, c)).toBe(1);
    expect(learningRate(75, c)).toBeCloseTo(Math.exp(Math.log(0.01) * 0.5));
    expect(learningRate(100, c)).toBeCloseTo(0.01);
  });
});
