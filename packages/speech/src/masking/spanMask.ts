/**
 * wav2vec 2.0 / data2vec span masking over feature frames.
 *
 * Each row draws n = floor(p * validLen + u) span starts (u ~ U[0,1), at least `minMasks`),
 * distinct and uniform over the starts that keep a span inside the valid region, and masks
 * `spanLength` frames from each. Spans may overlap, so p = 0.065 with spans of 10 masks about
 * 1 - exp(-0.65) ~ 48-49% of the frames.
 *
 * `maskProb` here is the PAPER's p (probability that a frame starts a span). fairseq's
 * `mask_prob` is p x spanLength (0.65 for p = 0.065): its compute_mask_indices draws
 * int(mask_prob * sz / mask_length + rand) starts, the same count.
 *
 * Equal count per row (batched gathers need it): like fairseq, rows with more masked frames than
 * the batch minimum drop randomly chosen masked frames until every row has the minimum. This can
 * split a span; it keeps the start positions unbiased.
 *
 * data2vec 2.0 (`exactCount`): the count must not depend on the batch (every masked copy of a batch
 * needs the same count), so after placing its spans each row drops randomly chosen masked frames,
 * or masks randomly chosen unmasked valid frames, until it has exactly `exactCount` (fairseq's
 * compute_block_mask_1d with require_same_masks: int(T x (0.5 + 0.05) / 5) spans of 5, i.e. p = 0.11
 * here, then exactly int(0.5 T). fairseq draws span centres with replacement and clips spans at the
 * row ends; here starts stay distinct and spans inside the row, as above).
 */
import { ShapeError, type Rng } from '@d2v/core';

export interface SpanMaskOptions {
  batch: number;
  /** Frames per row (T). */
  length: number;
  /** Paper p: probability that a frame starts a span (default 0.065). */
  maskProb?: number;
  /** Frames per span (default 10). */
  spanLength?: number;
  /** Padding, 1 = padded frame (only at the end of a row): per row [T], or flat [B*T]. */
  padding?: readonly Uint8Array[] | Uint8Array;
  /** Valid frames per row (alternative to `padding`). */
  validLengths?: ArrayLike<number>;
  /** Least spans per row (default 2). */
  minMasks?: number;
  /** Trim rows to the batch's smallest masked count (default true). Ignored with `exactCount`. */
  sameCount?: boolean;
  /**
   * Fill or trim every row to exactly this many masked frames (uniformly among its valid frames)
   * after placing the spans (data2vec 2.0). Every row needs at least this many valid frames.
   */
  exactCount?: number;
}

export interface SpanMaskResult {
  /** [B*T], 1 = masked. Never 1 in padding. */
  mask: Uint8Array;
  /** Flat indices b*T + t of the masked frames, ascending; `perRow` per row when sameCount. */
  maskedIndices: Int32Array;
  /** Masked frames in every row (with sameCount or exactCount; otherwise the smallest row's count). */
  perRow: number;
}

function validLengthsOf(opts: SpanMaskOptions): Int32Array {
  const { batch: B, length: T } = opts;
  const out = new Int32Array(B).fill(T);
  if (opts.validLengths) {
    if (opts.validLengths.length !== B) throw new ShapeError(`spanMask: ${opts.validLengths.length} valid lengths for batch ${B}`);
    for (let b = 0; b < B; b++) out[b] = Math.max(0, Math.min(T, Math.floor(opts.validLengths[b]!)));
    return out;
  }
  const pad = opts.padding;
  if (!pad) return out;
  const rows: ArrayLike<number>[] = pad instanceof Uint8Array ? Array.from({ length: B }, (_, b) => pad.subarray(b * T, (b + 1) * T)) : [...pad];
  if (rows.length !== B || (pad instanceof Uint8Array && pad.length !== B * T)) {
    throw new ShapeError(`spanMask: padding does not match batch ${B} x length ${T}`);
  }
  rows.forEach((row, b) => {
    if (row.length !== T) throw new ShapeError(`spanMask: padding row ${b} has ${row.length} frames, expected ${T}`);
    let n = 0;
    while (n < T && !row[n]) n++;
    for (let t = n; t < T; t++) {
      if (!row[t]) throw new ShapeError(`spanMask: row ${b} has padding before frame ${t}; padding must be at the end of a row`);
    }
    out[b] = n;
  });
  return out;
}

/** Moves `k` distinct random picks of buf[0..n) to buf[0..k) (partial Fisher-Yates). */
function pickDistinct(buf: Int32Array, n: number, k: number, rng: Rng): void {
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    const t = buf[i]!;
    buf[i] = buf[j]!;
    buf[j] = t;
  }
}

/** Unmasks (or masks) uniformly chosen masked (unmasked) frames of `row` until exactly `k` are masked; `buf` is scratch. */
function fillOrTrim(row: Uint8Array, k: number, buf: Int32Array, rng: Rng): void {
  let m = 0;
  for (let t = 0; t < row.length; t++) if (row[t]) m++;
  if (m === k) return;
  const flip = m > k ? 1 : 0; // the value of the frames that may change
  let c = 0;
  for (let t = 0; t < row.length; t++) if (row[t] === flip) buf[c++] = t;
  const change = Math.abs(m - k);
  pickDistinct(buf, c, change, rng);
  for (let i = 0; i < change; i++) row[buf[i]!] = 1 - flip;
}

export function spanMask(rng: Rng, opts: SpanMaskOptions): SpanMaskResult {
  const { batch: B, length: T } = opts;
  const p = opts.maskProb ?? 0.065;
  const span = opts.spanLength ?? 10;
  const minMasks = opts.minMasks ?? 2;
  if (!(p >= 0 && p <= 1)) throw new RangeError(`spanMask: maskProb must be in [0, 1] (got ${p})`);
  if (!(span >= 1) || !Number.isInteger(span)) throw new RangeError(`spanMask: spanLength must be a positive integer (got ${span})`);
  const exact = opts.exactCount;
  if (exact !== undefined && !(Number.isInteger(exact) && exact >= 0)) throw new RangeError(`spanMask: exactCount must be a non-negative integer (got ${exact})`);
  const valid = validLengthsOf(opts);
  if (exact !== undefined) {
    valid.forEach((n, b) => {
      if (n < exact) throw new ShapeError(`spanMask: row ${b} has ${n} valid frames, fewer than exactCount = ${exact}`);
    });
  }
  const mask = new Uint8Array(B * T);
  const buf = new Int32Array(T);
  const rows: Int32Array[] = [];
  for (let b = 0; b < B; b++) {
    const n = valid[b]!;
    const u = rng.uniform(); // drawn for every row so one row's length does not shift the others' streams
    if (n === 0) {
      rows.push(new Int32Array(0));
      continue;
    }
    const len = Math.min(span, n);
    const starts = n - len + 1;
    const count = Math.min(starts, Math.max(minMasks, Math.floor(p * n + u)));
    for (let i = 0; i < starts; i++) buf[i] = i;
    pickDistinct(buf, starts, count, rng);
    const row = mask.subarray(b * T, b * T + n);
    for (let i = 0; i < count; i++) row.fill(1, buf[i]!, buf[i]! + len);
    if (exact !== undefined) fillOrTrim(row, exact, buf, rng);
    let m = 0;
    for (let t = 0; t < n; t++) if (row[t]) buf[m++] = t;
    rows.push(buf.slice(0, m));
  }
  const perRow = B === 0 ? 0 : Math.min(...rows.map((r) => r.length));
  if (exact === undefined && (opts.sameCount ?? true)) {
    rows.forEach((r, b) => {
      if (r.length === perRow) return;
      pickDistinct(r, r.length, r.length - perRow, rng); // the first (len - perRow) entries are dropped
      for (let i = 0; i < r.length - perRow; i++) mask[b * T + r[i]!] = 0;
      rows[b] = r.subarray(r.length - perRow).sort();
    });
  }
  const total = rows.reduce((s, r) => s + r.length, 0);
  const maskedIndices = new Int32Array(total);
  let k = 0;
  rows.forEach((r, b) => {
    for (let i = 0; i < r.length; i++) maskedIndices[k++] = b * T + r[i]!;
  });
  return { mask, maskedIndices, perRow };
}
