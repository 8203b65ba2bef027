import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, Transformer, disposeOutput, Rng, ConfigError } from '../src/index.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const cfg = { dim: 16, depth: 3, heads: 4, ffnDim: 32, dropout: 0.1, attentionDropout: 0.1 };

describe('Transformer', () => {
  for (const norm of ['pre', 'post'] as const) {
    it(`${norm}-LN returns every block's FFN and block output without leaking`, () => {
      const t = new Transformer({ ...cfg, norm, finalNorm: norm === 'pre', layerScale: norm === 'pre' ? 0.1 : 0 }, 1);
      const x = tf.randomNormal([2, 5, 16]) as tf.Tensor3D;
      const n = tf.memory().numTensors;
      const o = t.forward(x, { rng: new Rng(3) });
      expect(o.output.shape).toEqual([2, 5, 16]);
      expect(o.ffn).toHaveLength(3);
      expect(o.blocks).toHaveLength(3);
      expect(o.ffn[0]!.shape).toEqual([2, 5, 16]);
      disposeOutput(o);
      expect(tf.memory().numTensors).toBe(n);
      x.dispose();
      t.dispose();
    });
  }

  it('is deterministic in eval mode and for a fixed dropout seed', () => {
    const t = new Transformer({ ...cfg, norm: 'post' }, 1);
    const x = tf.randomNormal([2, 5, 16], 0, 1, 'float32', 4) as tf.Tensor3D;
    const a = t.forward(x, { rng: new Rng(9) });
    const b = t.forward(x, { rng: new Rng(9) });
    const c = t.forward(x, { rng: new Rng(10) });
    expect(tf.max(tf.abs(tf.sub(a.output, b.output))).dataSync()[0]).toBe(0);
    expect(tf.max(tf.abs(tf.sub(a.output, c.output))).dataSync()[0]).toBeGreaterThan(0);
    t.setTraining(false);
    const d = t.forward(x, { rng: new Rng(1) });
    const e = t.forward(x, { rng: new Rng(2) });
    expect(tf.max(tf.abs(tf.sub(d.output, e.output))).dataSync()[0]).toBe(0);
    [a, b, c, d, e].forEach(disposeOutput);
    x.dispose();
    t.dispose();
  });

  it('padded keys do not influence unpadded positions', () => {
    const t = new Transformer({ ...cfg, norm: 'pre', finalNorm: true, dropout: 0, attentionDropout: 0 }, 2).setTraining(false);
    const x = tf.randomNormal([1, 6, 16], 0, 1, 'float32', 5) as tf.Tensor3D;
    const x2 = tf.concat([tf.slice(x, [0, 0, 0], [1, 4, 16]), tf.fill([1, 2, 16], 7)], 1) as tf.Tensor3D;
    const pad = tf.tensor2d([[0, 0, 0, 0, 1, 1]]);
    const a = t.forward(x, { paddingMask: pad });
    const b = t.forward(x2, { paddingMask: pad });
    const diff = tf.max(tf.abs(tf.sub(tf.slice(a.output, [0, 0, 0], [1, 4, 16]), tf.slice(b.output, [0, 0, 0], [1, 4, 16])))).dataSync()[0]!;
    expect(diff).toBeLessThan(1e-5);
    // Without the mask the padding values do matter.
    const c = t.forward(x2);
    const diff2 = tf.max(tf.abs(tf.sub(tf.slice(a.output, [0, 0, 0], [1, 4, 16]), tf.slice(c.output, [0, 0, 0], [1, 4, 16])))).dataSync()[0]!;
    expect(diff2).toBeGreaterThan(1e-3);
    [a, b, c].forEach(disposeOutput);
    tf.dispose([x, x2, pad]);
    t.dispose();
  });

  it('layer drop skips blocks only while training', () => {
    const t = new Transformer({ ...cfg, layerDrop: 0.5 }, 3);
    const x = tf.randomNormal([1, 4, 16]) as tf.Tensor3D;
    const counts = new Set<number>();
    for (let s = 0; s < 20; s++) {
      const o = t.forward(x, { rng: new Rng(s) });
      counts.add(o.blocks.length);
      disposeOutput(o);
    }
    expect(counts.size).toBeGreaterThan(1);
    t.setTraining(false);
    const o = t.forward(x, { rng: new Rng(0) });
    expect(o.blocks).toHaveLength(3);
    disposeOutput(o);
    x.dispose();
    t.dispose();
  });

  it('refuses a width not divisible by the head count', () => {
    expect(() => new Transformer({ ...cfg, heads: 5 }, 1)).toThrow(ConfigError);
  });
});
