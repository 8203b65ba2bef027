/**
 * BERT/RoBERTa token corruption (data2vec text's masking).
 *
 * Per row, round(maskProb * n) of the n non-special positions are selected
 * (probabilistic rounding, at least one), uniformly without replacement. A
 * selected token becomes <mask> with probability replaceWithMask, a random
 * non-special token with probability replaceRandom, and stays unchanged
 * otherwise. Random replacements never produce a special id or <mask>.
 *
 * Where the loss is computed (`lossOn`):
 *  - 'masked-input' (default, fairseq's data2vec text): only positions whose
 *    input is <mask>. The teacher sees the original tokens, so the student
 *    regresses the teacher's representation of what <mask> hides; random and
 *    kept tokens are noise, not targets.
 *  - 'selected': all selected positions (BERT's MLM convention).
 * Every row gets at least one loss position: with 'masked-input', a row whose
 * selected tokens all drew "random"/"keep" has its first selection turned
 * into <mask> (rare: probability 0.2^k for k selections).
 */
import { ConfigError, DataError, Rng } from '@d2v/core';

export interface BertMaskOptions {
  batch: number;
  /** Tokens per row (T). */
  length: number;
  vocabSize: number;
  maskId: number;
  /** Ids never selected and never drawn as random replacements, e.g. <s>, </s>, <pad>. */
  specialIds: number[];
  maskProb?: number;
  replaceWithMask?: number;
  replaceRandom?: number;
  lossOn?: 'masked-input' | 'selected';
}

export interface BertMaskResult {
  /** Corrupted tokens for the student, [B*T]. */
  input: Int32Array;
  /** 1 at the selected positions (the ~15%), [B*T]. */
  selected: Uint8Array;
  /** 1 where the loss is computed, [B*T]. */
  lossMask: Uint8Array;
  /** Flat indices b*T+t of the loss positions, row by row, ascending ([M]). */
  maskedIndices: Int32Array;
  /** Row b's loss positions are maskedIndices[rowOffsets[b] .. rowOffsets[b+1]); [B+1]. */
  rowOffsets: Int32Array;
  /** Loss positions per row, [B] (rowOffsets[b+1] - rowOffsets[b]). */
  rowCounts: Int32Array;
}

function checkProb(name: string, p: number): void {
  if (!(p >= 0 && p <= 1)) throw new ConfigError(`bertMask: ${name} must be in [0, 1], got ${p}`, name);
}

/** Maps k in [0, vocabSize - excluded.length) to the k-th id not in `excluded` (sorted, unique, in range). */
function nthAllowedId(k: number, excludedSorted: number[]): number {
  let id = k;
  for (const ex of excludedSorted) {
    if (ex <= id) id++;
    else break;
  }
  return id;
}

export function bertMask(rng: Rng, tokens: Int32Array, options: BertMaskOptions): BertMaskResult {
  const { batch: B, length: T, vocabSize, maskId } = options;
  const maskProb = options.maskProb ?? 0.15;
  const pMask = options.replaceWithMask ?? 0.8;
  const pRandom = options.replaceRandom ?? 0.1;
  const lossOn = options.lossOn ?? 'masked-input';
  checkProb('maskProb', maskProb);
  checkProb('replaceWithMask', pMask);
  checkProb('replaceRandom', pRandom);
  if (pMask + pRandom > 1 + 1e-9) throw new ConfigError(`bertMask: replaceWithMask + replaceRandom must be <= 1, got ${pMask + pRandom}`);
  if (lossOn !== 'masked-input' && lossOn !== 'selected') throw new ConfigError(`bertMask: lossOn must be 'masked-input' or 'selected', got '${lossOn}'`, 'lossOn');
  if (lossOn === 'masked-input' && pMask === 0) throw new ConfigError("bertMask: lossOn 'masked-input' needs replaceWithMask > 0", 'replaceWithMask');
  if (tokens.length !== B * T) throw new ConfigError(`bertMask: tokens has ${tokens.length} entries, expected batch*length = ${B * T}`);
  if (!Number.isInteger(maskId) || maskId < 0 || maskId >= vocabSize) throw new ConfigError(`bertMask: maskId ${maskId} outside [0, ${vocabSize})`, 'maskId');

  const special = new Set(options.specialIds);
  const excluded = [...new Set([...options.specialIds, maskId])].filter((i) => i >= 0 && i < vocabSize).sort((a, b) => a - b);
  const drawable = vocabSize - excluded.length;
  if (pRandom > 0 && drawable < 1) throw new ConfigError('bertMask: no non-special ids to draw random replacements from', 'vocabSize');

  const input = Int32Array.from(tokens);
  const selected = new Uint8Array(B * T);
  const lossMask = new Uint8Array(B * T);
  const rowCounts = new Int32Array(B);
  const candidates = new Int32Array(T);

  for (let b = 0; b < B; b++) {
    const base = b * T;
    let n = 0;
    for (let t = 0; t < T; t++) if (!special.has(tokens[base + t]!)) candidates[n++] = t;
    if (n === 0) throw new DataError('bertMask', `row ${b} has no maskable token (only special ids): drop empty documents before packing`);
    const k = Math.min(n, Math.max(1, Math.floor(maskProb * n + rng.uniform())));
    // Partial Fisher-Yates: the first k candidates become a uniform sample.
    for (let i = 0; i < k; i++) {
      const j = i + rng.int(n - i);
      const tmp = candidates[i]!;
      candidates[i] = candidates[j]!;
      candidates[j] = tmp;
    }
    let masked = 0;
    for (let i = 0; i < k; i++) {
      const pos = base + candidates[i]!;
      selected[pos] = 1;
      const u = rng.uniform();
      if (u < pMask) {
        input[pos] = maskId;
        masked++;
      } else if (u < pMask + pRandom) {
        input[pos] = nthAllowedId(rng.int(drawable), excluded);
      }
    }
    if (lossOn === 'masked-input' && masked === 0) input[base + candidates[0]!] = maskId;
    for (let i = 0; i < k; i++) {
      const pos = base + candidates[i]!;
      if (lossOn === 'selected' || input[pos] === maskId) {
        lossMask[pos] = 1;
        rowCounts[b]!++;
      }
    }
  }

  const rowOffsets = new Int32Array(B + 1);
  for (let b = 0; b < B; b++) rowOffsets[b + 1] = rowOffsets[b]! + rowCounts[b]!;
  const maskedIndices = new Int32Array(rowOffsets[B]!);
  let m = 0;
  for (let i = 0; i < B * T; i++) if (lossMask[i]) maskedIndices[m++] = i;
  return { input, selected, lossMask, maskedIndices, rowOffsets, rowCounts };
}
