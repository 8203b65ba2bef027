/**
 * @d2v/speech: data2vec for speech. wav2vec 2.0 feature encoder and convolutional positions
 * (shared by student and teacher), span masking, targets = instance-normed FFN outputs of the
 * teacher's top K blocks, squared error x 1/sqrt(C), EMA of the Transformer only; CTC
 * fine-tuning over letters with WER/CER on the test manifest.
 */
import { opt, int, quickPreset, ConfigError, type Modality, type ResolvedConfig } from '@d2v/core';
import { SpeechEncoder, checkPosConvGroups } from './encoder.js';
import { SpanMasker } from './masking/spanMasker.js';
import { SpeechDataSource } from './data/source.js';
import { subsetDataset, indicesWhere } from './data/dataset.js';
import { createCtcTask, evaluateCtc } from './ctcTask.js';
import { createClassifyTask, evaluateClassify, probeEvaluation } from './classifyTask.js';
import { convLayersOf, dataOptions, encoderConfig, finetuneOptions, loadSpeechSplit, maskingOptions } from './options.js';
import { speechEncoderForwardFlops } from './flops.js';
import { speechHf } from './hf.js';
import { speechInference } from './inference.js';

const PAPER_CHANNELS = [512, 512, 512, 512, 512, 512, 512];
const PAPER_KERNELS = [10, 3, 3, 3, 3, 2, 2];
const PAPER_STRIDES = [5, 2, 2, 2, 2, 2, 2];

const schema = {
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
    maskProb: opt(0.065, "pretraining: probability that a frame starts a masked span (paper p; fairseq's mask_prob = p x spanLength)", { min: 0, lt: 1 }),
    spanLength: int(10, 'frames per masked span', { min: 1 }),
    minMasks: int(2, 'least spans per utterance', { min: 0 }),
    exactFraction: opt(
      0,
      'objective.version 2: mask exactly this fraction of the frames in every row, filling or trimming the spans at random (0 = the wav2vec 2.0 fraction maskProb x spanLength); data2vec 2.0 uses 0.5 with maskProb 0.11, spanLength 5',
      { min: 0, lt: 1 },
    ),
    finetuneMaskProb: opt(0.065, 'fine-tuning: span-start probability (masking is kept while fine-tuning; 0 = off)', { min: 0, lt: 1 }),
    channelMaskProb: opt(0.25, "fine-tuning: channel masking, fairseq's mask_channel_prob (about this fraction of channels zeroed; 0 = off)", { min: 0, lt: 1 }),
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
};

const tinyConv = { convChannels: [128, 128, 128, 128, 128, 128, 128], convKernels: PAPER_KERNELS, convStrides: PAPER_STRIDES };

/** data2vec speech targets and loss: instance-normed FFN outputs, squared error x 1/sqrt(C), EMA 0.999 -> 0.9999. */
const speechObjective = {
  targetSource: 'ffn',
  instanceNormTargetLayer: true,
  layerNormTargetLayer: false,
  instanceNormTargets: false,
  layerNormTargets: false,
  lossBeta: 0,
  lossScale: null,
  headLayers: 1,
  emaStart: 0.999,
  emaEnd: 0.9999,
};

/**
 * The teacher of `tiny` and `tiny-v2`. The paper's 0.999 -> 0.9999 keeps the teacher ~75% random init
 * after 300 updates (0.999^300): a short CPU run needs a teacher that follows within ~100 updates (as
 * vision's and text's tiny presets).
 */
const tinyTeacher = { emaStart: 0.99, emaEnd: 0.999, emaAnnealSteps: 1000, emaEncoder: false, collapseCheckAfter: 300 };

/** What `tiny` and `tiny-v2` share: the model, encoder, data, optimiser and fine-tuning. */
const tinyRun = {
  model: { dim: 192, depth: 4, heads: 4, ffnDim: 768, norm: 'post', finalNorm: false, dropout: 0.1, attentionDropout: 0.1, activationDropout: 0, layerDrop: 0, layerScale: 0 },
  speech: { ...tinyConv, posConvLayers: 2, posConvKernel: 19, posConvGroups: 16, dropoutInput: 0 },
  data: { maxSampleLength: 32000, minSampleLength: 8000 },
  optim: { lr: 1e-3, beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.01, clipNorm: 10, schedule: 'tri-stage', phaseRatios: [0.05, 0.75, 0.2], initLrScale: 0.01, finalLrScale: 0.05 },
  train: { steps: 1000, batchSize: 8, logEvery: 10, checkpointEvery: 200, keepLast: 2 },
  finetune: { lr: 5e-4, steps: 600, batchSize: 8, warmupSteps: 60, schedule: 'cosine', weightDecay: 0.01, clipNorm: 10, evalBatchSize: 16 },
};

const basePresets = {
  /** 7 convs x 128 channels (still 50 frames/s), 4 post-LN blocks x 192, 2 s crops: trains on a 2-core CPU. */
  tiny: {
    ...tinyRun,
    masking: { maskProb: 0.065, spanLength: 10, minMasks: 2, finetuneMaskProb: 0.05, channelMaskProb: 0.1, channelSpanLength: 16 },
    objective: {
      topK: 3,
      ...speechObjective,
      ...tinyTeacher,
    },
  },
  /**
   * data2vec 2.0 on the same encoder and data as `tiny`: the student encodes the visible half of
   * each of 4 masked copies (spans of 5 frames, exactly 50% masked), a 4-layer 1-D conv decoder
   * (96 channels, kernel 7) predicts the rest; targets are the teacher's instance-normed FFN
   * outputs of the top 3 blocks. The paper uses 8 copies and a 384-wide decoder for 12 x 768.
   */
  'tiny-v2': {
    ...tinyRun,
    masking: { maskProb: 0.11, spanLength: 5, minMasks: 2, exactFraction: 0.5, finetuneMaskProb: 0.05, channelMaskProb: 0.1, channelSpanLength: 16 },
    objective: {
      version: 2,
      clones: 4,
      maskNoiseStd: 0.01,
      decoder: { conv: '1d', dim: 96, kernel: 7, layers: 4, groups: 16, residual: true, inputDropout: 0.1 },
      topK: 3,
      ...speechObjective,
      ...tinyTeacher,
    },
  },
  /** data2vec Base for speech (LibriSpeech 960 h recipe). */
  'paper-base': {
    model: { dim: 768, depth: 12, heads: 12, ffnDim: 3072, norm: 'post', finalNorm: false, dropout: 0.1, attentionDropout: 0.1, activationDropout: 0, layerDrop: 0.05, layerScale: 0 },
    speech: { convChannels: PAPER_CHANNELS, convKernels: PAPER_KERNELS, convStrides: PAPER_STRIDES, posConvLayers: 5, posConvKernel: 19, posConvGroups: 16, dropoutInput: 0 },
    data: { maxSampleLength: 320000, minSampleLength: 32000 },
    masking: { maskProb: 0.065, spanLength: 10, minMasks: 2, finetuneMaskProb: 0.065, channelMaskProb: 0.25, channelSpanLength: 64 },
    objective: {
      topK: 8,
      ...speechObjective,
      emaAnnealSteps: 30000,
      emaEncoder: false,
      collapseCheckAfter: 5000,
    },
    optim: { lr: 5e-4, beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.01, clipNorm: 0, schedule: 'tri-stage', phaseRatios: [0.03, 0.9, 0.07], initLrScale: 0.01, finalLrScale: 0.01, accumulate: 8 },
    train: { steps: 400000, batchSize: 32 },
    finetune: { lr: 5e-5, steps: 20000, batchSize: 32, warmupSteps: 2000, schedule: 'cosine', weightDecay: 0, clipNorm: 0 },
  },
};

/** Updates of the `quick` preset: `tiny` takes about 2.3 s of CPU per update on one thread. */
const QUICK_STEPS = 60;

export const presets = {
  ...basePresets,
  /** `tiny` for a first look in about three minutes: QUICK_STEPS updates, schedule and EMA anneal shortened with them. */
  quick: quickPreset(basePresets.tiny, QUICK_STEPS),
};

/** Pretraining data: utterances of at least data.minSampleLength, random crops of data.maxSampleLength. */
export function pretrainSource(c: ResolvedConfig, split: 'train' | 'valid' | 'test'): SpeechDataSource {
  const d = dataOptions(c);
  const all = loadSpeechSplit(c, split);
  const keep = indicesWhere(all, (n) => n >= d.minSampleLength);
  if (keep.length === 0) {
    throw new ConfigError(`${all.source}: no utterance has at least data.minSampleLength = ${d.minSampleLength} samples`, 'data.minSampleLength');
  }
  const ds = keep.length === all.length ? all : subsetDataset(all, keep, `utterances >= ${d.minSampleLength} samples`);
  return new SpeechDataSource(ds, { seed: c.seed, shuffle: split === 'train', pad: false, maxSampleLength: d.maxSampleLength });
}

/** objective.version 2: the fraction of frames masked in every row, in (0, 1). */
function exactMaskFraction(c: ResolvedConfig): number {
  const m = maskingOptions(c);
  const exactFraction = m.exactFraction > 0 ? m.exactFraction : m.maskProb * m.spanLength;
  if (!(exactFraction > 0 && exactFraction < 1)) {
    throw new ConfigError(
      `objective.version 2 with masking.exactFraction 0 masks maskProb x spanLength of the frames, which must be in (0, 1) (got ${m.maskProb} x ${m.spanLength}); set masking.exactFraction`,
      'masking.exactFraction',
    );
  }
  return exactFraction;
}

/** Cross-field checks of the speech options, run while the config is resolved. */
function validateConfig(c: ResolvedConfig): void {
  convLayersOf(c);
  const s = c['speech'] as { posConvLayers: number; posConvGroups: number };
  if (s.posConvLayers > 0) checkPosConvGroups(c.model.dim, s.posConvGroups);
  if (c.objective.version === 2) exactMaskFraction(c);
  const d = dataOptions(c);
  if (d.minSampleLength > d.maxSampleLength) {
    throw new ConfigError(`data.minSampleLength (${d.minSampleLength}) exceeds data.maxSampleLength (${d.maxSampleLength})`, 'data.minSampleLength');
  }
}

export const modality: Modality = {
  name: 'speech',
  description: 'data2vec for speech: wav2vec 2.0 conv encoder, span masking, CTC fine-tuning; espeak-ng corpus bundled',
  schema,
  presets: presets as unknown as Modality['presets'],
  defaultPreset: 'tiny',
  validateConfig,
  createEncoder: (c, seed) => new SpeechEncoder(encoderConfig(c), seed),
  createMasker: (c) => {
    const m = maskingOptions(c);
    const opts = { maskProb: m.maskProb, spanLength: m.spanLength, minMasks: m.minMasks };
    if (c.objective.version !== 2) return new SpanMasker(convLayersOf(c), opts);
    return new SpanMasker(convLayersOf(c), { ...opts, exactFraction: exactMaskFraction(c) });
  },
  createData: async (c, split) => pretrainSource(c, split),
  createFinetuneTask: (ctx) => (finetuneOptions(ctx.config).task === 'classify' ? createClassifyTask(ctx) : createCtcTask(ctx)),
  evaluations: { ctc: evaluateCtc, classify: evaluateClassify, probe: probeEvaluation },
  // `d2v pretrain` ends with the probe on the bundled espeak-voices (80 utterances: seconds per arm).
  summaryProbe: { evaluation: 'probe', metric: 'accuracy' },
  encoderForwardFlops: (c, frames) => speechEncoderForwardFlops(encoderConfig(c), frames),
  hf: speechHf,
  inference: speechInference,
};
