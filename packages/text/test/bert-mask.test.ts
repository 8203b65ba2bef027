import { describe, it, expect } from 'vitest';
import { ConfigError, DataError, Rng } from '@d2v/core';
import { bertMask, type BertMaskOptions } from '../src/masking/bertMask.js';

const BOS = 0;
const PAD = 1;
const EOS = 2;
const V = 1000;
const MASK = V - 1;
const specialIds = [BOS, PAD, EOS];

/** B rows of length T: <s> random content </s> <pad>...; content ids in [3, V-1). */
function makeRows(rng: Rng, B: number, T: number, minLen = 3): Int32Array {
  const tokens = new Int32Array(B * T).fill(PAD);
  for (let b = 0; b < B; b++) {
    const len = minLen + rng.int(T - minLen + 1);
    tokens[b * T] = BOS;
    for (let t = 1; t < len - 1; t++) tokens[b * T + t] = 3 + rng.int(V - 4);
    tokens[b * T + len - 1] = EOS;
  }
  return tokens;
}

/** Fast element-wise equality (vitest's deep equality is slow on 100k-element typed arrays). */
function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const base = (B: number, T: number): BertMaskOptions => ({ batch: B, length: T, vocabSize: V, maskId: MASK, specialIds });

describe('bertMask statistics', () => {
  const B = 600;
  const T = 128;
  const tokens = makeRows(new Rng(1), B, T, 40);
  const r = bertMask(new Rng(2), tokens, base(B, T));

  it('selects 15% +- 1% of the non-special tokens and never a special one', () => {
    let candidates = 0;
    let selected = 0;
    let specialSelected = 0;
    for (let i = 0; i < B * T; i++) {
      const special = specialIds.includes(tokens[i]!);
      if (special) specialSelected += r.selected[i]!;
      else candidates++;
      selected += r.selected[i]!;
    }
    expect(specialSelected).toBe(0);
    expect(selected / candidates).toBeGreaterThan(0.14);
    expect(selected / candidates).toBeLessThan(0.16);
  });

  it('replaces selected tokens 80/10/10 (+- 2%) with <mask>/random/unchanged', () => {
    let selected = 0;
    let masked = 0;
    let random = 0;
    let kept = 0;
    let unselectedChanged = 0;
    let badRandom = 0;
    for (let i = 0; i < B * T; i++) {
      if (!r.selected[i]) {
        if (r.input[i] !== tokens[i]) unselectedChanged++;
        continue;
      }
      selected++;
      if (r.input[i] === MASK) masked++;
      else if (r.input[i] === tokens[i]) kept++;
      else {
        random++;
        if (specialIds.includes(r.input[i]!) || r.input[i]! < 0 || r.input[i]! >= MASK) badRandom++;
      }
    }
    expect(unselectedChanged).toBe(0);
    expect(badRandom).toBe(0);
    expect(Math.abs(masked / selected - 0.8)).toBeLessThan(0.02);
    expect(Math.abs(random / selected - 0.1)).toBeLessThan(0.02);
    expect(Math.abs(kept / selected - 0.1)).toBeLessThan(0.02);
  });

  it("'masked-input' puts the loss exactly where the input is <mask>", () => {
    const expected = r.selected.map((s, i) => (s && r.input[i] === MASK ? 1 : 0));
    expect(same(r.lossMask, expected)).toBe(true);
    expect(r.maskedIndices.length).toBeGreaterThan(0);
  });

  it('returns flat loss indices grouped by row with offsets and counts', () => {
    expect(r.rowOffsets.length).toBe(B + 1);
    expect(r.rowOffsets[0]).toBe(0);
    expect(r.rowOffsets[B]).toBe(r.maskedIndices.length);
    const fromMask: number[] = [];
    for (let i = 0; i < B * T; i++) if (r.lossMask[i]) fromMask.push(i);
    expect(same(r.maskedIndices, fromMask)).toBe(true);
    let wrongRow = 0;
    for (let b = 0; b < B; b++) {
      expect(r.rowCounts[b]).toBe(r.rowOffsets[b + 1]! - r.rowOffsets[b]!);
      expect(r.rowCounts[b]).toBeGreaterThanOrEqual(1);
      for (let k = r.rowOffsets[b]!; k < r.rowOffsets[b + 1]!; k++) if (Math.floor(r.maskedIndices[k]! / T) !== b) wrongRow++;
    }
    expect(wrongRow).toBe(0);
  });

  it('does not modify its input and is reproducible from the Rng', () => {
    const copy = Int32Array.from(tokens);
    const again = bertMask(new Rng(2), tokens, base(B, T));
    expect(same(tokens, copy)).toBe(true);
    expect(same(again.input, r.input)).toBe(true);
    expect(same(again.maskedIndices, r.maskedIndices)).toBe(true);
    expect(same(bertMask(new Rng(3), tokens, base(B, T)).input, r.input)).toBe(false);
  });
});

describe('bertMask loss options and edge cases', () => {
  it("'selected' puts the loss on every selected position", () => {
    const tokens = makeRows(new Rng(4), 50, 64, 10);
    const r = bertMask(new Rng(5), tokens, { ...base(50, 64), lossOn: 'selected' });
    expect(same(r.lossMask, r.selected)).toBe(true);
    // Some loss positions see an unchanged or random token, unlike 'masked-input'.
    let notMasked = 0;
    for (let i = 0; i < r.input.length; i++) if (r.lossMask[i] && r.input[i] !== MASK) notMasked++;
    expect(notMasked).toBeGreaterThan(0);
  });

  it('gives every row a loss position even when rows are very short', () => {
    // Rows with a single content token: <s> x </s> <pad>... ; without the guarantee 20% of rows would have none.
    const B = 500;
    const T = 6;
    const tokens = makeRows(new Rng(6), B, T, 3).map((t, i) => (i % T >= 3 ? PAD : t));
    for (let b = 0; b < B; b++) tokens[b * T + 2] = EOS;
    const r = bertMask(new Rng(7), tokens, base(B, T));
    for (let b = 0; b < B; b++) {
      expect(r.rowCounts[b]).toBe(1);
      expect(r.input[b * T + 1]).toBe(MASK);
    }
    const sel = bertMask(new Rng(7), tokens, { ...base(B, T), lossOn: 'selected' });
    expect(Array.from(sel.rowCounts).every((c) => c === 1)).toBe(true);
  });

  it('draws random replacements from non-special ids only', () => {
    // All-random replacement over a tiny vocabulary: only ids 3 and 4 are drawable (5 is <mask>).
    const tokens = Int32Array.from([0, 3, 3, 3, 3, 3, 3, 2]);
    const opts = { batch: 1, length: 8, vocabSize: 6, maskId: 5, specialIds, maskProb: 1, replaceWithMask: 0, replaceRandom: 1, lossOn: 'selected' as const };
    const seen = new Set<number>();
    const rng = new Rng(8);
    for (let k = 0; k < 200; k++) bertMask(rng, tokens, opts).input.slice(1, 7).forEach((t) => seen.add(t));
    expect([...seen].sort()).toEqual([3, 4]);
  });

  it('rejects rows without maskable tokens and invalid options', () => {
    const empty = Int32Array.from([0, 2, 1, 1]);
    expect(() => bertMask(new Rng(1), empty, base(1, 4))).toThrow(DataError);
    expect(() => bertMask(new Rng(1), empty, base(1, 4))).toThrow(/row 0 has no maskable token/);
    const ok = Int32Array.from([0, 5, 6, 2]);
    expect(() => bertMask(new Rng(1), ok, base(2, 4))).toThrow(ConfigError);
    expect(() => bertMask(new Rng(1), ok, { ...base(1, 4), maskProb: 1.5 })).toThrow(ConfigError);
    expect(() => bertMask(new Rng(1), ok, { ...base(1, 4), replaceWithMask: 0.95, replaceRandom: 0.1 })).toThrow(ConfigError);
    expect(() => bertMask(new Rng(1), ok, { ...base(1, 4), replaceWithMask: 0 })).toThrow(/needs replaceWithMask/);
    expect(() => bertMask(new Rng(1), ok, { ...base(1, 4), maskId: V })).toThrow(ConfigError);
  });
});
