import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import {
  initBackend,
  buildTargets,
  regressionLoss,
  emaDecay,
  EmaTeacher,
  Module,
  channelStd,
  checkCollapse,
  CollapseError,
  ConfigError,
} from '../src/index.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-4) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(tol);
};

describe('buildTargets', () => {
  // Three layers [B=1, T=2, C=2].
  const L = [
    [[[1, 3], [5, 7]]],
    [[[2, 2], [4, 8]]],
    [[[0, 4], [6, 2]]],
  ];

  it('averages the last K layers without norms', () => {
    const layers = L.map((l) => tf.tensor3d(l));
    const n = tf.memory().numTensors;
    const y = buildTargets(layers, { topK: 2 });
    // mean of layers 1 and 2: [[1,3],[5,5]]
    close(y.dataSync(), [1, 3, 5, 5]);
    y.dispose();
    expect(tf.memory().numTensors).toBe(n);
    tf.dispose(layers);
  });

  it('instance norm per layer normalises each channel over time (by hand)', () => {
    const layers = L.map((l) => tf.tensor3d(l));
    const y = buildTargets(layers, { topK: 1, instanceNormTargetLayer: true });
    // last layer channel 0: [0, 6] -> mean 3, var 9 -> [-1, 1]; channel 1: [4, 2] -> mean 3, var 1 -> [1, -1]
    const e0 = 3 / Math.sqrt(9 + 1e-5);
    const e1 = 1 / Math.sqrt(1 + 1e-5);
    close(y.dataSync(), [-e0, e1, e0, -e1]);
    tf.dispose([y, ...layers]);
  });

  it('layer norm per layer normalises over channels, then the average (by hand)', () => {
    const layers = L.map((l) => tf.tensor3d(l));
    const y = buildTargets(layers, { topK: 3, layerNormTargetLayer: true });
    // Per row of 2 channels, layer norm gives +-d/sqrt(d^2+eps) with d = half the difference.
    const ln = (a: number, b: number) => {
      const d = (a - b) / 2;
      const s = Math.sqrt(d * d + 1e-5);
      return [d / s, -d / s];
    };
    const rows = [0, 1].map((t) => {
      const parts = L.map((l) => ln(l[0]![t]![0]!, l[0]![t]![1]!));
      return [0, 1].map((c) => (parts[0]![c]! + parts[1]![c]! + parts[2]![c]!) / 3);
    });
    close(y.dataSync(), rows.flat());
    // With a final layer norm every row becomes +-1 again.
    const z = buildTargets(layers, { topK: 3, layerNormTargetLayer: true, layerNormTargets: true });
    const zd = z.dataSync();
    expect(Math.abs(zd[0]!)).toBeCloseTo(rows[0]![0]! === 0 ? 0 : 1, 3);
    tf.dispose([y, z, ...layers]);
  });

  it('ignores padded steps in instance norm statistics', () => {
    const x = tf.tensor3d([[[1], [3], [100]]]);
    const pad = tf.tensor2d([[0, 0, 1]]);
    const y = buildTargets([x], { topK: 1, instanceNormTargetLayer: true, paddingMask: pad });
    const d = y.dataSync();
    close([d[0]!, d[1]!], [-1 / Math.sqrt(1 + 1e-5), 1 / Math.sqrt(1 + 1e-5)]);
    tf.dispose([x, pad, y]);
  });

  it('refuses K larger than the number of layers', () => {
    const layers = L.map((l) => tf.tensor3d(l));
    expect(() => buildTargets(layers, { topK: 4 })).toThrow(ConfigError);
    tf.dispose(layers);
  });
});

describe('regressionLoss', () => {
  const pred = () => tf.tensor2d([[0, 0], [1, 5]]);
  const target = () => tf.tensor2d([[1, -3], [1, 2]]);

  it('squared error summed over channels, scaled by 1/sqrt(C), averaged over rows', () => {
    const p = pred();
    const t = target();
    const n = tf.memory().numTensors;
    const l = regressionLoss(p, t, { beta: 0 });
    // rows: 1 + 9 = 10, 0 + 9 = 9 -> mean 9.5 * 1/sqrt(2)
    expect(l.dataSync()[0]).toBeCloseTo(9.5 / Math.SQRT2, 5);
    l.dispose();
    expect(tf.memory().numTensors).toBe(n);
    tf.dispose([p, t]);
  });

  it('Smooth L1 with beta: quadratic inside beta, linear outside', () => {
    const p = pred();
    const t = target();
    const l = regressionLoss(p, t, { beta: 2, scale: 1 });
    // |d| = 1 -> 0.5*1/2 = 0.25; |d| = 3 -> 3 - 1 = 2; 0 -> 0; 3 -> 2. rows: 2.25, 2 -> mean 2.125
    expect(l.dataSync()[0]).toBeCloseTo(2.125, 5);
    tf.dispose([p, t, l]);
  });

  it('gradient of Smooth L1 is d/beta inside and sign(d) outside', () => {
    const t = tf.tensor2d([[0, 0]]);
    const g = tf.grad((p: tf.Tensor) => regressionLoss(p as tf.Tensor2D, t, { beta: 2, scale: 1 }))(tf.tensor2d([[1, -5]]));
    close(g.dataSync(), [0.5, -1]);
    tf.dispose([t, g]);
  });
});

describe('emaDecay', () => {
  it('rises linearly from start to end over annealSteps, then stays', () => {
    const o = { start: 0.999, end: 0.9999, annealSteps: 1000 };
    expect(emaDecay(0, o)).toBeCloseTo(0.999, 10);
    expect(emaDecay(500, o)).toBeCloseTo(0.99945, 10);
    expect(emaDecay(1000, o)).toBe(0.9999);
    expect(emaDecay(5000, o)).toBe(0.9999);
    expect(emaDecay(10, { start: 0.9998, end: 0.9998, annealSteps: 0 })).toBe(0.9998);
  });
});

class Tiny extends Module {
  readonly w: tf.Variable;
  constructor(v: number[]) {
    super();
    this.w = this.param('w', () => tf.tensor1d(v));
  }
}

describe('EmaTeacher', () => {
  it('starts as a copy, then follows teacher = tau*teacher + (1-tau)*student, never trainable', () => {
    const student = new Tiny([1, 2]);
    const teacher = new Tiny([9, 9]);
    const ema = new EmaTeacher(student, teacher);
    close(teacher.w.dataSync(), [1, 2]);
    expect(teacher.w.trainable).toBe(false);
    student.w.assign(tf.tensor1d([3, 6]));
    const n = tf.memory().numTensors;
    ema.update(0.9);
    expect(tf.memory().numTensors).toBe(n);
    // 0.9*1 + 0.1*3 = 1.2; 0.9*2 + 0.1*6 = 2.4
    close(teacher.w.dataSync(), [1.2, 2.4]);
    ema.update(0.5);
    close(teacher.w.dataSync(), [2.1, 4.2]);
    ema.resetToStudent();
    close(teacher.w.dataSync(), [3, 6]);
    student.dispose();
    ema.dispose();
  });

  it('receives no gradient: variableGrads over trainable variables excludes it', () => {
    const student = new Tiny([1, 2]);
    const teacher = new Tiny([0, 0]);
    const ema = new EmaTeacher(student, teacher);
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(student.w, teacher.w)) as tf.Scalar);
    expect(Object.keys(grads)).toContain(student.w.name);
    expect(Object.keys(grads)).not.toContain(teacher.w.name);
    tf.dispose([value, ...Object.values(grads)]);
    student.dispose();
    ema.dispose();
  });
});

describe('collapse guard', () => {
  it('measures mean per-channel std and stops only after warm-up', () => {
    const x = tf.tensor2d([[0, 0], [2, 4]]);
    const s = channelStd(x);
    // unbiased std per channel: sqrt(2) and sqrt(8) -> mean (1.414 + 2.828) / 2
    expect(s.dataSync()[0]).toBeCloseTo((Math.SQRT2 + Math.sqrt(8)) / 2, 3);
    tf.dispose([x, s]);
    const o = { minTargetVar: 0.1, minPredVar: 0.01, afterSteps: 100 };
    expect(() => checkCollapse(50, 0.01, 0.001, o)).not.toThrow();
    expect(() => checkCollapse(150, 0.5, 0.5, o)).not.toThrow();
    expect(() => checkCollapse(150, 0.05, 0.5, o)).toThrow(CollapseError);
    expect(() => checkCollapse(150, 0.5, 0.001, o)).toThrow(/prediction variance/);
  });
});
