import { registerModality } from '@d2v/core';
import { modality } from './modality.js';

registerModality(modality);

export { modality, presets, loadSplit, extractFeatures, batching as batchingOptions } from './modality.js';
export type { VisionOptions, VisionDataOptions } from './modality.js';
export { PatchEncoder, relativePositionIndex } from './encoder.js';
export { visionHf } from './hf.js';
export type { PatchEncoderConfig } from './encoder.js';
export { blockMask, blockMaskBatch, maskBatch, scaledMinBlock } from './masking/blockMask.js';
export type { BlockMaskOptions } from './masking/blockMask.js';
export { inverseBlockMask, visibleCount, inverseMaskedCount } from './masking/inverseBlockMask.js';
export type { InverseBlockMaskOptions } from './masking/inverseBlockMask.js';
export { BlockMasker, InverseBlockMasker } from './masking/blockMasker.js';
export { ImageDataSource, makeVisionBatch, patchify } from './batch.js';
export type { VisionBatch, BatchingOptions } from './batch.js';
export { readIdx, parseIdx, writeIdx, loadIdxDataset } from './data/idx.js';
export type { IdxArray, IdxDataset } from './data/idx.js';
export { loadImageFolder, decodeImage, IMAGE_EXTENSIONS } from './data/imageFolder.js';
export type { ImageFolderOptions } from './data/imageFolder.js';
export { loadImageDataset, InMemoryImageDataset, FASHION_MNIST_CLASSES } from './data/dataset.js';
export type { ImageDataset } from './data/dataset.js';
export { augmentImage, sampleCrop, cropResize, normalise } from './data/augment.js';
export type { AugmentOptions } from './data/augment.js';
export { bundledFashionMnistDir, debianFashionMnistDir } from './data/paths.js';
export { ClassifierHead, pooledFeatures, probeFeatures, smoothedCrossEntropy, applyLayerDecay } from './classifier.js';
