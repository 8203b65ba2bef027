/**
 * Shuffled epochs of image batches as tensors [B, H, W, C] float32 (normalised)
 * with int32 labels. Epoch e is a pure function of (seed, e): its order and its
 * augmentations come from their own Rng streams, so a resumed run or a run
 * with augmentation switched off sees the same order.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Rng } from '@d2v/core';
import { augmentImage, normalise, type AugmentOptions } from './augment.js';
import type { ImageDataset } from './memoryDataset.js';

export interface ImageBatcherOptions {
  batchSize: number;
  /** Per-channel mean / std of pixels / 255 (1 entry or one per channel). */
  mean: number[];
  std: number[];
  seed?: number;
  /** Default true. */
  shuffle?: boolean;
  /** Drop the last incomplete batch of an epoch (default false). */
  dropLast?: boolean;
  /** Output side (default: the dataset's, which must then be square). */
  size?: number;
  /** Training augmentation: true = defaults (random resized crop (0.08, 1), flip), or options; default none. */
  augment?: boolean | Partial<AugmentOptions>;
}

export interface ImageTensorBatch {
  /** [B, size, size, C] float32, normalised. */
  images: tf.Tensor4D;
  /** [B] int32 class ids. */
  labels: tf.Tensor1D;
  /** The same class ids on the CPU. */
  labelIds: Int32Array;
  /** Dataset indices of the rows. */
  indices: Int32Array;
  dispose(): void;
}

/** Mixes (seed, epoch, stream) into one 32-bit Rng seed. */
function streamSeed(seed: number, epoch: number, stream: number): number {
  let h = Math.imul(seed ^ 0x3c6ef372, 0x9e3779b1) >>> 0;
  h = Math.imul(h ^ epoch ^ (h >>> 15), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ stream ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export class ImageBatcher {
  readonly size: number;
  readonly batchSize: number;
  private readonly augment: Partial<AugmentOptions> | undefined;

  constructor(
    readonly dataset: ImageDataset,
    readonly opts: ImageBatcherOptions,
  ) {
    if (!(Number.isInteger(opts.batchSize) && opts.batchSize > 0)) throw new ConfigError(`batchSize must be a positive integer, got ${opts.batchSize}`, 'batchSize');
    if (opts.size === undefined && dataset.height !== dataset.width) {
      throw new ConfigError(`${dataset.source} has ${dataset.height}x${dataset.width} images: set size to batch them as squares`, 'size');
    }
    this.size = opts.size ?? dataset.height;
    if (!(Number.isInteger(this.size) && this.size > 0)) throw new ConfigError(`size must be a positive integer, got ${this.size}`, 'size');
    this.batchSize = opts.batchSize;
    this.augment = opts.augment === true ? {} : opts.augment || undefined;
    // Fail on bad statistics now rather than at the first batch.
    normalise(new Float32Array(dataset.channels), dataset.channels, opts.mean, opts.std);
  }

  get batchesPerEpoch(): number {
    const n = this.dataset.length;
    return this.opts.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The sample order of epoch `epoch`. */
  epochOrder(epoch: number): Int32Array {
    const order = Array.from({ length: this.dataset.length }, (_, i) => i);
    if (this.opts.shuffle ?? true) new Rng(streamSeed(this.opts.seed ?? 0, epoch, 1)).shuffle(order);
    return Int32Array.from(order);
  }

  /** The batches of epoch `epoch`, created lazily; the caller disposes each. */
  *epoch(epoch: number): Generator<ImageTensorBatch> {
    const order = this.epochOrder(epoch);
    const augRng = this.augment ? new Rng(streamSeed(this.opts.seed ?? 0, epoch, 2)) : undefined;
    for (let b = 0; b < this.batchesPerEpoch; b++) {
      yield this.makeBatch(order.subarray(b * this.batchSize, Math.min((b + 1) * this.batchSize, order.length)), augRng);
    }
  }

  /** One batch of the given samples; `rng` drives augmentation (none without it or when augment is off). */
  makeBatch(indices: ArrayLike<number>, rng?: Rng): ImageTensorBatch {
    const { dataset: ds, size: s } = this;
    const c = ds.channels;
    const per = s * s * c;
    const data = new Float32Array(indices.length * per);
    const labelIds = new Int32Array(indices.length);
    const aug = this.augment && rng ? rng : undefined;
    for (let b = 0; b < indices.length; b++) {
      const { pixels, label } = ds.get(indices[b]!);
      const out = data.subarray(b * per, (b + 1) * per);
      augmentImage(aug, pixels, ds.height, ds.width, c, s, this.augment ?? {}, out);
      normalise(out, c, this.opts.mean, this.opts.std);
      labelIds[b] = label;
    }
    const images = tf.tensor4d(data, [indices.length, s, s, c], 'float32');
    const labels = tf.tensor1d(labelIds, 'int32');
    return { images, labels, labelIds, indices: Int32Array.from(indices), dispose: () => tf.dispose([images, labels]) };
  }
}
