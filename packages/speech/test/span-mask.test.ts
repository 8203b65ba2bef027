import { describe, expect, it } from 'vitest';
import { Rng, ShapeError } from '@d2v/core';
import { spanMask } from '../src/masking/spanMask.js';

function rowCounts(mask: Uint8Array, B: number, T: number): number[] {
  return Array.from({ length: B }, (_, b) => mask.subarray(b * T, (b + 1) * T).reduce((a, v) => a + v, 0));
}

describe('spanMask (wav2vec 2.0 convention)', () => {
  it('masks about 49% of long rows with p = 0.065 and spans of 10, the same count in every row', () => {
    const B = 16;
    const T = 2000;
    const { mask, maskedIndices, perRow } = spanMask(new Rng(1), { batch: B, length: T });
    const counts = rowCounts(mask, B, T);
    expect(new Set(counts)).toEqual(new Set([perRow]));
    const fraction = perRow / T;
    expect(fraction).toBeGreaterThan(0.44);
    expect(fraction).toBeLessThan(0.53);
    // maskedIndices lists exactly the masked frames, row by row, ascending.
    expect(maskedIndices.length).toBe(B * perRow);
    expect(Array.from(maskedIndices).every((idx, i) => mask[idx] === 1 && (i === 0 || idx > maskedIndices[i - 1]!))).toBe(true);
  });

  it('on average over many rows masks 1 - exp(-0.65) plus the distinct-start correction (~48-49%)', () => {
    let masked = 0;
    const rng = new Rng(2);
    for (let i = 0; i < 20; i++) masked += spanMask(rng, { batch: 4, length: 1000, sameCount: false }).mask.reduce((a, v) => a + v, 0);
    const fraction = masked / (20 * 4 * 1000);
    expect(fraction).toBeGreaterThan(0.46);
    expect(fraction).toBeLessThan(0.51);
  });

  it('masks spans of spanLength consecutive frames (before equalising counts)', () => {
    const T = 400;
    const { mask } = spanMask(new Rng(3), { batch: 1, length: T, maskProb: 0.01, spanLength: 7, sameCount: false });
    // With sparse starts most runs are exactly one span; every run is at least one span long.
    const runs: number[] = [];
    let run = 0;
    for (let t = 0; t <= T; t++) {
      if (t < T && mask[t]) run++;
      else if (run > 0) {
        runs.push(run);
        run = 0;
      }
    }
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs.every((r) => r >= 7)).toBe(true);
    expect(runs.filter((r) => r === 7).length).toBeGreaterThanOrEqual(runs.length / 2);
  });

  it('never masks padding and scales the span count with each row\'s valid length', () => {
    const B = 4;
    const T = 1000;
    const valid = [1000, 600, 300, 120];
    const padding = valid.map((n) => Uint8Array.from({ length: T }, (_, t) => (t >= n ? 1 : 0)));
    const a = spanMask(new Rng(4), { batch: B, length: T, padding, sameCount: false });
    const b = spanMask(new Rng(4), { batch: B, length: T, validLengths: valid, sameCount: false });
    expect(b.mask).toEqual(a.mask);
    for (let r = 0; r < B; r++) for (let t = valid[r]!; t < T; t++) expect(a.mask[r * T + t]).toBe(0);
    const counts = rowCounts(a.mask, B, T);
    expect(counts[0]).toBeGreaterThan(counts[3]!);
    const same = spanMask(new Rng(4), { batch: B, length: T, validLengths: valid });
    expect(new Set(rowCounts(same.mask, B, T)).size).toBe(1);
    expect(same.perRow).toBe(Math.min(...counts));
    for (let r = 0; r < B; r++) for (let t = valid[r]!; t < T; t++) expect(same.mask[r * T + t]).toBe(0);
  });

  it('always places at least minMasks spans, also in short rows, and handles empty rows', () => {
    const { mask } = spanMask(new Rng(5), { batch: 1, length: 40, maskProb: 0, minMasks: 2, spanLength: 5, sameCount: false });
    const n = mask.reduce((a, v) => a + v, 0);
    expect(n).toBeGreaterThanOrEqual(6); // 2 distinct starts x 5 frames, overlapping at most 4
    expect(n).toBeLessThanOrEqual(10);
    const tiny = spanMask(new Rng(5), { batch: 1, length: 4, spanLength: 10 });
    expect(tiny.perRow).toBe(4); // a row shorter than a span is masked whole
    const withEmpty = spanMask(new Rng(5), { batch: 2, length: 50, validLengths: [50, 0] });
    expect(withEmpty.perRow).toBe(0);
    expect(withEmpty.mask.every((v) => v === 0)).toBe(true);
  });

  it('is deterministic given the rng state, and different for another seed', () => {
    const opts = { batch: 2, length: 300 };
    expect(spanMask(new Rng(6), opts).mask).toEqual(spanMask(new Rng(6), opts).mask);
    expect(spanMask(new Rng(7), opts).mask).not.toEqual(spanMask(new Rng(6), opts).mask);
  });

  it('rejects padding that is not at the end of a row or does not match the shape', () => {
    const holes = [Uint8Array.from([0, 1, 0, 0])];
    expect(() => spanMask(new Rng(8), { batch: 1, length: 4, padding: holes })).toThrow(ShapeError);
    expect(() => spanMask(new Rng(8), { batch: 2, length: 4, padding: new Uint8Array(4) })).toThrow(/does not match/);
    expect(() => spanMask(new Rng(8), { batch: 1, length: 4, maskProb: 2 })).toThrow(RangeError);
  });
});
