import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, Rng } from '@d2v/core';
import { col2im, convOutputLength, groupedConvSame, im2col } from '@d2v/core';
import { conv1d } from '../src/ops/conv1d.js';
import { PAPER_CONV_LAYERS, SpeechEncoder, frameGeometry, framesForSamples, type SpeechEncoderConfig } from '../src/encoder.js';
import { collateAudio } from '../src/data/batching.js';

const rand = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

/** Reference: tfjs's own conv2d and its autodiff (cpu has every kernel). */
function referenceConv(x: tf.Tensor3D, w: tf.Tensor2D, k: number, s: number): tf.Tensor3D {
  const [b, L, cin] = x.shape;
  const cout = w.shape[1];
  const y = tf.conv2d(tf.reshape(x, [b, 1, L, cin]) as tf.Tensor4D, tf.reshape(w, [1, k, cin, cout]) as tf.Tensor4D, [1, s], 'valid');
  return tf.reshape(y, [b, y.shape[2], cout]) as tf.Tensor3D;
}

describe('wav2vec 2.0 frame rate', () => {
  it('the paper stack hops 320 samples with a 400-sample receptive field: 50 frames per second at 16 kHz', () => {
    const g = frameGeometry(PAPER_CONV_LAYERS);
    expect(g.hop).toBe(320);
    expect(g.receptiveField).toBe(400);
    expect(16000 / g.hop).toBe(50);
    // The layer-by-layer formula equals floor((L - 400) / 320) + 1 for every length.
    for (const L of [400, 719, 720, 16000, 16320, 32000, 160000, 250_001]) {
      expect(framesForSamples(L, PAPER_CONV_LAYERS)).toBe(Math.floor((L - 400) / 320) + 1);
    }
    expect(framesForSamples(399, PAPER_CONV_LAYERS)).toBe(0);
    // 10 s: 499 frames; every extra 20 ms adds exactly one frame.
    expect(framesForSamples(160000, PAPER_CONV_LAYERS)).toBe(499);
    expect(framesForSamples(160000 + 320, PAPER_CONV_LAYERS)).toBe(500);
    expect(convOutputLength(9, 10, 5)).toBe(0);
  });
});

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`conv ops on ${backend}`, () => {
    beforeAll(async () => {
      await initBackend(backend);
    });

    it.each([
      { k: 10, s: 5, cin: 1, cout: 4, L: 103 },
      { k: 3, s: 2, cin: 3, cout: 5, L: 40 },
      { k: 3, s: 2, cin: 3, cout: 5, L: 41 },
      { k: 2, s: 2, cin: 4, cout: 3, L: 17 },
      { k: 5, s: 1, cin: 2, cout: 2, L: 9 },
      { k: 7, s: 3, cin: 2, cout: 3, L: 30 },
    ])('conv1d k$k s$s equals tf.conv2d, and its gradients equal autodiff of conv2d on cpu', async ({ k, s, cin, cout, L }) => {
      const x = rand([2, L, cin], k * 7 + L) as tf.Tensor3D;
      const w = rand([k * cin, cout], s * 13 + cout) as tf.Tensor2D;
      const before = tf.memory().numTensors;
      const loss = (xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.sin(conv1d(xx as tf.Tensor3D, ww as tf.Tensor2D, k, s)));
      const [gx, gw] = tf.grads(loss)([x, w]);
      const y = conv1d(x, w, k, s);
      expect(tf.memory().numTensors).toBe(before + 3);
      const yv = y.arraySync();
      const gxv = gx!.arraySync();
      const gwv = gw!.arraySync();
      tf.dispose([y, gx!, gw!]);
      // The reference on cpu, where tfjs has Conv2DBackpropInput/Filter.
      const active = tf.getBackend();
      await tf.setBackend('cpu');
      const xc = tf.tensor(x.arraySync() as number[][][]) as tf.Tensor3D;
      const wc = tf.tensor(w.arraySync() as number[][]) as tf.Tensor2D;
      const ref = referenceConv(xc, wc, k, s);
      const [rx, rw] = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.sin(referenceConv(xx as tf.Tensor3D, ww as tf.Tensor2D, k, s))))([xc, wc]);
      expect(ref.shape[1]).toBe(convOutputLength(L, k, s));
      expect(maxDiff(tf.tensor(yv as number[][][]), ref)).toBeLessThan(1e-4);
      expect(maxDiff(tf.tensor(gxv as number[][][]), rx!)).toBeLessThan(1e-4);
      expect(maxDiff(tf.tensor(gwv as number[][]), rw!)).toBeLessThan(1e-4);
      tf.dispose([xc, wc, ref, rx!, rw!]);
      await tf.setBackend(active);
      tf.dispose([x, w]);
    });

    it('col2im is the adjoint of im2col: <im2col(x), c> = <x, col2im(c)>', () => {
      const x = rand([2, 23, 3], 1) as tf.Tensor3D;
      const cols = im2col(x, 3, 2);
      const c = rand(cols.shape, 2) as tf.Tensor2D;
      const back = col2im(c, 2, 23, 3, 3, 2);
      const lhs = tf.sum(tf.mul(cols, c)).dataSync()[0]!;
      const rhs = tf.sum(tf.mul(x, back)).dataSync()[0]!;
      expect(lhs).toBeCloseTo(rhs, 3);
      tf.dispose([x, cols, c, back]);
    });

    it('grouped same-padded conv equals a per-group loop of plain convolutions', () => {
      const [B, T, C, G, k] = [2, 11, 8, 4, 5];
      const x = rand([B, T, C], 3) as tf.Tensor3D;
      const w = rand([G, k * (C / G), C / G], 4) as tf.Tensor3D;
      const bias = rand([C], 5) as tf.Tensor1D;
      const before = tf.memory().numTensors;
      const y = groupedConvSame(x, w, bias, k);
      expect(tf.memory().numTensors).toBe(before + 1);
      const cg = C / G;
      const ref = tf.tidy(() => {
        const xp = tf.pad(x, [[0, 0], [2, 2], [0, 0]]);
        const outs = Array.from({ length: G }, (_, g) => {
          const xg = tf.slice(xp, [0, 0, g * cg], [B, T + 4, cg]) as tf.Tensor3D;
          return referenceConv(xg, tf.reshape(tf.slice(w, [g, 0, 0], [1, k * cg, cg]), [k * cg, cg]) as tf.Tensor2D, k, 1);
        });
        return tf.add(tf.concat(outs, 2), bias);
      });
      expect(y.shape).toEqual([B, T, C]);
      expect(maxDiff(y, ref)).toBeLessThan(1e-4);
      // Even kernels keep one more frame on the left (fairseq's SamePad) and still give T frames.
      const w4 = rand([G, 4 * cg, cg], 6) as tf.Tensor3D;
      const y4 = groupedConvSame(x, w4, undefined, 4);
      expect(y4.shape).toEqual([B, T, C]);
      tf.dispose([x, w, bias, y, ref, w4, y4]);
    });
  });
}

describe('SpeechEncoder', () => {
  const cfg: SpeechEncoderConfig = {
    convLayers: [
      { channels: 8, kernel: 10, stride: 5 },
      { channels: 8, kernel: 3, stride: 2 },
      { channels: 8, kernel: 2, stride: 2 },
    ],
    dim: 16,
    posConvLayers: 2,
    posConvKernel: 5,
    posConvGroups: 4,
    dropout: 0,
    dropoutInput: 0,
  };

  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('gives one frame per hop, a frame padding mask for short rows, and leaks no tensors', () => {
    const enc = new SpeechEncoder(cfg, 3);
    const rng = new Rng(1);
    const a = Float32Array.from({ length: 400 }, () => rng.normal());
    const batch = collateAudio([{ audio: a }, { audio: a.subarray(0, 250) }]);
    const before = tf.memory().numTensors;
    const f = enc.features(batch, { training: false });
    const T = enc.frames(400);
    expect(T).toBe(framesForSamples(400, cfg.convLayers));
    expect(f.features.shape).toEqual([2, T, 16]);
    expect(Array.from(f.paddingMask!.dataSync())).toEqual([...new Array(T).fill(0), ...Array.from({ length: T }, (_, t) => (t < enc.frames(250) ? 0 : 1))]);
    const mask = tf.tensor2d(Array.from({ length: 2 * T }, (_, i) => i % 3 === 0 ? 1 : 0), [2, T]);
    const e = enc.embed(f, { training: false, mask });
    expect(e.x.shape).toEqual([2, T, 16]);
    tf.dispose([f.features, f.paddingMask!, mask, e.x]);
    expect(tf.memory().numTensors).toBe(before);
    // Padding does not change the real frames of the short row (no leak through the positional conv).
    const alone = collateAudio([{ audio: a.subarray(0, 250) }]);
    const fa = enc.features(alone, { training: false });
    const ea = enc.embed(fa, { training: false });
    const fb = enc.features(batch, { training: false });
    const eb = enc.embed(fb, { training: false });
    const n = enc.frames(250);
    expect(maxDiff(ea.x, tf.slice(eb.x, [1, 0, 0], [1, n, 16]))).toBeLessThan(1e-4);
    tf.dispose([fa.features, ea.x, fb.features, fb.paddingMask!, eb.x]);
    batch.dispose();
    alone.dispose();
    enc.dispose();
  });

  it('every parameter gets a gradient on wasm', () => {
    const enc = new SpeechEncoder(cfg, 5);
    const rng = new Rng(2);
    const batch = collateAudio([{ audio: Float32Array.from({ length: 500 }, () => rng.normal()) }]);
    const vars = enc.trainableVariables();
    const T = enc.frames(500);
    const mask = tf.tensor2d(Array.from({ length: T }, (_, t) => (t < 2 ? 1 : 0)), [1, T]);
    const { value, grads } = tf.variableGrads(() => {
      const e = enc.embed(enc.features(batch, { training: true }), { training: true, mask });
      return tf.sum(tf.square(e.x)) as tf.Scalar;
    }, vars);
    for (const v of vars) {
      const g = grads[v.name]!;
      expect(g, v.name).toBeDefined();
      expect(tf.sum(tf.abs(g)).dataSync()[0], v.name).toBeGreaterThan(0);
    }
    tf.dispose([value, mask, ...Object.values(grads)]);
    batch.dispose();
    enc.dispose();
  });
});
