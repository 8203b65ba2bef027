/**
 * Shuffled mini-batches of packed blocks. Host arrays are kept next to the
 * tensors because masking (bertMask) works on Int32Arrays; the tensors are
 * created straight from host data, so nothing intermediate is allocated and
 * `dispose()` releases everything a batch owns.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Rng } from '@d2v/core';
import type { PackedBlocks } from './packing.js';

export interface TokenBatch {
  /** [B, T] int32 token ids. */
  tokens: tf.Tensor2D;
  /** [B, T] float32, 1 where the position is padding (the Transformer's paddingMask convention). */
  paddingMask: tf.Tensor2D;
  /** Host copy of `tokens`, row-major [B*T]. */
  ids: Int32Array;
  /** Real tokens per row. */
  lengths: Int32Array;
  /** Block index of each row in the PackedBlocks. */
  rows: Int32Array;
  batch: number;
  length: number;
  dispose(): void;
}

/** Copies the given blocks into a row-major [rows.length * blockSize] array. */
export function gatherBlocks(blocks: PackedBlocks, rows: ArrayLike<number>): { ids: Int32Array; lengths: Int32Array } {
  const T = blocks.blockSize;
  const ids = new Int32Array(rows.length * T);
  const lengths = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (!Number.isInteger(r) || r < 0 || r >= blocks.numBlocks) throw new RangeError(`block ${r} out of range [0, ${blocks.numBlocks})`);
    ids.set(blocks.tokens.subarray(r * T, (r + 1) * T), i * T);
    lengths[i] = blocks.lengths[r]!;
  }
  return { ids, lengths };
}

/** Padding mask [B*T]: 1 at positions >= the row's length. */
export function paddingMaskFromLengths(lengths: ArrayLike<number>, length: number): Float32Array {
  const mask = new Float32Array(lengths.length * length);
  for (let b = 0; b < lengths.length; b++) mask.fill(1, b * length + lengths[b]!, (b + 1) * length);
  return mask;
}

/** A batch of the given blocks as tensors (the caller disposes it). */
export function makeTokenBatch(blocks: PackedBlocks, rows: ArrayLike<number>): TokenBatch {
  const { ids, lengths } = gatherBlocks(blocks, rows);
  const B = rows.length;
  const T = blocks.blockSize;
  const tokens = tf.tensor2d(ids, [B, T], 'int32');
  const paddingMask = tf.tensor2d(paddingMaskFromLengths(lengths, T), [B, T], 'float32');
  return {
    tokens,
    paddingMask,
    ids,
    lengths,
    rows: Int32Array.from(rows),
    batch: B,
    length: T,
    dispose() {
      tokens.dispose();
      paddingMask.dispose();
    },
  };
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(`batchSize must be a positive integer, got ${batchSize}`, 'batchSize');
}

/** One epoch of shuffled row indices split into batches; the last short batch is dropped when `dropLast`. */
export function shuffledBatches(rng: Rng, numRows: number, batchSize: number, dropLast = false): Int32Array[] {
  checkBatchSize(batchSize);
  const order = rng.shuffle(Array.from({ length: numRows }, (_, i) => i));
  const out: Int32Array[] = [];
  for (let s = 0; s < numRows; s += batchSize) {
    if (dropLast && s + batchSize > numRows) break;
    out.push(Int32Array.from(order.slice(s, s + batchSize)));
  }
  return out;
}

/** Yields one epoch of shuffled TokenBatches; each must be disposed by the consumer. */
export function* iterateTokenBatches(rng: Rng, blocks: PackedBlocks, batchSize: number, dropLast = false): Generator<TokenBatch> {
  for (const rows of shuffledBatches(rng, blocks.numBlocks, batchSize, dropLast)) yield makeTokenBatch(blocks, rows);
}

/**
 * Rows for micro-step `index`, a pure function of (seed, index, batchSize):
 * the sample stream is a sequence of epochs, each a fresh permutation seeded
 * by (seed, epoch), so a resumed run sees exactly the batches it would have.
 * A batch may straddle two epochs.
 */
export class EpochSampler {
  private cachedEpoch = -1;
  private cachedOrder: number[] = [];

  constructor(readonly numRows: number, readonly seed: number) {
    if (!Number.isInteger(numRows) || numRows < 1) throw new ConfigError(`EpochSampler needs at least one row, got ${numRows}`);
  }

  private order(epoch: number): number[] {
    if (epoch !== this.cachedEpoch) {
      // Mix seed and epoch so neighbouring seeds do not give shifted epoch sequences.
      const rng = new Rng((Math.imul(this.seed ^ 0x5bd1e995, 0x27d4eb2d) + Math.imul(epoch + 1, 0x9e3779b1)) >>> 0);
      this.cachedOrder = rng.shuffle(Array.from({ length: this.numRows }, (_, i) => i));
      this.cachedEpoch = epoch;
    }
    return this.cachedOrder;
  }

  rows(index: number, batchSize: number): Int32Array {
    checkBatchSize(batchSize);
    const out = new Int32Array(batchSize);
    for (let j = 0; j < batchSize; j++) {
      const p = index * batchSize + j;
      out[j] = this.order(Math.floor(p / this.numRows))[p % this.numRows]!;
    }
    return out;
  }

  /** Epoch (possibly fractional) reached after `index + 1` micro-steps. */
  epochAt(index: number, batchSize: number): number {
    return ((index + 1) * batchSize) / this.numRows;
  }
}
