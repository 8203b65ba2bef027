/**
 * The options of @d2v/speech, declared once: `SpeechConfig` (a run's resolved config) and
 * `SpeechPreset` are derived from this schema, so a misspelt or mistyped option fails to compile.
 */
import { int, opt, spanMasking, type PresetOf, type ResolvedConfigOf, type Schema } from '@d2v/core';

export const PAPER_CHANNELS = [512, 512, 512, 512, 512, 512, 512];
export const PAPER_KERNELS = [10, 3, 3, 3, 3, 2, 2];
export const PAPER_STRIDES = [5, 2, 2, 2, 2, 2, 2];

export const schema = {
  speech: {
    sampleRate: int(16000, 'audio sample rate the model expects (files are resampled to it)', { min: 1 }),
    convChannels: opt(PAPER_CHANNELS, 'feature encoder: output channels of each convolution', { min: 1 }),
    convKernels: opt(PAPER_KERNELS, 'feature encoder: kernel of each convolution (samples, then frames)', { min: 1 }),
    convStrides: opt(PAPER_STRIDES, 'feature encoder: stride of each convolution (product 320 = 50 frames/s at 16 kHz)', { min: 1 }),
    posConvLayers: int(5, 'convolutional positional embedding: layers (0 = none)', { min: 0 }),
    posConvKernel: int(19, 'convolutional positional embedding: kernel of each layer', { min: 1 }),
    posConvGroups: int(16, 'convolutional positional embedding: channel groups (must divide model.dim)', { min: 1 }),
    dropoutInput: opt(0, 'dropout on the projected features before masking (fairseq dropout_input)', { min: 0, lt: 1 }),
  },
  data: {
    path: opt('', 'corpus: folder with train/valid/test .tsv manifests, one .tsv, or a folder of WAVs; empty = the bundled espeak-small corpus', { type: 'path' }),
    skipBad: opt(false, 'skip and count unreadable audio files instead of stopping'),
    normalize: opt(true, 'zero mean, unit variance per utterance (data2vec: normalize true)'),
    cache: opt(true, 'keep decoded audio in memory after the first read'),
    maxSampleLength: int(320000, 'pretraining: random crops of at most this many samples', { min: 1 }),
    minSampleLength: int(32000, 'pretraining: leave out utterances shorter than this many samples', { min: 0 }),
  },
  masking: {
    // Pretraining masks frames in spans (wav2vec 2.0): the paper's p = 0.065, spans of 10 frames.
    ...spanMasking(
      { startProb: 0.065, spanLength: 10, ratio: 0 },
      { ratioZero: 'startProb x spanLength', ratioNote: 'data2vec 2.0 uses 0.5 with startProb 0.11, spanLength 5' },
    ),
    minSpans: int(2, 'least spans per utterance', { min: 0 }),
    finetuneStartProb: opt(0.065, 'fine-tuning: span-start probability of time masking (kept while fine-tuning; 0 = off)', { min: 0, lt: 1 }),
    channelRatio: opt(0.25, "fine-tuning: channel masking, fairseq's mask_channel_prob (about this fraction of channels zeroed; 0 = off)", { min: 0, lt: 1 }),
    channelSpanLength: int(64, 'fine-tuning: channels per masked channel span', { min: 1 }),
  },
  finetune: {
    task: opt('ctc', 'fine-tuning task: ctc = transcripts (letters; WER/CER on data.path), classify = one class per utterance (mean-pool + linear head on classify.path; accuracy, macro F1)', {
      choices: ['ctc', 'classify'],
    }),
    labelledUtterances: int(0, 'use a seeded random subset of N labelled train utterances (0 = all)', { min: 0 }),
    freezeFeatureEncoder: opt(true, 'keep the convolutional feature encoder frozen while fine-tuning'),
    evalBatchSize: int(16, 'utterances per batch when decoding the test set', { min: 1 }),
  },
  classify: {
    path: opt('', "utterance classification data (finetune.task classify, eval --task classify / probe): train.tsv and test.tsv with their label files; empty = the bundled espeak-voices (voice ID, 8 voices unheard in pretraining)", { type: 'path' }),
    labels: opt('voice', "label file of each manifest, <split>.<labels>, one class name per line (make-corpus writes voice, accent and variant)"),
    classes: opt([], 'class names in id order; empty = the sorted distinct training labels (a fine-tuned run records them here)', { type: 'string[]' }),
    projDim: int(256, "head: width of the projection averaged over frames (HF's classifier_proj_size)"),
  },
  probe: {
    topBlocks: int(0, 'probe features: the average of the last N block outputs, averaged over the frames (0 = every block, as SUPERB averages layers; 1 = the last block)'),
    epochs: int(100, 'linear-probe epochs over the extracted features'),
    lr: opt(3e-3, 'linear-probe Adam learning rate'),
    weightDecay: opt(1e-3, 'linear-probe L2 penalty'),
  },
} satisfies Schema;

/** A speech run's resolved config: core's options and the sections above. */
export type SpeechConfig = ResolvedConfigOf<typeof schema>;

/** A speech preset: any of the options, by section. */
export type SpeechPreset = PresetOf<SpeechConfig>;
