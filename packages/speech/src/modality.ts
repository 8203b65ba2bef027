/**
 * @d2v/speech: data2vec for speech. wav2vec 2.0 feature encoder and convolutional positions
 * (shared by student and teacher), span masking, targets = instance-normed FFN outputs of the
 * teacher's top K blocks, squared error x 1/sqrt(C), EMA of the Transformer only; CTC
 * fine-tuning over letters with WER/CER on the test manifest.
 */
import { quickPreset, ConfigError, type Modality, type PresetsOf } from '@d2v/core';
import { SpeechEncoder, checkPosConvGroups } from './encoder.js';
import { SpanMasker } from './masking/spanMasker.js';
import { SpeechDataSource, type SpeechBatch } from './data/source.js';
import { subsetDataset, indicesWhere } from './data/dataset.js';
import { createCtcTask, evaluateCtc } from './ctcTask.js';
import { createClassifyTask, evaluateClassify, probeEvaluation } from './classifyTask.js';
import { convLayersOf, encoderConfig, loadSpeechSplit } from './options.js';
import { PAPER_CHANNELS, PAPER_KERNELS, PAPER_STRIDES, schema, type SpeechConfig, type SpeechPreset } from './schema.js';
import { speechEncoderForwardFlops } from './flops.js';
import { speechHf } from './hf.js';
import { speechInference } from './inference.js';

const tinyConv = { convChannels: [128, 128, 128, 128, 128, 128, 128], convKernels: PAPER_KERNELS, convStrides: PAPER_STRIDES } satisfies SpeechPreset['speech'];

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
} satisfies SpeechPreset['objective'];

/**
 * The teacher of `tiny` and `tiny-v2`. The paper's 0.999 -> 0.9999 keeps the teacher ~75% random init
 * after 300 updates (0.999^300): a short CPU run needs a teacher that follows within ~100 updates (as
 * vision's and text's tiny presets).
 */
const tinyTeacher = { emaStart: 0.99, emaEnd: 0.999, emaAnnealSteps: 1000, emaEncoder: false, collapseCheckAfter: 300 } satisfies SpeechPreset['objective'];

/** What `tiny` and `tiny-v2` share: the model, encoder, data, optimiser and fine-tuning. */
const tinyRun = {
  model: { dim: 192, depth: 4, heads: 4, ffnDim: 768, norm: 'post', finalNorm: false, dropout: 0.1, attentionDropout: 0.1, activationDropout: 0, layerDrop: 0, layerScale: 0 },
  speech: { ...tinyConv, posConvLayers: 2, posConvKernel: 19, posConvGroups: 16, dropoutInput: 0 },
  data: { maxSampleLength: 32000, minSampleLength: 8000 },
  optim: { lr: 1e-3, beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.01, clipNorm: 10, schedule: 'tri-stage', phaseRatios: [0.05, 0.75, 0.2], initLrScale: 0.01, finalLrScale: 0.05 },
  train: { steps: 1000, batchSize: 8, logEvery: 10, checkpointEvery: 200, keepLast: 2 },
  finetune: { lr: 5e-4, steps: 600, batchSize: 8, warmupSteps: 60, schedule: 'cosine', weightDecay: 0.01, clipNorm: 10, evalBatchSize: 16 },
} satisfies SpeechPreset;

const basePresets = {
  /** 7 convs x 128 channels (still 50 frames/s), 4 post-LN blocks x 192, 2 s crops: trains on a 2-core CPU. */
  tiny: {
    ...tinyRun,
    masking: { startProb: 0.065, spanLength: 10, minSpans: 2, finetuneStartProb: 0.05, channelRatio: 0.1, channelSpanLength: 16 },
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
    masking: { startProb: 0.11, spanLength: 5, minSpans: 2, ratio: 0.5, finetuneStartProb: 0.05, channelRatio: 0.1, channelSpanLength: 16 },
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
    masking: { startProb: 0.065, spanLength: 10, minSpans: 2, finetuneStartProb: 0.065, channelRatio: 0.25, channelSpanLength: 64 },
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
} satisfies PresetsOf<typeof schema>;

/** Updates of the `quick` preset: `tiny` takes about 2.3 s of CPU per update on one thread. */
const QUICK_STEPS = 60;

export const presets = {
  ...basePresets,
  /** `tiny` for a first look in about three minutes: QUICK_STEPS updates, schedule and EMA anneal shortened with them. */
  quick: quickPreset(basePresets.tiny, QUICK_STEPS),
};

/** Pretraining data: utterances of at least data.minSampleLength, random crops of data.maxSampleLength. */
export function pretrainSource(c: SpeechConfig, split: 'train' | 'valid' | 'test'): SpeechDataSource {
  const d = c.data;
  const all = loadSpeechSplit(c, split);
  const keep = indicesWhere(all, (n) => n >= d.minSampleLength);
  if (keep.length === 0) {
    throw new ConfigError(`${all.source}: no utterance has at least data.minSampleLength = ${d.minSampleLength} samples`, 'data.minSampleLength');
  }
  const ds = keep.length === all.length ? all : subsetDataset(all, keep, `utterances >= ${d.minSampleLength} samples`);
  return new SpeechDataSource(ds, { seed: c.seed, shuffle: split === 'train', pad: false, maxSampleLength: d.maxSampleLength });
}

/** objective.version 2: the fraction of frames masked in every row, in (0, 1). */
function exactMaskFraction(c: SpeechConfig): number {
  const m = c.masking;
  const exactFraction = m.ratio > 0 ? m.ratio : m.startProb * m.spanLength;
  if (!(exactFraction > 0 && exactFraction < 1)) {
    throw new ConfigError(
      `objective.version 2 with masking.ratio 0 masks startProb x spanLength of the frames, which must be in (0, 1) (got ${m.startProb} x ${m.spanLength}); set masking.ratio`,
      'masking.ratio',
    );
  }
  return exactFraction;
}

/** Cross-field checks of the speech options, run while the config is resolved. */
function validateConfig(c: SpeechConfig): void {
  convLayersOf(c);
  const s = c.speech;
  if (s.posConvLayers > 0) checkPosConvGroups(c.model.dim, s.posConvGroups);
  if (c.objective.version === 2) exactMaskFraction(c);
  const d = c.data;
  if (d.minSampleLength > d.maxSampleLength) {
    throw new ConfigError(`data.minSampleLength (${d.minSampleLength}) exceeds data.maxSampleLength (${d.maxSampleLength})`, 'data.minSampleLength');
  }
}

export const modality: Modality<SpeechBatch, typeof schema, SpeechEncoder> = {
  name: 'speech',
  description: 'data2vec for speech: wav2vec 2.0 conv encoder, span masking, CTC fine-tuning; espeak-ng corpus bundled',
  schema,
  presets,
  defaultPreset: 'tiny',
  validateConfig,
  createEncoder: (c, seed) => new SpeechEncoder(encoderConfig(c), seed),
  createMasker: (c) => {
    const m = c.masking;
    const opts = { maskProb: m.startProb, spanLength: m.spanLength, minMasks: m.minSpans };
    if (c.objective.version !== 2) return new SpanMasker(convLayersOf(c), opts);
    return new SpanMasker(convLayersOf(c), { ...opts, exactFraction: exactMaskFraction(c) });
  },
  createData: async (c, split) => pretrainSource(c, split),
  createFinetuneTask: (ctx) => (ctx.config.finetune.task === 'classify' ? createClassifyTask(ctx) : createCtcTask(ctx)),
  evaluations: { ctc: evaluateCtc, classify: evaluateClassify, probe: probeEvaluation },
  // `d2v pretrain` ends with the probe on the bundled espeak-voices (80 utterances: seconds per arm).
  summaryProbe: { evaluation: 'probe', metric: 'accuracy' },
  encoderForwardFlops: (c, frames) => speechEncoderForwardFlops(encoderConfig(c), frames),
  hf: speechHf,
  inference: speechInference,
};
