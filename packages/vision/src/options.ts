/** The batching options a vision config gives. */
import type { BatchingOptions } from './batch.js';
import type { VisionConfig } from './schema.js';

/** The `vision` section of a config (image and ViT options). */
export type VisionOptions = VisionConfig['vision'];
/** The `data` section of a config (dataset and augmentation). */
export type VisionDataOptions = VisionConfig['data'];

/** How images become batches for a config (augmentation applies only where a batch gets an rng). */
export function batching(c: VisionConfig): BatchingOptions {
  const v = c.vision;
  const d = c.data;
  const [s0, s1] = d.cropScale;
  return {
    imageSize: v.imageSize,
    patchSize: v.patchSize,
    mean: d.mean,
    std: d.std,
    augment: { randomResizedCrop: d.randomResizedCrop, scale: [s0, s1], ratio: [3 / 4, 4 / 3], hflip: d.hflip },
  };
}
