/** Typed views of the vision config sections, and the batching options they give. */
import type { ResolvedConfig } from '@d2v/core';
import type { BatchingOptions } from './batch.js';

export interface VisionOptions {
  imageSize: number;
  patchSize: number;
  channels: number;
  positions: 'learned' | 'relative';
  cls: boolean;
  maskRatio: number;
  minBlockPatches: number;
  minAspect: number;
  inverseBlockSize: number;
  maskAdjust: number;
}

export interface VisionDataOptions {
  path: string;
  skipBad: boolean;
  mean: number[];
  std: number[];
  randomResizedCrop: boolean;
  cropScale: number[];
  hflip: boolean;
}

export const vis = (c: ResolvedConfig) => c['vision'] as VisionOptions;
export const dat = (c: ResolvedConfig) => c['data'] as VisionDataOptions;

/** How images become batches for a config (augmentation applies only where a batch gets an rng). */
export function batching(c: ResolvedConfig): BatchingOptions {
  const v = vis(c);
  const d = dat(c);
  const [s0, s1] = d.cropScale as [number, number];
  return {
    imageSize: v.imageSize,
    patchSize: v.patchSize,
    mean: d.mean,
    std: d.std,
    augment: { randomResizedCrop: d.randomResizedCrop, scale: [s0, s1], ratio: [3 / 4, 4 / 3], hflip: d.hflip },
  };
}

