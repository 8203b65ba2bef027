import { describe, expect, it } from 'vitest';
import { Rng, ShapeError, ConfigError, resolveConfig } from '@d2v/core';
import { spanMask } from '../src/masking/spanMask.js';
import { SpanMasker, exactMaskCount } from '../src/masking/spanMasker.js';
import { PAPER_CONV_LAYERS } from '../src/encoder.js';
import type { SpeechBatch } from '../src/data/source.js';
import { modality } from '../src/modality.js';

/** data2vec 2.0 audio: mask_prob 0.5 + mask_prob_adjust 0.05 over spans of 5 = p 0.11, then exactly 0.5 T. */
const V2 = { maskProb: 0.11, spanLength: 5, minMasks: 2 };

function rowCounts(mask: Uint8Array, B: number, T: number): number[] {
  return Array.from({ length: B }, (_, b) => mask.subarray(b * T, (b + 1) * T).reduce((a, v) => a + v, 0));
}

function runLengths(mask: Uint8Array, B: number, T: number): number[] {
  const runs: number[] = [];
  for (let b = 0; b < B; b++) {
    let run = 0;
    for (let t = 0; t <= T; t++) {
      if (t < T && mask[b * T + t]) run++;
      else if (run > 0) {
        runs.push(run);
        run = 0;
      }
    }
  }
  return runs;
}

/** Samples giving `frames` frames with the paper conv stack (receptive field 400, hop 320). */
const samplesFor = (frames: number) => 400 + 320 * (frames - 1);

/** Just what SpanMasker reads from a speech batch. */
function fakeBatch(lengths: number[], padded = Math.max(...lengths)): SpeechBatch {
  return { size: lengths.length, audio: { shape: [lengths.length, padded] }, lengths: Int32Array.from(lengths), dispose: () => {} } as unknown as SpeechBatch;
}

describe('spanMask exactCount (data2vec 2.0)', () => {
  it('masks exactly exactCount frames in every row, for many seeds and two lengths', () => {
    for (const T of [99, 100]) {
      const k = exactMaskCount(T, 0.5);
      expect(k).toBe(Math.floor(T / 2));
      for (let seed = 0; seed < 60; seed++) {
        const B = 4;
        const r = spanMask(new Rng(seed), { batch: B, length: T, ...V2, exactCount: k });
        expect(rowCounts(r.mask, B, T)).toEqual([k, k, k, k]);
        expect(r.perRow).toBe(k);
        expect(r.maskedIndices.length).toBe(B * k);
        // maskedIndices lists exactly the masked frames, ascending.
        expect(Array.from(r.maskedIndices).every((idx, i) => r.mask[idx] === 1 && (i === 0 || idx > r.maskedIndices[i - 1]!))).toBe(true);
      }
    }
  });

  it('keeps spans: masked frames form mostly contiguous runs (mean run length well above 1)', () => {
    const T = 100;
    const B = 8;
    const runs: number[] = [];
    for (let seed = 0; seed < 40; seed++) runs.push(...runLengths(spanMask(new Rng(seed), { batch: B, length: T, ...V2, exactCount: 50 }).mask, B, T));
    const mean = runs.reduce((a, v) => a + v, 0) / runs.length;
    // A uniformly random half of the frames would give runs of mean length 2.
    expect(mean).toBeGreaterThan(3.5);
    expect(runs.filter((r) => r >= 5).length / runs.length).toBeGreaterThan(0.3);
  });

  it('fills and trims: exact counts well below and above what the spans cover', () => {
    const T = 200;
    for (const k of [5, 60, 150, 200, 0]) {
      const r = spanMask(new Rng(11), { batch: 3, length: T, ...V2, exactCount: k });
      expect(rowCounts(r.mask, 3, T)).toEqual([k, k, k]);
    }
  });

  it('is deterministic given the rng state, and different for another seed', () => {
    const opts = { batch: 3, length: 120, ...V2, exactCount: 60 };
    expect(spanMask(new Rng(6), opts).mask).toEqual(spanMask(new Rng(6), opts).mask);
    expect(spanMask(new Rng(7), opts).mask).not.toEqual(spanMask(new Rng(6), opts).mask);
  });

  it('works with padding when every row has enough valid frames, and refuses rows that are too short', () => {
    const T = 100;
    const r = spanMask(new Rng(3), { batch: 2, length: T, ...V2, validLengths: [100, 60], exactCount: 40 });
    expect(rowCounts(r.mask, 2, T)).toEqual([40, 40]);
    for (let t = 60; t < T; t++) expect(r.mask[T + t]).toBe(0);
    expect(() => spanMask(new Rng(3), { batch: 2, length: T, validLengths: [100, 30], exactCount: 40 })).toThrow(ShapeError);
    expect(() => spanMask(new Rng(3), { batch: 1, length: T, exactCount: 2.5 })).toThrow(RangeError);
  });
});

describe('SpanMasker for objective.version 2', () => {
  it('returns mask + lossIndices + length, no studentBatch, the same count in every row of every call', () => {
    for (const T of [99, 100]) {
      const masker = new SpanMasker(PAPER_CONV_LAYERS, { ...V2, exactFraction: 0.5 });
      const batch = fakeBatch([samplesFor(T), samplesFor(T), samplesFor(T)]);
      const rng = new Rng(5);
      const k = Math.floor(T / 2);
      const masks: Uint8Array[] = [];
      for (let call = 0; call < 8; call++) {
        const r = masker.mask(batch, rng);
        expect(r.length).toBe(T);
        expect(r.studentBatch).toBeUndefined();
        expect(r.mask).toBeDefined();
        expect(rowCounts(r.mask!, 3, T)).toEqual([k, k, k]);
        expect(Array.from(r.lossIndices)).toEqual(Array.from(r.mask!.keys()).filter((i) => r.mask![i] === 1));
        masks.push(r.mask!);
      }
      // Each call (masked copy) draws a new mask.
      expect(new Set(masks.map((m) => m.join(''))).size).toBe(masks.length);
    }
  });

  it('refuses padded rows: version 2 needs equal-length rows', () => {
    const masker = new SpanMasker(PAPER_CONV_LAYERS, { ...V2, exactFraction: 0.5 });
    const batch = fakeBatch([samplesFor(100), samplesFor(80)]);
    expect(() => masker.mask(batch, new Rng(1))).toThrow(ShapeError);
    expect(() => masker.mask(batch, new Rng(1))).toThrow(/objective.version 2 needs equal-length rows \(pretraining crops/);
    // Version 1 still masks such a batch (the batch's smallest count).
    const v1 = new SpanMasker(PAPER_CONV_LAYERS, V2).mask(batch, new Rng(1));
    const c = rowCounts(v1.mask!, 2, 100);
    expect(c[0]).toBe(c[1]);
    expect(() => new SpanMasker(PAPER_CONV_LAYERS, { ...V2, exactFraction: 1 })).toThrow(RangeError);
  });

  it('createMasker picks the exact count for version 2 from masking.ratio, else startProb x spanLength', () => {
    const make = (o: Record<string, unknown>) =>
      modality.createMasker(resolveConfig({ modality: 'speech', modalitySchema: modality.schema, presets: modality.presets, preset: 'tiny', overrides: new Map(Object.entries(o)) }));
    const batch = fakeBatch([samplesFor(100), samplesFor(100)]);
    const count = (m: ReturnType<typeof make>) => rowCounts(m.mask(batch, new Rng(2)).mask!, 2, 100);
    const v2 = { 'objective.version': 2, 'objective.clones': 4, 'masking.startProb': 0.11, 'masking.spanLength': 5 };
    expect(count(make({ ...v2, 'masking.ratio': 0.5 }))).toEqual([50, 50]);
    expect(count(make(v2))).toEqual([55, 55]); // 0.11 x 5
    expect(() => make({ ...v2, 'masking.ratio': 1.2 })).toThrow(ConfigError);
    expect(() => make({ 'objective.version': 2, 'masking.startProb': 0.2 })).toThrow(/startProb x spanLength/); // 0.2 x 10 = 2
    // Version 1 keeps the batch-minimum count of wav2vec 2.0 / data2vec (about 49% at p 0.065, spans of 10).
    const v1 = count(make({}));
    expect(v1[0]).toBe(v1[1]);
  });
});
