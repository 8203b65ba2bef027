/**
 * Micro-batches of utterances for the Trainer: a pure function of (seed, micro-batch index),
 * so a resumed run sees exactly the same audio, crops and masks.
 *
 * Epoch e is planned from Rng(seed, e): utterances are grouped by length (equal-count
 * buckets, batches drawn at random inside a bucket) and the batches shuffled. Pretraining
 * crops every row of a batch to the shortest one (fairseq's default, no padding) with random
 * windows of at most `maxSampleLength`; fine-tuning and evaluation pad to the longest row and
 * keep whole utterances (their transcripts must stay aligned with the audio).
 */
import { Rng, type DataSource } from '@d2v/core';
import type { SpeechDataset } from './dataset.js';
import { bucketBatches, collateAudio, type AudioBatch } from './batching.js';

/** A batch as the speech encoder reads it: audio [B, L], valid samples per row, transcripts. */
export type SpeechBatch = AudioBatch;

export interface SpeechSourceOptions {
  seed: number;
  /** Random batch order and random crops (training); false = fixed length-sorted batches. */
  shuffle: boolean;
  /** true: pad rows to the longest; false: crop rows to the shortest (pretraining). */
  pad: boolean;
  /** Crop utterances longer than this many samples (random window when shuffling). */
  maxSampleLength?: number;
  /** Length buckets per epoch (0 = one exact sort; default: about 8 batches per bucket, or an exact sort for small sets). */
  buckets?: number;
}

export class SpeechDataSource implements DataSource<SpeechBatch> {
  private planned?: { epoch: number; batchSize: number; batches: number[][] };
  private readonly sizes: Int32Array;

  constructor(
    readonly dataset: SpeechDataset,
    readonly opts: SpeechSourceOptions,
  ) {
    if (dataset.length === 0) throw new RangeError(`SpeechDataSource: ${dataset.source} holds no utterances`);
    this.sizes = dataset.sizes;
  }

  get size(): number {
    return this.dataset.length;
  }

  get skipped() {
    return this.dataset.skipped;
  }

  describe(): string {
    let total = 0;
    for (const s of this.sizes) total += s;
    const hours = total / this.dataset.sampleRate / 3600;
    return `${this.dataset.length} utterances (${hours >= 1 ? `${hours.toFixed(1)} h` : `${(hours * 60).toFixed(1)} min`}) from ${this.dataset.source}`;
  }

  /** Batches of epoch `epoch`, each a list of dataset indices. */
  epochBatches(epoch: number, batchSize: number): number[][] {
    const p = this.planned;
    if (p && p.epoch === epoch && p.batchSize === batchSize) return p.batches;
    let batches: number[][];
    if (this.opts.shuffle) {
      const rng = new Rng(this.opts.seed * 1000003 + epoch);
      batches = bucketBatches(this.sizes, { batchSize, numBuckets: this.buckets(batchSize), maxLength: this.opts.maxSampleLength, rng });
    } else {
      batches = sortedBatches(this.sizes, batchSize);
    }
    this.planned = { epoch, batchSize, batches };
    return batches;
  }

  private buckets(batchSize: number): number {
    const auto = Math.floor(this.dataset.length / (8 * batchSize));
    // Fewer than two buckets would only shuffle: sort exactly instead.
    return Math.min(this.dataset.length, this.opts.buckets ?? (auto >= 2 ? auto : 0));
  }

  /** Batches per epoch (every epoch has the same count: equal-count buckets, each cut into batches). */
  batchesPerEpoch(batchSize: number): number {
    const n = this.dataset.length;
    const nb = this.opts.shuffle ? this.buckets(batchSize) : 0;
    if (nb === 0) return Math.ceil(n / batchSize);
    let count = 0;
    for (let k = 0; k < nb; k++) count += Math.ceil((Math.floor(((k + 1) * n) / nb) - Math.floor((k * n) / nb)) / batchSize);
    return count;
  }

  /** Dataset indices of micro-batch `index`. */
  indices(index: number, batchSize: number): number[] {
    const perEpoch = this.batchesPerEpoch(batchSize);
    return this.epochBatches(Math.floor(index / perEpoch), batchSize)[index % perEpoch]!;
  }

  batch(index: number, batchSize: number, rng: Rng): SpeechBatch {
    return this.collate(this.indices(index, batchSize), this.opts.shuffle ? rng : undefined);
  }

  /** Decodes and stacks utterances; `rng` picks crop windows (none: crops start at 0). */
  collate(indices: readonly number[], rng?: Rng): SpeechBatch {
    const items = indices.map((i) => {
      const it = this.dataset.get(i);
      return { audio: it.audio, transcript: it.transcript, label: it.label, file: it.file };
    });
    return collateAudio(items, { pad: this.opts.pad, maxLength: this.opts.maxSampleLength, rng });
  }
}

/** Every index once, in batches of neighbours in length (evaluation: little padding, fixed order). */
export function sortedBatches(sizes: ArrayLike<number>, batchSize: number): number[][] {
  const order = Array.from({ length: sizes.length }, (_, i) => i).sort((a, b) => sizes[a]! - sizes[b]! || a - b);
  const out: number[][] = [];
  for (let s = 0; s < order.length; s += batchSize) out.push(order.slice(s, s + batchSize));
  return out;
}
