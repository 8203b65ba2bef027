import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, rdft, powerSpectrum, stftPower } from '../src/index.js';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('DFT as matmul (wasm has no FFT kernel)', () => {
  it('matches a direct DFT and finds a sine at its bin', () => {
    const n = 16;
    const x = Float32Array.from({ length: n }, (_, t) => Math.sin((2 * Math.PI * 3 * t) / n) + 0.5);
    const xt = tf.tensor2d(x, [1, n]);
    const { re, im } = rdft(xt);
    const r = re.dataSync();
    const i = im.dataSync();
    for (let k = 0; k <= n / 2; k++) {
      let er = 0;
      let ei = 0;
      for (let t = 0; t < n; t++) {
        er += x[t]! * Math.cos((-2 * Math.PI * k * t) / n);
        ei += x[t]! * Math.sin((-2 * Math.PI * k * t) / n);
      }
      expect(r[k]).toBeCloseTo(er, 3);
      expect(i[k]).toBeCloseTo(ei, 3);
    }
    const p = powerSpectrum(xt).dataSync();
    expect(p[3]).toBeCloseTo((n / 2) ** 2, 1);
    expect(p[0]).toBeCloseTo((n * 0.5) ** 2, 1);
    tf.dispose([xt, re, im]);
  });

  it('stft power is differentiable and leak-free', () => {
    const s = tf.randomNormal([2, 400]) as tf.Tensor2D;
    const n = tf.memory().numTensors;
    const g = tf.grad((x: tf.Tensor) => tf.sum(stftPower(x as tf.Tensor2D, { frameLength: 64, hop: 32 })))(s);
    expect(g.shape).toEqual([2, 400]);
    expect(Number.isFinite(tf.tidy(() => g.sum().dataSync()[0]!))).toBe(true);
    const spec = stftPower(s, { frameLength: 64, hop: 32 });
    expect(spec.shape).toEqual([2, 11, 33]);
    tf.dispose([g, spec]);
    expect(tf.memory().numTensors).toBe(n + 2); // only the two cached bases remain
    s.dispose();
  });
});
