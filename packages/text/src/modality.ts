/**
 * @d2v/text: data2vec for text (data2vec 1.0 text recipe). RoBERTa-style
 * post-LN Transformer with learned positions; BERT masking of the input
 * tokens; targets are the teacher's FFN outputs (before the last residual
 * and norm) of the top K blocks, each layer-normed without parameters, then
 * averaged; Smooth L1 (beta 4, scale 1) at the `<mask>` positions; the EMA
 * teacher tracks the Transformer only (embeddings are shared).
 */
import { quickPreset, ConfigError, type Modality, type PresetsOf } from '@d2v/core';
import { TokenEncoder } from './encoder.js';
import { BertMasker, RandomMasker } from './masker.js';
import { PackedTextSource, type TextBatch } from './batch.js';
import { BOS_ID, EOS_ID, PAD_ID } from './tokenizer/sentencepiece.js';
import { loadPackedCorpus, tokenizerFile, tokenizerVocabSize } from './resources.js';
import { schema, type TextConfig, type TextPreset } from './schema.js';
import { createFinetuneTask, classifyEvaluation, probeEvaluation } from './downstream.js';
import { textHf } from './hf.js';
import { textInference } from './inference.js';

/** data2vec text objective (paper values; the tiny preset changes only K and the EMA schedule). */
const textObjective = {
  targetSource: 'ffn',
  layerNormTargetLayer: true,
  instanceNormTargetLayer: false,
  layerNormTargets: false,
  instanceNormTargets: false,
  lossBeta: 4,
  lossScale: 1,
  headLayers: 2,
  emaEncoder: false,
} satisfies TextPreset['objective'];

/** What `tiny` and `tiny-v2` share: the model, blocks, optimiser and fine-tuning. */
const tinyRun = {
  model: { dim: 256, depth: 4, heads: 4, ffnDim: 1024, norm: 'post', finalNorm: false, dropout: 0.1, attentionDropout: 0.1, activationDropout: 0, layerDrop: 0, layerScale: 0 },
  text: { blockSize: 128, packMode: 'none', maxPositions: 512 },
  optim: { lr: 5e-4, beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.01, clipNorm: 5, schedule: 'cosine', warmupSteps: 50, finalLrScale: 0.01 },
  train: { steps: 500, batchSize: 16, logEvery: 10, checkpointEvery: 100, keepLast: 2 },
  finetune: { lr: 3e-4, steps: 120, batchSize: 16, warmupSteps: 12, schedule: 'cosine', weightDecay: 0.01, clipNorm: 5, labels: 200, maxTokens: 64, headDropout: 0.1 },
  probe: { labels: 200 },
} satisfies TextPreset;

const basePresets = {
  /**
   * 4 x 256 post-LN on 128-token blocks: pre-trains in minutes on a 2-core CPU (wasm). Deviations from
   * the paper for a short CPU run: K = 3 of 4 blocks; a faster EMA (0.99 -> 0.998, a teacher that
   * follows within a few hundred updates); 'none' packing (no padding compute); shorter fine-tuning inputs.
   */
  tiny: {
    ...tinyRun,
    objective: { ...textObjective, topK: 3, emaStart: 0.99, emaEnd: 0.998, emaAnnealSteps: 500, collapseCheckAfter: 250 },
  },
  /**
   * data2vec 2.0 on the same model and data as `tiny`: 48% of the tokens of each of 2 masked copies
   * are dropped from the student's input (each copy costs the student about half a data2vec 1.0
   * pass, so more copies cost more than they save here); a 3-layer 1-D conv decoder (128 channels, kernel 9, 4
   * groups, 2-layer projection) predicts them; targets are the instance-normed FFN outputs of all
   * 4 teacher blocks, squared error. The paper's decoder is 5 x 768 (no groups), with 8 copies.
   */
  'tiny-v2': {
    ...tinyRun,
    masking: { ratio: 0.48 },
    objective: {
      ...textObjective,
      version: 2,
      clones: 2,
      maskNoiseStd: 0.01,
      decoder: { conv: '1d', dim: 128, kernel: 9, layers: 3, groups: 4, residual: false, inputDropout: 0.1 },
      topK: 4,
      layerNormTargetLayer: false,
      instanceNormTargetLayer: true,
      lossBeta: 0,
      emaStart: 0.99,
      emaEnd: 0.998,
      emaAnnealSteps: 500,
      collapseCheckAfter: 250,
    },
  },
  /** data2vec Base for text: 12 x 768 RoBERTa layout, 512-token blocks, released fairseq optimiser settings. */
  'paper-base': {
    model: { dim: 768, depth: 12, heads: 12, ffnDim: 3072, norm: 'post', finalNorm: false, dropout: 0.1, attentionDropout: 0.1, activationDropout: 0, layerDrop: 0, layerScale: 0 },
    text: { blockSize: 512, packMode: 'complete_doc', maxPositions: 512 },
    masking: { ratio: 0.15, replaceWithMask: 0.8, replaceRandom: 0.1, lossOn: 'masked-input' },
    objective: { ...textObjective, topK: 10, emaStart: 0.999, emaEnd: 0.9999, emaAnnealSteps: 100000, collapseCheckAfter: 5000 },
    optim: { lr: 2e-4, beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.01, clipNorm: 5, schedule: 'cosine', warmupSteps: 10000, finalLrScale: 0 },
    train: { steps: 1000000, batchSize: 256 },
    // RoBERTa's GLUE recipe: lr 1e-5..3e-5, batch 16/32, 6% warm-up, linear decay, wd 0.1.
    finetune: { lr: 2e-5, steps: 2000, batchSize: 32, warmupSteps: 120, schedule: 'linear', weightDecay: 0.1, clipNorm: 0, labels: 0, maxTokens: 512, headDropout: 0.1 },
  },
} satisfies PresetsOf<typeof schema>;

/** Updates of the `quick` preset: `tiny` takes about 2 s per update on 2 cores. */
const QUICK_STEPS = 60;

export const presets = {
  ...basePresets,
  /** `tiny` for a first look in about three minutes: QUICK_STEPS updates, schedule and EMA anneal shortened with them. */
  quick: quickPreset(basePresets.tiny, QUICK_STEPS),
};

/** Lengths that must fit the learned positions; also the modality's validateConfig (run while resolving). */
function checkLengths(c: TextConfig): void {
  const t = c.text;
  if (t.blockSize > t.maxPositions) throw new ConfigError(`text.blockSize (${t.blockSize}) exceeds text.maxPositions (${t.maxPositions})`, 'text.blockSize');
  const maxTokens = c.finetune.maxTokens;
  if (maxTokens > t.maxPositions) throw new ConfigError(`finetune.maxTokens (${maxTokens}) exceeds text.maxPositions (${t.maxPositions})`, 'finetune.maxTokens');
}

export function createEncoder(c: TextConfig, seed: number): TokenEncoder {
  checkLengths(c);
  const vocabSize = tokenizerVocabSize(tokenizerFile(c));
  return new TokenEncoder({ vocabSize, dim: c.model.dim, maxPositions: c.text.maxPositions, maskId: vocabSize - 1, dropout: c.model.dropout }, seed);
}

/** BERT masking for objective.version 1, data2vec 2.0's random masking for version 2. */
export function createMasker(c: TextConfig): BertMasker | RandomMasker {
  const m = c.masking;
  if (c.objective.version === 2) return new RandomMasker(m.ratio);
  const vocabSize = tokenizerVocabSize(tokenizerFile(c));
  return new BertMasker({
    vocabSize,
    maskId: vocabSize - 1,
    specialIds: [BOS_ID, PAD_ID, EOS_ID],
    maskProb: m.ratio,
    replaceWithMask: m.replaceWithMask,
    replaceRandom: m.replaceRandom,
    lossOn: m.lossOn,
  });
}

export const modality: Modality<TextBatch, typeof schema, TokenEncoder> = {
  name: 'text',
  description: 'data2vec for text: SentencePiece tokens, RoBERTa-style post-LN Transformer, BERT masking; bundled corpus, tokenizer and spam/ham task',
  schema,
  presets,
  defaultPreset: 'tiny',
  validateConfig: checkLengths,
  createEncoder,
  createMasker,
  createData: async (c, split) => {
    checkLengths(c);
    const { blocks, files, read } = await loadPackedCorpus(c, split);
    return new PackedTextSource(blocks, c.seed, files.length === 1 ? files[0]! : `${files.length} files under ${c.data.path}`, read);
  },
  createFinetuneTask,
  // The first entry is what `d2v eval` runs without --task: the package's eval script evaluates a fine-tuned run.
  evaluations: { classify: classifyEvaluation, probe: probeEvaluation },
  hf: textHf,
  inference: textInference,
  // `d2v pretrain` ends with this probe: 200 labelled and the 500 bundled test e-mails, 64 tokens each.
  summaryProbe: { evaluation: 'probe', metric: 'accuracy' },
};
