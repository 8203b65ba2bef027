import { registerModality, loadModel as loadAnyModel, type D2vModel, type LoadModelOptions } from '@d2v/core';
import { modality } from './modality.js';
import type { VisionInput } from './inference.js';
import type { schema, VisionConfig } from './schema.js';

registerModality(modality);

/**
 * Loads a vision run (its latest checkpoint) or checkpoint folder for `embed` and `predict`:
 * inputs are image paths, encoded image bytes (PNG, JPEG, WebP) or [height, width, channels] pixel tensors.
 */
export function loadModel(runOrCheckpoint: string, o: Omit<LoadModelOptions, 'modality'> = {}): Promise<D2vModel<VisionInput, VisionConfig>> {
  return loadAnyModel<VisionInput, typeof schema>(runOrCheckpoint, { ...o, modality });
}

export { modality, presets, loadSplit, extractFeatures } from './modality.js';
export { batching as batchingOptions } from './options.js';
export { schema } from './schema.js';
export type { VisionConfig, VisionPreset } from './schema.js';
export type { VisionOptions, VisionDataOptions } from './options.js';
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
export { loadImageFolder, decodeImage, imagesUnder, IMAGE_EXTENSIONS } from './data/imageFolder.js';
export type { ImageFolderOptions, ImageSource, RawImage } from './data/imageFolder.js';
export { loadImageDataset, datasetClassNames, InMemoryImageDataset, FASHION_MNIST_CLASSES } from './data/dataset.js';
export type { ImageDataset } from './data/dataset.js';
export { augmentImage, sampleCrop, cropResize, normalise } from './data/augment.js';
export type { AugmentOptions } from './data/augment.js';
export { bundledFashionMnistDir, debianFashionMnistDir } from './data/paths.js';
export { ClassifierHead, CLASSIFIER, pooledFeatures, probeFeatures, smoothedCrossEntropy, applyLayerDecay } from './classifier.js';
export { visionInference } from './inference.js';
export type { VisionInput, VisionSample } from './inference.js';
