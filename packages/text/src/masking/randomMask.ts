/**
 * data2vec 2.0 text masking: MAE-style random masking (mask length 1).
 *
 * Every row masks exactly floor(prob x n + 1e-9) positions, n the shortest row's number of real
 * tokens (T without padding), chosen uniformly without replacement among the row's own real tokens
 * (any token, <s> and </s> included: fairseq's random_masking does not look at the ids). Padding is
 * never masked; it stays among the visible steps, where the attention's padding mask hides it.
 */
import { ShapeError, type Rng } from '@d2v/core';

export interface RandomMaskOptions {
  batch: number;
  /** Positions per row (T). */
  length: number;
  /** Fraction of the valid positions masked in every row, in [0, 1). */
  prob: number;
  /** Real (non-pad) positions per row, padding at the end; omitted = no padding. */
  validLengths?: ArrayLike<number>;
}

export interface RandomMaskResult {
  /** [B*T], 1 = masked. Never 1 in padding. */
  mask: Uint8Array;
  /** Flat indices b*T + t of the masked positions, row by row, ascending; `perRow` per row. */
  maskedIndices: Int32Array;
  /** Masked positions in every row. */
  perRow: number;
}

/** Masked positions per row of n valid positions (a small epsilon keeps 0.29 x 100 at 29). */
export function randomMaskCount(n: number, prob: number): number {
  return Math.floor(prob * n + 1e-9);
}

/** Real positions per row (T without padding). */
function validLengthsOf(opts: RandomMaskOptions): Int32Array {
  const { batch: B, length: T, validLengths } = opts;
  const out = new Int32Array(B).fill(T);
  if (!validLengths) return out;
  if (validLengths.length !== B) throw new ShapeError(`randomMask: ${validLengths.length} valid lengths for batch ${B}`);
  for (let b = 0; b < B; b++) {
    const v = validLengths[b]!;
    if (!(Number.isInteger(v) && v >= 0 && v <= T)) throw new ShapeError(`randomMask: row ${b} has valid length ${v}, outside [0, ${T}]`);
    out[b] = v;
  }
  return out;
}

export function randomMask(rng: Rng, opts: RandomMaskOptions): RandomMaskResult {
  const { batch: B, length: T, prob } = opts;
  if (!(prob >= 0 && prob < 1)) throw new RangeError(`randomMask: prob must be in [0, 1) (got ${prob})`);
  if (!(Number.isInteger(B) && B >= 0 && Number.isInteger(T) && T >= 0)) throw new ShapeError(`randomMask: bad shape ${B} x ${T}`);
  const valid = validLengthsOf(opts);
  // The count comes from the shortest row, so it is the same in every row (and for every copy of the batch).
  const k = randomMaskCount(B > 0 ? Math.min(...valid) : T, prob);
  const mask = new Uint8Array(B * T);
  const maskedIndices = new Int32Array(B * k);
  const buf = new Int32Array(T);
  for (let b = 0; b < B; b++) {
    const n = valid[b]!;
    // Partial Fisher-Yates: buf[0..k) becomes k distinct uniform picks of [0, n).
    for (let i = 0; i < n; i++) buf[i] = i;
    for (let i = 0; i < k; i++) {
      const j = i + rng.int(n - i);
      const t = buf[i]!;
      buf[i] = buf[j]!;
      buf[j] = t;
    }
    const row = mask.subarray(b * T, (b + 1) * T);
    for (let i = 0; i < k; i++) row[buf[i]!] = 1;
    let m = b * k;
    for (let t = 0; t < n; t++) if (row[t]) maskedIndices[m++] = b * T + t;
  }
  return { mask, maskedIndices, perRow: k };
}
