/**
 * From utterances to [B, L] float32 batches: random crops, length bucketing
 * (so little of a batch is padding), and padding with a padding mask.
 * fairseq pretraining (enable_padding: false) crops every sample of a batch to
 * the shortest one; fine-tuning pads to the longest. Both are offered.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@d2v/core';

/** A random window of at most `maxLength` samples (the input itself when short enough). */
export function randomCrop(audio: Float32Array, maxLength: number, rng: Rng): Float32Array {
  if (audio.length <= maxLength) return audio;
  const start = rng.int(audio.length - maxLength + 1);
  return audio.subarray(start, start + maxLength);
}

export interface AudioBatch {
  readonly size: number;
  /** [B, L] samples, zeros in the padding. */
  audio: tf.Tensor2D;
  /** [B * L], 1 where padding (row-major), matching `audio`. */
  paddingMask: Uint8Array;
  /** Valid samples per row. */
  lengths: Int32Array;
  /** Transcripts in row order (undefined where a sample has none). */
  transcripts: (string | undefined)[];
  /** Utterance labels (class names) in row order (undefined where a sample has none). */
  labels: (string | undefined)[];
  files: string[];
  dispose(): void;
}

export interface CollateOptions {
  /** Crop longer samples to this many samples (random windows with `rng`, else from the start). */
  maxLength?: number;
  /** true: pad to the longest sample; false: crop all to the shortest (fairseq pretraining). Default true. */
  pad?: boolean;
  rng?: Rng;
}

export interface CollateItem {
  audio: Float32Array;
  transcript?: string;
  label?: string;
  file?: string;
}

/** Stacks utterances into one padded (or cropped) [B, L] batch. */
export function collateAudio(items: readonly CollateItem[], opts: CollateOptions = {}): AudioBatch {
  if (items.length === 0) throw new RangeError('collateAudio: no items');
  const lens = items.map((it) => it.audio.length);
  const pad = opts.pad ?? true;
  const L = Math.min(pad ? Math.max(...lens) : Math.min(...lens), opts.maxLength ?? Infinity);
  if (L <= 0) throw new RangeError('collateAudio: a batch of empty utterances');
  const B = items.length;
  const data = new Float32Array(B * L);
  const paddingMask = new Uint8Array(B * L);
  const lengths = new Int32Array(B);
  items.forEach((it, b) => {
    let x = it.audio;
    if (x.length > L) x = opts.rng ? randomCrop(x, L, opts.rng) : x.subarray(0, L);
    data.set(x, b * L);
    paddingMask.fill(1, b * L + x.length, (b + 1) * L);
    lengths[b] = x.length;
  });
  const audio = tf.tensor2d(data, [B, L], 'float32');
  return {
    size: B,
    audio,
    paddingMask,
    lengths,
    transcripts: items.map((it) => it.transcript),
    labels: items.map((it) => it.label),
    files: items.map((it) => it.file ?? ''),
    dispose: () => audio.dispose(),
  };
}

/** The padding mask as a [B, L] float32 tensor (1 = padding), as core's Features expect. */
export function paddingMaskTensor(mask: Uint8Array, batch: number, length: number): tf.Tensor2D {
  return tf.tensor2d(Float32Array.from(mask), [batch, length], 'float32');
}

export interface BucketOptions {
  /** Most samples per batch. */
  batchSize?: number;
  /** Most audio samples per batch counting padding (B x longest), like fairseq's max_tokens. */
  maxSamples?: number;
  /**
   * Equal-count length buckets: batches are drawn at random inside a bucket. 0 (default) sorts
   * exactly, so each batch holds neighbours in length.
   */
  numBuckets?: number;
  /** Cap used for sizes (samples longer than this are cropped later), so they do not inflate batches. */
  maxLength?: number;
  rng: Rng;
}

/** Groups indices into length-homogeneous batches, in a random batch order. */
export function bucketBatches(sizes: ArrayLike<number>, opts: BucketOptions): number[][] {
  const batchSize = opts.batchSize ?? Infinity;
  const maxSamples = opts.maxSamples ?? Infinity;
  if (batchSize === Infinity && maxSamples === Infinity) throw new RangeError('bucketBatches: give batchSize and/or maxSamples');
  const cap = opts.maxLength ?? Infinity;
  const size = (i: number) => Math.min(sizes[i]!, cap);
  // Shuffle first so equal lengths do not always batch together in file order (sort is stable).
  const order = opts.rng.shuffle(Array.from({ length: sizes.length }, (_, i) => i)).sort((a, b) => size(a) - size(b));
  const nb = Math.max(1, Math.min(opts.numBuckets ?? 0, order.length));
  const groups: number[][] = [];
  if ((opts.numBuckets ?? 0) > 0) {
    for (let k = 0; k < nb; k++) groups.push(opts.rng.shuffle(order.slice(Math.floor((k * order.length) / nb), Math.floor(((k + 1) * order.length) / nb))));
  } else {
    groups.push(order);
  }
  const batches: number[][] = [];
  for (const group of groups) {
    let cur: number[] = [];
    let longest = 0;
    for (const i of group) {
      const l = Math.max(longest, size(i));
      if (cur.length > 0 && (cur.length + 1 > batchSize || (cur.length + 1) * l > maxSamples)) {
        batches.push(cur);
        cur = [];
        longest = 0;
      }
      cur.push(i);
      longest = Math.max(longest, size(i));
    }
    if (cur.length > 0) batches.push(cur);
  }
  return opts.rng.shuffle(batches);
}
