/** Batches of images as patch vectors, for pretraining and classification. */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, type Batch, type DataSource } from '@d2v/core';
import type { ImageDataset } from './data/dataset.js';
import { augmentImage, normalise, type AugmentOptions } from './data/augment.js';

export interface VisionBatch extends Batch {
  /** [B, N, p*p*C] normalised patch vectors, row-major patches, (py, px, c) inside a patch. */
  patches: tf.Tensor3D;
  /** [B] class ids. */
  labels: tf.Tensor1D;
  /** Class ids on the CPU (for metrics). */
  labelIds: Int32Array;
}

/** HWC image (size x size x c) -> (size/p)^2 patch vectors written at out[offset...]. */
export function patchify(img: Float32Array, size: number, c: number, p: number, out: Float32Array, offset: number): void {
  const g = size / p;
  let o = offset;
  for (let gy = 0; gy < g; gy++)
    for (let gx = 0; gx < g; gx++)
      for (let py = 0; py < p; py++) {
        const row = ((gy * p + py) * size + gx * p) * c;
        for (let k = 0; k < p * c; k++) out[o++] = img[row + k]!;
      }
}

export interface BatchingOptions {
  imageSize: number;
  patchSize: number;
  mean: number[];
  std: number[];
  augment: AugmentOptions;
}

/** Builds one batch from dataset indices; `rng` drives augmentation (undefined = none). */
export function makeVisionBatch(ds: ImageDataset, indices: number[], o: BatchingOptions, rng?: Rng): VisionBatch {
  const { imageSize: s, patchSize: p } = o;
  const c = ds.channels;
  const n = (s / p) ** 2;
  const dim = p * p * c;
  const data = new Float32Array(indices.length * n * dim);
  const img = new Float32Array(s * s * c);
  const labelIds = new Int32Array(indices.length);
  indices.forEach((idx, b) => {
    const { pixels, label } = ds.get(idx);
    augmentImage(rng, pixels, ds.height, ds.width, c, s, o.augment, img);
    normalise(img, c, o.mean, o.std);
    patchify(img, s, c, p, data, b * n * dim);
    labelIds[b] = label;
  });
  const patches = tf.tensor3d(data, [indices.length, n, dim]);
  const labels = tf.tensor1d(labelIds, 'int32');
  return { size: indices.length, patches, labels, labelIds, dispose: () => tf.dispose([patches, labels]) };
}

/**
 * Epoch-based sampling that is a pure function of (seed, micro-batch index):
 * epoch e is a permutation drawn from Rng(seed, e), so a resumed run sees the same order.
 */
export class ImageDataSource implements DataSource<VisionBatch> {
  private epoch = -1;
  private order: number[] = [];
  constructor(
    readonly dataset: ImageDataset,
    readonly opts: BatchingOptions,
    readonly seed: number,
    readonly train: boolean,
  ) {}
  get size(): number {
    return this.dataset.length;
  }
  get skipped() {
    return this.dataset.skipped;
  }
  describe(): string {
    return `${this.dataset.length} images ${this.dataset.height}x${this.dataset.width}x${this.dataset.channels} from ${this.dataset.source}`;
  }
  indices(index: number, batchSize: number): number[] {
    const n = this.dataset.length;
    const out: number[] = [];
    for (let k = 0; k < batchSize; k++) {
      const pos = index * batchSize + k;
      const e = Math.floor(pos / n);
      if (e !== this.epoch) {
        this.epoch = e;
        this.order = new Rng(this.seed * 1000003 + e).shuffle([...Array(n).keys()]);
      }
      out.push(this.order[pos % n]!);
    }
    return out;
  }
  batch(index: number, batchSize: number, rng: Rng): VisionBatch {
    return makeVisionBatch(this.dataset, this.indices(index, batchSize), this.opts, this.train ? rng : undefined);
  }
}
