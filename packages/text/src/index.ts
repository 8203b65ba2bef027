import { registerModality, loadModel as loadAnyModel, type D2vModel, type LoadModelOptions } from '@d2v/core';
import { modality } from './modality.js';
import type { TextInput } from './inference.js';
import type { schema, TextConfig } from './schema.js';

registerModality(modality);

/**
 * Loads a text run (its latest checkpoint) or checkpoint folder for `embed` and `predict`: inputs
 * are strings (`model.inputsFrom(paths)` reads text files a line at a time, and TSVs).
 */
export function loadModel(runOrCheckpoint: string, o: Omit<LoadModelOptions, 'modality'> = {}): Promise<D2vModel<TextInput, TextConfig>> {
  return loadAnyModel<TextInput, typeof schema>(runOrCheckpoint, { ...o, modality });
}

// The modality and its model
export { modality, presets, createEncoder, createMasker } from './modality.js';
export { schema } from './schema.js';
export type { TextConfig, TextPreset } from './schema.js';
export { TokenEncoder } from './encoder.js';
export type { TokenEncoderConfig } from './encoder.js';
export { textHf } from './hf.js';
export { BertMasker, RandomMasker } from './masker.js';
export type { TextMaskOptions } from './masker.js';
export { PackedTextSource, LabelledTextSource, blockBatch, labelledBatch, encodeLabelled, balancedSubset } from './batch.js';
export type { TextBatch, LabelledSequences } from './batch.js';
export { ClassificationHead, CLASSIFIER, sentenceFeatures, crossEntropy, classificationMetrics } from './classifier.js';
export type { ClassificationMetrics, SentencePooling } from './classifier.js';
export { createFinetuneTask, classifyEvaluation, probeEvaluation, evaluateClassifier, extractSentenceFeatures } from './downstream.js';
export type { TextContext } from './downstream.js';
export { textInference } from './inference.js';
export type { TextInput, TextSample } from './inference.js';
export { tokenizerFile, tokenizerVocabSize, loadTokenizer, loadPackedCorpus, loadLabelled, labelledFile, textFilesAt, corpusFiles } from './resources.js';
export type { TextDataOptions, TextOptions, TextMaskingOptions, TextFinetuneOptions, TextProbeOptions } from './resources.js';

// Tokenizer
export {
  SentencePieceTokenizer,
  buildIdMap,
  BOS_ID,
  PAD_ID,
  EOS_ID,
  UNK_ID,
  BOS_PIECE,
  PAD_PIECE,
  EOS_PIECE,
  UNK_PIECE,
  MASK_PIECE,
} from './tokenizer/sentencepiece.js';
export type { TokenEncoder as Tokenizer } from './tokenizer/sentencepiece.js';
export { parseModelProto, movePieceToEnd, PieceType } from './tokenizer/modelProto.js';
export type { ModelPiece, ParsedModel, SentencePieceModelType, PieceTypeValue } from './tokenizer/modelProto.js';
export { trainSentencePiece, SPM_TRAIN_MISSING } from './tokenizer/train.js';
export type { TrainTokenizerOptions, TrainTokenizerResult } from './tokenizer/train.js';

// Data
export { readTextFiles, chunkText } from './data/textFiles.js';
export type { TextDocument, TextFileOptions, TextFileStats, TextCorpus } from './data/textFiles.js';
export { packDocuments, packTokenizedDocuments } from './data/packing.js';
export type { PackMode, PackOptions, PackStats, PackedBlocks, SpecialTokenIds } from './data/packing.js';
export { makeTokenBatch, gatherBlocks, paddingMaskFromLengths, shuffledBatches, iterateTokenBatches, EpochSampler } from './data/batching.js';
export type { TokenBatch } from './data/batching.js';
export { readLabelledTsv, parseLabelledLine, TSV_HEADER } from './data/tsv.js';
export type { TsvOptions, TsvStats, LabelledTexts } from './data/tsv.js';
export { decodeLines, readDataFile } from './data/utf8.js';
export type { InvalidUtf8Policy, DecodedLines } from './data/utf8.js';
export { loadStdlibCorpus, sentenceParagraphs } from './data/stdlib.js';
export type { StdlibCorpusName, StdlibDocument, StdlibCorpusOptions } from './data/stdlib.js';
export { emailToText, htmlToText, decodeEncodedWords } from './data/email.js';
export { buildEmailCorpus, emailDedupKey } from './data/emailCorpus.js';
export type { EmailCorpusOptions, EmailCorpusResult } from './data/emailCorpus.js';
export { textDataDir, bundledCorpusFiles, bundledSpamFiles, bundledTokenizerModel } from './data/paths.js';

// Masking
export { bertMask } from './masking/bertMask.js';
export type { BertMaskOptions, BertMaskResult } from './masking/bertMask.js';
export { randomMask, randomMaskCount } from './masking/randomMask.js';
export type { RandomMaskOptions, RandomMaskResult } from './masking/randomMask.js';

// Baselines (controls for data2vec experiments)
export { MlmPretrainTask, createMlmTask, MLM_REPLICA } from './baselines/mlm.js';
