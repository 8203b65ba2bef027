import { describe, it, expect } from 'vitest';
import { Rng, ShapeError, ConfigError, resolveConfig } from '@d2v/core';
import { RandomMasker, BertMasker } from '../src/masker.js';
import { randomMask, randomMaskCount } from '../src/masking/randomMask.js';
import { modality } from '../src/modality.js';
import type { TextBatch } from '../src/batch.js';

/** Just what RandomMasker reads from a text batch (it never looks at the ids). */
function fakeBatch(B: number, T: number, lengths?: number[]): TextBatch {
  return { size: B, length: T, lengths: Int32Array.from(lengths ?? Array(B).fill(T)), ids: new Int32Array(B * T), dispose: () => {} } as unknown as TextBatch;
}

function rowCounts(mask: Uint8Array, B: number, T: number): number[] {
  return Array.from({ length: B }, (_, b) => mask.subarray(b * T, (b + 1) * T).reduce((a, v) => a + v, 0));
}

/** lossIndices are exactly the masked positions, row by row, ascending. */
function indicesOf(mask: Uint8Array): number[] {
  const out: number[] = [];
  mask.forEach((v, i) => {
    if (v) out.push(i);
  });
  return out;
}

describe('RandomMasker (data2vec 2.0 text)', () => {
  it('masks exactly floor(prob x T) positions in every row of every call', () => {
    for (const T of [99, 100, 128]) {
      const k = Math.floor(0.48 * T);
      expect(randomMaskCount(T, 0.48)).toBe(k);
      const masker = new RandomMasker(0.48);
      const rng = new Rng(T);
      for (let call = 0; call < 20; call++) {
        const r = masker.mask(fakeBatch(8, T), rng);
        expect(rowCounts(r.mask!, 8, T)).toEqual(Array(8).fill(k));
        expect(r.length).toBe(T);
        expect(r.lossIndices.length).toBe(8 * k);
      }
    }
    // The epsilon keeps products that are integers in exact arithmetic from rounding down.
    expect(randomMaskCount(100, 0.29)).toBe(29);
    expect(randomMaskCount(10, 0.7)).toBe(7);
  });

  it('returns mask + lossIndices consistent with it, and no studentBatch', () => {
    const r = new RandomMasker(0.48).mask(fakeBatch(4, 64), new Rng(1));
    expect(r.studentBatch).toBeUndefined();
    expect(r.mask).toBeInstanceOf(Uint8Array);
    expect(r.mask!.length).toBe(4 * 64);
    expect(r.lossIndices).toBeInstanceOf(Int32Array);
    expect(Array.from(r.lossIndices)).toEqual(indicesOf(r.mask!));
  });

  it('covers every position uniformly (BOS and EOS included) across seeds', () => {
    const T = 50;
    const B = 16;
    const hits = new Float64Array(T);
    let rows = 0;
    const masker = new RandomMasker(0.48);
    for (let seed = 0; seed < 150; seed++) {
      const r = masker.mask(fakeBatch(B, T), new Rng(seed));
      for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) hits[t] += r.mask![b * T + t]!;
      rows += B;
    }
    const freq = Array.from(hits, (h) => h / rows);
    // 2400 rows: the standard error of each frequency is sqrt(0.48 x 0.52 / 2400) ~ 0.010.
    for (const f of freq) expect(Math.abs(f - 0.48)).toBeLessThan(0.05);
    // Chi-square over the T positions (T - 1 = 49 degrees of freedom; p = 0.001 at ~85).
    const expected = (rows * 24) / T; // 24 = floor(0.48 x 50) masked per row
    const chi2 = Array.from(hits).reduce((a, h) => a + (h - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(85);
    // Positions within a row are not tied together: neighbours are masked together about 0.48 x 23/49 of the time.
    const r = masker.mask(fakeBatch(400, T), new Rng(99));
    let both = 0;
    for (let b = 0; b < 400; b++) for (let t = 0; t + 1 < T; t++) both += r.mask![b * T + t]! & r.mask![b * T + t + 1]!;
    expect(both / (400 * (T - 1))).toBeCloseTo((24 / 50) * (23 / 49), 1);
  });

  it('is deterministic given the rng state, and different for another seed', () => {
    const m = new RandomMasker(0.48);
    const a = m.mask(fakeBatch(4, 100), new Rng(6));
    const b = m.mask(fakeBatch(4, 100), new Rng(6));
    const c = m.mask(fakeBatch(4, 100), new Rng(7));
    expect(b.mask).toEqual(a.mask);
    expect(b.lossIndices).toEqual(a.lossIndices);
    expect(c.mask).not.toEqual(a.mask);
    // Consecutive calls (the masked copies of one batch) differ.
    const rng = new Rng(8);
    expect(m.mask(fakeBatch(4, 100), rng).mask).not.toEqual(m.mask(fakeBatch(4, 100), rng).mask);
  });

  it('with padding masks only real tokens, floor(prob x shortest valid) in every row', () => {
    const T = 64;
    const r = new RandomMasker(0.48).mask(fakeBatch(3, T, [50, 50, 50]), new Rng(2));
    expect(rowCounts(r.mask!, 3, T)).toEqual([24, 24, 24]);
    for (let b = 0; b < 3; b++) for (let t = 50; t < T; t++) expect(r.mask![b * T + t]).toBe(0);
    expect(Array.from(r.lossIndices)).toEqual(indicesOf(r.mask!));
    // Rows of different lengths (the corpus's short last block): the shortest row sets the count.
    const uneven = new RandomMasker(0.48).mask(fakeBatch(3, T, [64, 50, 64]), new Rng(2));
    expect(rowCounts(uneven.mask!, 3, T)).toEqual([24, 24, 24]);
    for (let t = 50; t < T; t++) expect(uneven.mask![T + t]).toBe(0);
    expect(new Set(Array.from(uneven.lossIndices).filter((i) => i < T && i >= 50)).size).toBeGreaterThan(0);
    expect(() => randomMask(new Rng(2), { batch: 2, length: 8, prob: 0.5, validLengths: [9, 9] })).toThrow(ShapeError);
    expect(() => new RandomMasker(1)).toThrow(RangeError);
    expect(() => new RandomMasker(0)).toThrow(RangeError);
  });
});

describe('createMasker', () => {
  const make = (o: Record<string, unknown>) =>
    modality.createMasker(resolveConfig({ modality: 'text', modalitySchema: modality.schema, presets: modality.presets, preset: 'tiny', overrides: new Map(Object.entries(o)) }));

  it('returns RandomMasker with masking.ratio for objective.version 2 and BertMasker otherwise', () => {
    const v2 = make({ 'objective.version': 2, 'objective.clones': 4, 'masking.ratio': 0.48 });
    expect(v2).toBeInstanceOf(RandomMasker);
    expect((v2 as RandomMasker).prob).toBe(0.48);
    expect(make({})).toBeInstanceOf(BertMasker);
    expect(() => make({ 'objective.version': 2, 'masking.ratio': 1 })).toThrow(ConfigError);
    // The option's name before the masking sections were unified names the new one.
    expect(() => make({ 'masking.prob': 0.2 })).toThrow(/option 'masking\.prob' was renamed to 'masking\.ratio'/);
  });
});
