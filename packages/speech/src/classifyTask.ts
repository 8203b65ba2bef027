/**
 * Utterance classification (`finetune.task classify`), as HF's Data2VecAudioForSequenceClassification:
 * the Transformer's outputs projected to classify.projDim, averaged over the real (unpadded)
 * frames, then a Linear to the classes; cross entropy. Around it the CTC recipe: feature encoder
 * frozen, the same time and channel masking while training. Labels come from the manifests'
 * parallel `<split>.<classify.labels>` files. Metrics: accuracy, macro F1, a confusion matrix plot.
 * Also the linear probe on frozen mean-pooled features (`d2v eval --task probe`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ConfigError,
  DataError,
  Linear,
  Module,
  classificationMetrics,
  confusionMatrixPng,
  createDownstreamTask,
  crossEntropy,
  maskedMeanOverTime,
  suggestKey,
  trainLinearProbe,
  weightsUnder,
  type DownstreamContext,
  type DownstreamTask,
  type ProbeData,
  type Rng,
} from '@d2v/core';
import type { SpeechEncoder } from './encoder.js';
import { SpeechDataSource, sortedBatches, type SpeechBatch } from './data/source.js';
import type { SpeechDataset } from './data/dataset.js';
import { encodeUtterances, finetuneForward, type SpeechForwardOptions } from './utterances.js';
import { labelledSubset, type SpeechContext } from './ctcTask.js';
import { classifySource, loadSpeechSplit } from './options.js';
import type { SpeechConfig } from './schema.js';

/** HF's `projector` and `classifier`: Linear, masked mean over time, Linear. */
export class UtteranceClassifierHead extends Module {
  readonly projector: Linear;
  readonly classifier: Linear;
  constructor(dim: number, projDim: number, classes: number, seed: number) {
    super();
    this.projector = this.child('projector', new Linear(dim, projDim, seed));
    this.classifier = this.child('classifier', new Linear(projDim, classes, seed + 1));
  }
  /** Logits [B, classes] from Transformer outputs [B, T, C] (padding frames left out of the mean). */
  apply(hidden: tf.Tensor3D, paddingMask?: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => this.classifier.apply(maskedMeanOverTime(this.projector.apply(hidden) as tf.Tensor3D, paddingMask)) as tf.Tensor2D);
  }
}

/** Class logits [B, classes] of a batch. */
export function classifyLogits(encoder: SpeechEncoder, transformer: DownstreamContext['transformer'], head: UtteranceClassifierHead, batch: SpeechBatch, o: SpeechForwardOptions): tf.Tensor2D {
  return tf.tidy(() => {
    const e = encodeUtterances(encoder, transformer, batch, o);
    return head.apply(e.hidden, e.paddingMask);
  });
}

/**
 * Frozen utterance features [B, C] (eval mode): the average of the last `topBlocks` block outputs
 * (0 = every block, 1 = the last), averaged over the real frames.
 */
export function utteranceFeatures(encoder: SpeechEncoder, transformer: DownstreamContext['transformer'], batch: SpeechBatch, topBlocks = 1): tf.Tensor2D {
  return tf.tidy(() => {
    const e = encodeUtterances(encoder, transformer, batch, { training: false, topBlocks });
    return maskedMeanOverTime(e.hidden, e.paddingMask);
  });
}

function labelsOf(ds: SpeechDataset): readonly string[] {
  if (!ds.labels) throw new DataError(ds.source, 'has no utterance labels');
  return ds.labels;
}

/** The 1-based line of the first `label` in a label file (for error messages). */
function lineOf(file: string | undefined, label: string): number | undefined {
  if (!file || !existsSync(file)) return undefined;
  const i = readFileSync(file, 'utf8').split(/\r?\n/).findIndex((l) => l.trim() === label);
  return i >= 0 ? i + 1 : undefined;
}

/**
 * Class names in id order: classify.classes when set, else the sorted distinct train labels.
 * Every label of every given split must be one of them (a DataError names the file and line).
 */
export function classNames(c: SpeechConfig, train: SpeechDataset, ...others: SpeechDataset[]): string[] {
  const set = c.classify.classes;
  const classes = set.length ? [...set] : [...new Set(labelsOf(train))].sort();
  if (new Set(classes).size !== classes.length) throw new ConfigError(`classify.classes lists a class twice: ${classes.join(', ')}`, 'classify.classes');
  if (classes.length < 2) throw new DataError(train.labelFile ?? train.source, `${classes.length} class (${classes.join('') || 'none'}): classification needs at least two`);
  const known = new Set(classes);
  for (const ds of set.length ? [train, ...others] : others) {
    const unknown = labelsOf(ds).find((l) => !known.has(l));
    if (unknown === undefined) continue;
    const line = lineOf(ds.labelFile, unknown);
    const hint = suggestKey(unknown, classes);
    const where = set.length ? 'classify.classes' : `the training labels (${train.labelFile ?? train.source})`;
    throw new DataError(
      ds.labelFile ?? ds.source,
      `${line ? `line ${line}: ` : ''}class '${unknown}' is not among ${where}${hint ? ` (did you mean '${hint}'?)` : ''}; classes: ${classes.slice(0, 12).join(', ')}${classes.length > 12 ? `, ... (${classes.length})` : ''}`,
    );
  }
  return classes;
}

function idsOf(labels: readonly string[], classes: readonly string[]): Int32Array {
  const index = new Map(classes.map((k, i) => [k, i]));
  return Int32Array.from(labels, (l) => index.get(l)!);
}

/** Predicted class ids of every utterance of `ds`, in dataset order (eval mode, length-sorted batches). */
export function classifyDataset(encoder: SpeechEncoder, transformer: DownstreamContext['transformer'], head: UtteranceClassifierHead, ds: SpeechDataset, batchSize: number): Int32Array {
  const source = new SpeechDataSource(ds, { seed: 0, shuffle: false, pad: true });
  const preds = new Int32Array(ds.length);
  for (const idx of sortedBatches(ds.sizes, batchSize)) {
    const batch = source.collate(idx);
    try {
      const p = tf.tidy(() => tf.argMax(classifyLogits(encoder, transformer, head, batch, { training: false }), 1));
      const values = p.dataSync();
      idx.forEach((i, k) => (preds[i] = values[k]!));
      p.dispose();
    } finally {
      batch.dispose();
    }
  }
  return preds;
}

/** Accuracy, macro F1 and per-class F1 on `test`, with the confusion matrix drawn to `<out>/confusion.png`. */
async function testMetrics(ctx: SpeechContext, head: UtteranceClassifierHead, test: SpeechDataset, classes: string[]): Promise<Record<string, number>> {
  const c = ctx.config;
  const preds = classifyDataset(ctx.encoder, ctx.transformer, head, test, c.finetune.evalBatchSize);
  const m = classificationMetrics(preds, idsOf(labelsOf(test), classes), classes.length);
  const plot = join(c.out, 'confusion.png');
  await confusionMatrixPng(plot, { title: `${c.classify.labels} ID: ${test.length} test utterances, accuracy ${(100 * m.accuracy).toFixed(1)}%`, classes, matrix: m.confusion });
  ctx.log(`d2v: test accuracy ${(100 * m.accuracy).toFixed(2)}%, macro F1 ${m.macroF1.toFixed(4)} on ${test.length} utterances, ${classes.length} classes; confusion matrix: ${plot}`);
  return { accuracy: m.accuracy, macroF1: m.macroF1, testUtterances: test.length, classes: classes.length };
}

/** Parameter prefix of the utterance classifier in a fine-tuned checkpoint. */
export const CLASSIFY_HEAD = 'classifier';

/** A batch of utterances with their class ids (`classes`), for the fine-tuning loss. */
interface LabelledSpeechBatch extends SpeechBatch {
  classIds: tf.Tensor1D;
}

export async function createClassifyTask(ctx: SpeechContext): Promise<DownstreamTask> {
  const c = ctx.config;
  const ft = c.finetune;
  const cl = c.classify;
  const from = classifySource(c);
  const all = loadSpeechSplit(c, 'train', from);
  const train = labelledSubset(all, ft.labelledUtterances, c.seed);
  const test = loadSpeechSplit(c, 'test', from);
  const classes = classNames(c, all, test);
  // The run's config.json (and its checkpoints) record the class names in id order, as HF's id2label.
  cl.classes = classes;
  const head = new UtteranceClassifierHead(c.model.dim, cl.projDim, classes.length, c.seed + 31);
  const encoder = ctx.encoder;
  if (ft.freezeFeatureEncoder) encoder.extractor.setTrainable(false);
  const bs = c.train.batchSize;
  // A class can go with a length (a voice's speaking rate): an exact length sort would give every
  // epoch the same class-skewed batches, so batches are drawn at random within length buckets.
  const source = new SpeechDataSource(train, { seed: c.seed, shuffle: true, pad: true, buckets: Math.max(1, Math.floor(train.length / (8 * bs))) });
  const ids = idsOf(labelsOf(train), classes);
  const labelled = (index: number, batchSize: number, rng: Rng): LabelledSpeechBatch => {
    const rows = source.indices(index, batchSize);
    const batch = source.collate(rows, rng);
    const classIds = tf.tensor1d(Int32Array.from(rows, (i) => ids[i]!), 'int32');
    return {
      ...batch,
      classIds,
      dispose() {
        classIds.dispose();
        batch.dispose();
      },
    };
  };
  ctx.log(`d2v: ${cl.labels} classification (${classes.length} classes) on ${train.length} labelled utterances (${train.source}), testing on ${test.length} (${test.source})`);
  return createDownstreamTask({
    ctx,
    head: { name: CLASSIFY_HEAD, module: head, label: 'utterance classifier head' },
    data: { batch: labelled },
    loss: (batch, rng) => crossEntropy(classifyLogits(encoder, ctx.transformer, head, batch, finetuneForward(c.masking, rng)), batch.classIds),
    metrics: () => testMetrics(ctx, head, test, classes),
    unit: 'utt',
    describe: () => `utterance classifier (${cl.labels}, ${classes.length} classes): mean over frames of a ${cl.projDim}-wide projection of ${c.model.depth} x ${c.model.dim} post-LN blocks; ${train.length} labelled utterances`,
  });
}

/** `d2v eval --task classify`: test metrics of a checkpoint fine-tuned with `finetune.task classify`. */
export async function evaluateClassify(ctx: SpeechContext): Promise<Record<string, number>> {
  const c = ctx.config;
  const saved = weightsUnder(ctx.weights, `${CLASSIFY_HEAD}.`);
  if (!saved) {
    throw new ConfigError('the checkpoint has no utterance classifier (classifier.*): pass a run fine-tuned with --finetune.task classify (for a pretrained encoder use --task probe)', 'finetune.init');
  }
  const from = classifySource(c);
  const test = loadSpeechSplit(c, 'test', from);
  const classes = classNames(c, loadSpeechSplit(c, 'train', from), test);
  const head = new UtteranceClassifierHead(c.model.dim, c.classify.projDim, classes.length, c.seed + 31);
  try {
    head.loadState(saved, `utterance classifier head (${classes.length} classes from ${from.path})`);
    ctx.encoder.setTraining(false);
    ctx.transformer.setTraining(false);
    return await testMetrics(ctx, head, test, classes);
  } finally {
    head.dispose();
  }
}

/** Frozen features of every utterance of `ds` and their class ids. */
function extractFeatures(ctx: SpeechContext, ds: SpeechDataset, classes: string[], batchSize: number, topBlocks: number): ProbeData {
  const dim = ctx.config.model.dim;
  const features = new Float32Array(ds.length * dim);
  const source = new SpeechDataSource(ds, { seed: 0, shuffle: false, pad: true });
  for (const idx of sortedBatches(ds.sizes, batchSize)) {
    const batch = source.collate(idx);
    try {
      const f = utteranceFeatures(ctx.encoder, ctx.transformer, batch, topBlocks);
      const values = f.dataSync();
      idx.forEach((i, k) => features.set(values.subarray(k * dim, (k + 1) * dim), i * dim));
      f.dispose();
    } finally {
      batch.dispose();
    }
  }
  return { features, labels: idsOf(labelsOf(ds), classes) };
}

/** `d2v eval --task probe`: logistic regression on frozen mean-pooled features (probe.topBlocks) of the classify.path utterances. */
export async function probeEvaluation(ctx: SpeechContext): Promise<Record<string, number>> {
  const c = ctx.config;
  const p = c.probe;
  const from = classifySource(c);
  const trainDs = loadSpeechSplit(c, 'train', from);
  const testDs = loadSpeechSplit(c, 'test', from);
  const classes = classNames(c, trainDs, testDs);
  ctx.encoder.setTraining(false);
  ctx.transformer.setTraining(false);
  const bs = c.finetune.evalBatchSize;
  const train = extractFeatures(ctx, trainDs, classes, bs, p.topBlocks);
  const test = extractFeatures(ctx, testDs, classes, bs, p.topBlocks);
  const r = trainLinearProbe(train, test, { dim: c.model.dim, classes: classes.length, epochs: p.epochs, lr: p.lr, batchSize: 64, weightDecay: p.weightDecay, seed: c.seed });
  const blocks = p.topBlocks === 1 ? 'the last block' : p.topBlocks <= 0 ? 'the average of every block' : `the average of the last ${p.topBlocks} blocks`;
  ctx.log(`d2v: linear probe on ${blocks} (${classes.length} ${from.labels} classes) on ${trainDs.length} train / ${testDs.length} test utterances: test accuracy ${(100 * r.testAccuracy).toFixed(2)}%`);
  return { accuracy: r.testAccuracy, trainAccuracy: r.trainAccuracy, trainUtterances: trainDs.length, testUtterances: testDs.length, classes: classes.length };
}
