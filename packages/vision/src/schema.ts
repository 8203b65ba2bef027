/**
 * The options of @d2v/vision, declared once: `VisionConfig` (a run's resolved config) and
 * `VisionPreset` are derived from this schema, so a misspelt or mistyped option fails to compile.
 */
import { int, maskRatio, opt, type PresetOf, type ResolvedConfigOf, type Schema } from '@d2v/core';
import { IMAGENET_MEAN, IMAGENET_STD } from './data/augment.js';

export const schema = {
  vision: {
    imageSize: int(224, 'image side in pixels (images are resized/cropped to it)', { min: 1 }),
    patchSize: int(16, 'ViT patch side (must divide vision.imageSize)', { min: 1 }),
    channels: int(3, 'image channels (1 = grey, 3 = RGB)', { min: 1, max: 3 }),
    positions: opt('relative', 'learned absolute positions or a shared relative position bias (BEiT)', { choices: ['learned', 'relative'] }),
    cls: opt(true, 'prepend a CLS token'),
  },
  masking: {
    ratio: maskRatio(0.6, 'patches, for both mask styles (data2vec 1.0 BEiT blocks: 0.6; 2.0 inverse blocks: 0.8)'),
    minBlockPatches: int(16, 'objective.version 1: smallest mask block on a 14x14 grid (scaled to smaller grids)', { min: 1 }),
    minAspect: opt(0.3, 'objective.version 1: smallest block aspect ratio (largest is its inverse)', { gt: 0, max: 1 }),
    inverseBlockSize: int(3, 'objective.version 2: side of the visible blocks of inverse block masking', { min: 1 }),
    inverseBlockAdjust: opt(0.07, 'objective.version 2: extra centres drawn for inverse block masking, as a fraction of the patches', { min: 0 }),
  },
  data: {
    path: opt('', 'dataset folder: IDX files or ImageFolder tree; empty = the bundled Fashion-MNIST subset', { type: 'path' }),
    skipBad: opt(false, 'skip and count unreadable images instead of stopping'),
    mean: opt(IMAGENET_MEAN, 'per-channel mean for normalisation'),
    std: opt(IMAGENET_STD, 'per-channel std for normalisation', { gt: 0 }),
    randomResizedCrop: opt(true, 'random resized crop while pretraining'),
    cropScale: opt([0.08, 1], 'random resized crop area range (smallest, largest fraction)', { gt: 0, max: 1 }),
    hflip: opt(true, 'random horizontal flip'),
  },
  finetune: {
    labelsPerClass: int(0, 'use only the first N labelled images per class (0 = all)', { min: 0 }),
    labelSmoothing: opt(0.1, 'label smoothing of the classification loss', { min: 0, lt: 1 }),
    layerDecay: opt(0.65, 'layer-wise lr decay (1 = off)', { gt: 0, max: 1 }),
  },
  probe: {
    epochs: int(60, 'linear-probe epochs over the extracted features', { min: 1 }),
    lr: opt(3e-3, 'linear-probe Adam learning rate', { gt: 0 }),
    weightDecay: opt(1e-4, 'linear-probe L2 penalty', { min: 0 }),
    trainImages: int(0, 'training images for the probe (0 = the whole train split)', { min: 0 }),
    testImages: int(0, 'test images for the probe (0 = the whole test split)', { min: 0 }),
    topBlocks: int(1, 'probe features: average of the last N block outputs, each layer-normed (1 = the last block after the final norm)', { min: 1 }),
  },
} satisfies Schema;

/** A vision run's resolved config: core's options and the sections above. */
export type VisionConfig = ResolvedConfigOf<typeof schema>;

/** A vision preset: any of the options, by section. */
export type VisionPreset = PresetOf<VisionConfig>;
