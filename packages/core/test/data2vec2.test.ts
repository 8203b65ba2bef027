import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  initBackend,
  pretrain,
  resolveConfig,
  stepRng,
  createPretrainTask,
  multiMask,
  maskedRegression,
  ConvDecoder,
  groupedConvSame,
  groupedConv2dSame,
  Data2Vec2PretrainTask,
  Trainer,
  Rng,
  ShapeError,
  ConfigError,
  type MaskingStrategy,
  type Batch,
} from '../src/index.js';
import { modality as toy } from './fixtures/toy-modality.js';

const TOY = resolve(__dirname, 'fixtures/toy-modality.ts');
const quiet = { log: () => {}, plots: false, progressStream: { write: () => true, isTTY: false } as never };
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'd2v-v2-'));
  dirs.push(d);
  return d;
};
const v2 = (overrides: Record<string, unknown> = {}) =>
  resolveConfig({ modality: 'toy', modalitySchema: toy.schema, presets: toy.presets, preset: 'tiny-v2', overrides: new Map(Object.entries({ out: tmp(), ...overrides })) });

beforeAll(async () => {
  await initBackend('wasm');
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('multiMask layout', () => {
  it('keeps, restores and targets the right steps for two copies of two samples', () => {
    // T = 4; copy 0 masks steps {1, 2}, copy 1 masks {0, 3}, for both samples.
    const m0 = Uint8Array.from([0, 1, 1, 0, 0, 1, 1, 0]);
    const m1 = Uint8Array.from([1, 0, 0, 1, 1, 0, 0, 1]);
    const l = multiMask([m0, m1], 2, 4);
    expect(l.rows).toBe(4);
    expect(l.visible).toBe(2);
    expect([...l.sampleOf]).toEqual([0, 0, 1, 1]);
    // Row r = sample * 2 + copy.
    expect([...l.keep]).toEqual([0, 3, 5, 6, 8, 11, 13, 14]);
    expect([...l.masked]).toEqual([1, 2, 4, 7, 9, 10, 12, 15]);
    expect([...l.targetRows]).toEqual([1, 2, 0, 3, 5, 6, 4, 7]);
    // Decoder input per row is [visible..., masked...]; restore puts each step back in place.
    const row = (r: number) => [...l.restore.subarray(r * 4, r * 4 + 4)].map((i) => i - r * 4);
    expect(row(0)).toEqual([0, 2, 3, 1]);
    expect(row(1)).toEqual([2, 0, 1, 3]);
  });

  it('refuses rows with different masked counts, naming the rows', () => {
    expect(() => multiMask([Uint8Array.from([1, 0, 0, 1, 1, 0])], 2, 3)).toThrow(ShapeError);
    expect(() => multiMask([Uint8Array.from([1, 0, 0, 1, 1, 0])], 2, 3)).toThrow(/row 1 has 2, row 0 has 1/);
  });
});

describe('the data2vec 2.0 loss', () => {
  it('equals a float64 reference: squared error x scale, summed over channels, averaged over masked steps of all copies', () => {
    const rng = new Rng(3);
    const [B, M, T, C] = [2, 2, 3, 4];
    const decoded = Float64Array.from({ length: B * M * T * C }, () => rng.normal());
    const targets = Float64Array.from({ length: B * T * C }, () => rng.normal());
    const masks = [Uint8Array.from([1, 0, 1, 0, 1, 1]), Uint8Array.from([0, 1, 1, 1, 1, 0])];
    const l = multiMask(masks, B, T);
    const scale = 0.37;
    let sum = 0;
    let n = 0;
    for (let r = 0; r < B * M; r++) {
      for (let t = 0; t < T; t++) {
        if (!l.mask[r * T + t]) continue;
        const b = Math.floor(r / M);
        let row = 0;
        for (let c = 0; c < C; c++) row += (decoded[(r * T + t) * C + c]! - targets[(b * T + t) * C + c]!) ** 2;
        sum += row * scale;
        n++;
      }
    }
    const got = tf.tidy(() =>
      maskedRegression(
        tf.tensor3d(Float32Array.from(decoded), [B * M, T, C]),
        tf.tensor3d(Float32Array.from(targets), [B, T, C]),
        { masked: tf.tensor1d(l.masked, 'int32'), targetRows: tf.tensor1d(l.targetRows, 'int32') },
        { beta: 0, scale },
      ).loss.dataSync()[0]!,
    );
    expect(n).toBe(8);
    expect(got).toBeCloseTo(sum / n, 5);
  });
});

/** Float64 'same' grouped convolution over an h x w grid, weight [G, kh*kw*ci, co] rows (dy, dx, c). */
function convReference(x: Float64Array, [b, h, w, c]: number[], wt: Float64Array, g: number, kh: number, kw: number, co: number): Float64Array {
  const ci = c / g;
  const out = new Float64Array(b * h * w * g * co);
  const top = Math.floor(kh / 2);
  const left = Math.floor(kw / 2);
  for (let n = 0; n < b; n++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++)
        for (let gi = 0; gi < g; gi++)
          for (let o = 0; o < co; o++) {
            let s = 0;
            for (let dy = 0; dy < kh; dy++)
              for (let dx = 0; dx < kw; dx++) {
                const yy = y + dy - top;
                const xs = xx + dx - left;
                if (yy < 0 || yy >= h || xs < 0 || xs >= w) continue;
                for (let k = 0; k < ci; k++) s += x[((n * h + yy) * w + xs) * c + gi * ci + k]! * wt[(gi * kh * kw * ci + (dy * kw + dx) * ci + k) * co + o]!;
              }
            out[((n * h + y) * w + xx) * g * co + gi * co + o] = s;
          }
  return out;
}

describe('grouped convolutions and the decoder', () => {
  it('2-D and 1-D grouped convolutions equal a float64 reference, forward and backward', () => {
    const rng = new Rng(5);
    const cases = [
      { shape: [2, 3, 4, 6], g: 3, kh: 3, kw: 3, co: 2, conv: (x: tf.Tensor, w: tf.Tensor) => groupedConv2dSame(x as tf.Tensor4D, w as tf.Tensor3D, undefined, 3) },
      { shape: [2, 1, 7, 4], g: 2, kh: 1, kw: 4, co: 3, conv: (x: tf.Tensor, w: tf.Tensor) => groupedConvSame(tf.reshape(x, [2, 7, 4]) as tf.Tensor3D, w as tf.Tensor3D, undefined, 4) },
    ];
    for (const k of cases) {
      const size = k.shape.reduce((a, b) => a * b, 1);
      const ci = k.shape[3]! / k.g;
      const x = Float64Array.from({ length: size }, () => rng.normal());
      const w = Float64Array.from({ length: k.g * k.kh * k.kw * ci * k.co }, () => rng.normal());
      const want = convReference(x, k.shape, w, k.g, k.kh, k.kw, k.co);
      const xt = tf.tensor(Float32Array.from(x), k.shape);
      const wtT = tf.tensor3d(Float32Array.from(w), [k.g, k.kh * k.kw * ci, k.co]);
      const got = tf.tidy(() => k.conv(xt, wtT).dataSync());
      want.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 4));
      // Backward: d/dx of sum(conv(x) * r) equals the reference's central difference.
      const r = Float64Array.from({ length: want.length }, () => rng.normal());
      const rt = tf.tensor(Float32Array.from(r), [want.length]);
      const [gx, gw] = tf.tidy(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.reshape(k.conv(a, b), [-1]), rt)))([xt, wtT]).map((t) => t.dataSync()));
      const f = (xx: Float64Array, ww: Float64Array) => convReference(xx, k.shape, ww, k.g, k.kh, k.kw, k.co).reduce((s, v, i) => s + v * r[i]!, 0);
      /** Central difference of g at entry i of v. */
      const slope = (g: (v: Float64Array) => number, v: Float64Array, i: number) => {
        const up = Float64Array.from(v);
        const dn = Float64Array.from(v);
        up[i]! += 1e-3;
        dn[i]! -= 1e-3;
        return (g(up) - g(dn)) / 2e-3;
      };
      for (const i of [0, 5, size - 1]) expect(gx![i]).toBeCloseTo(slope((v) => f(v, w), x, i), 2);
      for (const i of [0, w.length - 1]) expect(gw![i]).toBeCloseTo(slope((v) => f(x, v), w, i), 2);
      tf.dispose([xt, wtT, rt]);
    }
  });

  it('decodes [R, T, C] to [R, T, C] over a sequence (1-D) and over a grid (2-D)', () => {
    const before = tf.memory().numTensors;
    const base = { dim: 16, kernel: 3, layers: 2, groups: 4, residual: true, inputDropout: 0 };
    const d1 = new ConvDecoder({ ...base, conv: '1d' }, 8, 1, 1);
    const d2 = new ConvDecoder({ ...base, conv: '2d' }, 8, 2, 2);
    const x = tf.randomNormal([3, 12, 8]) as tf.Tensor3D;
    const y1 = d1.apply(x, {});
    const y2 = d2.apply(x, { grid: [3, 4] });
    expect(y1.shape).toEqual([3, 12, 8]);
    expect(y2.shape).toEqual([3, 12, 8]);
    expect(() => d2.apply(x, { grid: [5, 5] })).toThrow(/grid of 12 steps/);
    // 2-D: a step's output depends on its grid neighbours only (kernel 3, two layers: within 2 cells).
    const far = tf.tidy(() => {
      const bumped = tf.add(x, tf.mul(tf.oneHot(tf.tensor1d([0], 'int32'), 12).reshape([1, 12, 1]), 10)) as tf.Tensor3D;
      return tf.sub(d2.apply(bumped, { grid: [3, 4] }), y2).abs().max(2).dataSync();
    });
    expect(far[3]).toBeLessThan(1e-5); // cell (0, 3): 3 columns from (0, 0)
    expect(far[1]).toBeGreaterThan(1e-3); // cell (0, 1): a neighbour
    tf.dispose([x, y1, y2]);
    d1.dispose();
    d2.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('data2vec 2.0 pretraining on the toy modality', () => {
  it('the student encodes only the visible steps of every copy; the teacher runs once per sample whatever the copies', async () => {
    for (const clones of [1, 4]) {
      const config = v2({ 'objective.clones': clones });
      const task = createPretrainTask(toy, config, await toy.createData(config, 'train')) as Data2Vec2PretrainTask;
      expect(task).toBeInstanceOf(Data2Vec2PretrainTask);
      const student = vi.spyOn(task.transformer, 'forward');
      const teacher = vi.spyOn(task.teacherTransformer, 'forward');
      const rng = stepRng(config.seed, 0);
      const p = task.prepare(0, rng);
      const { value, grads } = tf.variableGrads(() => task.loss(0, rng, p).loss, task.trainableParams().map(([, q]) => q.variable));
      tf.dispose([value, ...Object.values(grads)]);
      task.release(p);
      const length = 16;
      const visible = length - Math.round(length * 0.5); // toy.maskRatio 0.5
      expect(student).toHaveBeenCalledTimes(1);
      expect(student.mock.calls[0]![0].shape).toEqual([16 * clones, visible, 32]);
      expect(teacher).toHaveBeenCalledTimes(1);
      expect(teacher.mock.calls[0]![0].shape).toEqual([16, length, 32]);
      task.dispose();
    }
  });

  it('loss falls over 60 updates with a flat tensor count; checkpoints hold the decoder', async () => {
    const config = v2();
    const task = createPretrainTask(toy, config, await toy.createData(config, 'train'));
    const counts: number[] = [];
    const r = await new Trainer(task, { config, ...quiet, onStep: () => counts.push(tf.memory().numTensors) }).run();
    const names = Object.keys(task.checkpointGroups()['student']!);
    task.dispose();
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b) / xs.length;
    expect(mean(r.losses.slice(-5))).toBeLessThan(0.7 * mean(r.losses.slice(0, 5)));
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(names.some((n) => n.startsWith('decoder.blocks.0.conv.weight'))).toBe(true);
    expect(names.some((n) => n.startsWith('head.'))).toBe(false);
  });

  it('resume after a stop reproduces the uninterrupted losses', async () => {
    const base = { modality: toy, preset: 'tiny-v2', ...quiet };
    const a = await pretrain({ ...base, overrides: { out: tmp(), 'train.steps': 12, 'train.checkpointEvery': 4 } });
    const out = tmp();
    await pretrain({ ...base, overrides: { out, 'train.steps': 12, 'train.checkpointEvery': 4 }, stopAfter: 6 });
    const b = await pretrain({ ...base, overrides: { out, 'train.steps': 12, 'train.checkpointEvery': 4, resume: true } });
    expect(b.losses).toHaveLength(8);
    b.losses.forEach((l, i) => expect(l).toBeCloseTo(a.losses[4 + i]!, 6));
  });

  it('a worker thread equals sequential gradient accumulation', async () => {
    const base = { 'train.steps': 5, 'optim.accumulate': 2, 'train.batchSize': 8 };
    const seq = await pretrain({ modality: TOY, preset: 'tiny-v2', ...quiet, overrides: { ...base, out: tmp() } });
    const par = await pretrain({ modality: TOY, preset: 'tiny-v2', ...quiet, overrides: { ...base, out: tmp(), 'train.workers': 1 } });
    expect(par.losses).toHaveLength(5);
    par.losses.forEach((l, i) => expect(l).toBeCloseTo(seq.losses[i]!, 4));
  });

  it('refuses a masker that corrupts the batch instead of marking steps, and bad version-2 options', async () => {
    const config = v2();
    const corrupting: MaskingStrategy = { mask: (b: Batch) => ({ lossIndices: new Int32Array(0), length: 16, studentBatch: { size: b.size, dispose: () => {} } }) };
    const task = new Data2Vec2PretrainTask(toy, config, await toy.createData(config, 'train'), corrupting);
    expect(() => task.prepare(0, stepRng(1, 0))).toThrow(/objective.version 2 needs a masker/);
    task.dispose();
    expect(() => v2({ 'objective.decoder.groups': 5 })).toThrow(ConfigError);
    expect(() => v2({ 'objective.version': 1 })).toThrow(/objective.clones \(4\) needs objective.version 2/);
  });
});
