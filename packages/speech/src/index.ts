// @d2v/speech: data2vec for speech (wav2vec 2.0 front end, span masking, CTC fine-tuning).
import { registerModality, loadModel as loadAnyModel, type D2vModel, type LoadModelOptions } from '@d2v/core';
import { modality } from './modality.js';
import type { SpeechInput } from './inference.js';
import type { schema, SpeechConfig } from './schema.js';

registerModality(modality);

/**
 * Loads a speech run (its latest checkpoint) or checkpoint folder for `embed` and `predict`:
 * inputs are WAV paths, WAV bytes or mono Float32Array samples at speech.sampleRate (16 kHz).
 */
export function loadModel(runOrCheckpoint: string, o: Omit<LoadModelOptions, 'modality'> = {}): Promise<D2vModel<SpeechInput, SpeechConfig>> {
  return loadAnyModel<SpeechInput, typeof schema>(runOrCheckpoint, { ...o, modality });
}

export { modality, presets, pretrainSource } from './modality.js';
export { loadSpeechSplit, convLayersOf, encoderConfig, classifySource } from './options.js';
export { schema } from './schema.js';
export type { SpeechConfig, SpeechPreset } from './schema.js';
export type { SpeechOptions, SpeechDataOptions, SpeechMaskingOptions, SpeechFinetuneOptions, SpeechClassifyOptions, SpeechProbeOptions } from './options.js';
export { SpeechEncoder, ConvFeatureExtractor, PositionalConv, PAPER_CONV_LAYERS, convLayersFrom, framesForSamples, frameGeometry, frameMask } from './encoder.js';
export type { ConvLayerSpec, SpeechEncoderConfig } from './encoder.js';
export { conv1d } from './ops/conv1d.js';
export { speechHf } from './hf.js';
export { speechEncoderForwardFlops } from './flops.js';
export { CtcHead, CTC_HEAD, ctcLogits, decodeDataset, labelledSubset, createCtcTask, evaluateCtc } from './ctcTask.js';
export { speechInference, minimumSamples } from './inference.js';
export type { SpeechInput, SpeechSample } from './inference.js';
export type { CtcForwardOptions } from './ctcTask.js';
export { encodeUtterances, validFrames } from './utterances.js';
export type { SpeechForwardOptions } from './utterances.js';
export { UtteranceClassifierHead, classifyLogits, utteranceFeatures, classNames, classifyDataset, createClassifyTask, evaluateClassify, probeEvaluation } from './classifyTask.js';
export { spanMask } from './masking/spanMask.js';
export type { SpanMaskOptions, SpanMaskResult } from './masking/spanMask.js';
export { SpanMasker, channelMask, exactMaskCount } from './masking/spanMasker.js';
export type { SpanMaskerOptions, ChannelMaskOptions } from './masking/spanMasker.js';
export { ctcLoss } from './ctc/ctcLoss.js';
export type { CtcLabels, CtcLossOptions } from './ctc/ctcLoss.js';
export { greedyDecode, greedyDecodeIds, collapseCtc, idsToWords } from './ctc/decode.js';
export type { GreedyDecodeOptions } from './ctc/decode.js';
export { errorRates, editDistance, wordErrorRate, charErrorRate } from './ctc/wer.js';
export type { ErrorRates } from './ctc/wer.js';
export { readWav, decodeWav, readWavInfo, parseWavHeader, encodeWav, writeWav, normalizeAudio, framesAtRate } from './data/wav.js';
export type { WavInfo, ReadWavOptions, WriteWavOptions } from './data/wav.js';
export { resample, resampledLength, besselI0 } from './data/resample.js';
export type { ResampleOptions } from './data/resample.js';
export { readManifest, writeManifest, manifestTranscript, readLabelFile, writeLabelFile, labelFilePath } from './data/manifest.js';
export type { Manifest, ManifestEntry } from './data/manifest.js';
export { openSpeechDataset, openManifestDataset, openWavFolder, listWavFiles, manifestPath, subsetDataset, indicesWhere } from './data/dataset.js';
export type { SpeechDataset, SpeechItem, SpeechDatasetOptions, SkippedFile } from './data/dataset.js';
export { collateAudio, randomCrop, bucketBatches, paddingMaskTensor } from './data/batching.js';
export type { AudioBatch, CollateOptions, CollateItem, BucketOptions } from './data/batching.js';
export { SpeechDataSource, sortedBatches } from './data/source.js';
export type { SpeechBatch, SpeechSourceOptions } from './data/source.js';
export { LETTERS, VOCAB_SIZE, BLANK, WORD_BOUNDARY, normalizeTranscript, textToIds, idsToText, wordsToLetterLine, letterLineToWords, numberToWords } from './data/letters.js';
export { bundledCorpusDir, bundledVoicesDir } from './data/paths.js';
export { buildCorpus, listEspeakVoices, CORPUS_SPLITS, CORPUS_LABELS, voiceLabels, splitUtterancesByVoice, resplitByUtterance } from './data/corpus.js';
export type { CorpusOptions, CorpusSummary, CorpusSplitSummary, CorpusSplit, CorpusLabel, ResplitOptions } from './data/corpus.js';
