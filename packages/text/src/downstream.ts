/**
 * Downstream use of a (pre-trained) text encoder: fine-tuning a RoBERTa
 * classification head on a `label<TAB>text` file, evaluating a fine-tuned
 * checkpoint, and a linear probe on frozen sentence features.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ModuleGroup, createDownstreamTask, trainLinearProbe, weightsUnder, type DownstreamContext, type DownstreamTask, type FeatureEncoder, type ProbeData } from '@d2v/core';
import { CLASSIFIER, ClassificationHead, classificationMetrics, crossEntropy, sentenceFeatures, type ClassificationMetrics, type SentencePooling } from './classifier.js';
import { LabelledTextSource, balancedSubset, labelledBatch, type LabelledSequences, type TextBatch } from './batch.js';
import { loadLabelled, loadTokenizer } from './resources.js';
import type { TextConfig } from './schema.js';
import { PAD_ID } from './tokenizer/sentencepiece.js';

const EVAL_BATCH = 64;

/** Runs `fn` over `data` in batches of similar length (less padding), returning one row per example in the original order. */
function forEachBatch(data: LabelledSequences, fn: (rows: number[]) => void): void {
  const order = [...data.sequences.keys()].sort((a, b) => data.sequences[a]!.length - data.sequences[b]!.length);
  for (let s = 0; s < order.length; s += EVAL_BATCH) fn(order.slice(s, s + EVAL_BATCH));
}

/** Frozen sentence features of every example (eval mode, no dropout). */
export function extractSentenceFeatures(ctx: DownstreamContext, data: LabelledSequences, pool: SentencePooling, block = -1): ProbeData {
  const dim = ctx.config.model.dim;
  const features = new Float32Array(data.labels.length * dim);
  ctx.encoder.setTraining(false);
  ctx.transformer.setTraining(false);
  forEachBatch(data, (rows) => {
    const batch = labelledBatch(data, rows, PAD_ID);
    const f = sentenceFeatures(ctx.encoder, ctx.transformer, batch, pool, undefined, block);
    const values = f.dataSync();
    rows.forEach((row, i) => features.set(values.subarray(i * dim, (i + 1) * dim), row * dim));
    f.dispose();
    batch.dispose();
  });
  return { features, labels: Int32Array.from(data.labels) };
}

/** Test-split predictions of encoder + Transformer + head, and their metrics. */
export function evaluateClassifier(ctx: DownstreamContext, head: ClassificationHead, test: LabelledSequences, pool: SentencePooling = 'bos'): ClassificationMetrics & { testExamples: number } {
  const model = new ModuleGroup({ encoder: ctx.encoder, transformer: ctx.transformer, [CLASSIFIER]: head });
  model.setTraining(false);
  const preds = new Int32Array(test.labels.length);
  forEachBatch(test, (rows) => {
    const batch = labelledBatch(test, rows, PAD_ID);
    const p = tf.tidy(() => tf.argMax(head.apply(sentenceFeatures(ctx.encoder, ctx.transformer, batch, pool)), 1));
    const values = p.dataSync();
    rows.forEach((row, i) => (preds[row] = values[i]!));
    p.dispose();
    batch.dispose();
  });
  model.setTraining(true);
  return { ...classificationMetrics(preds, test.labels, test.labelNames.length), testExamples: test.labels.length };
}

/** What text's evaluations and fine-tuning get: the text config and an encoder of text batches. */
export type TextContext = DownstreamContext<TextConfig, FeatureEncoder<TextBatch>>;

/** Blank, malformed (skipped) and invalid-UTF-8 lines of the two TSV files, for the log. */
function tsvOddLines(...splits: LabelledSequences[]): string {
  const sum = (k: 'emptyLines' | 'malformed' | 'invalidUtf8') => splits.reduce((n, s) => n + (s.read?.[k] ?? 0), 0);
  const parts = [
    sum('invalidUtf8') && `${sum('invalidUtf8')} lines with invalid UTF-8 (bad bytes replaced)`,
    sum('malformed') && `${sum('malformed')} malformed lines skipped`,
    sum('emptyLines') && `${sum('emptyLines')} blank lines skipped`,
  ].filter(Boolean);
  return parts.length ? `; ${parts.join(', ')}` : '';
}

function summary(m: ClassificationMetrics & { testExamples: number }): Record<string, number> {
  const out: Record<string, number> = { accuracy: m.accuracy, macroF1: m.macroF1, testExamples: m.testExamples };
  m.f1.forEach((v, k) => (out[`f1_${k}`] = v));
  return out;
}

export async function createFinetuneTask(ctx: TextContext): Promise<DownstreamTask> {
  const c = ctx.config;
  const f = c.finetune;
  const tokenizer = await loadTokenizer(c);
  const all = await loadLabelled(c, 'train');
  const train = balancedSubset(all, f.labels, c.seed);
  const test = await loadLabelled(c, 'test');
  const classes = train.labelNames.length;
  const head = new ClassificationHead(c.model.dim, classes, f.headDropout, c.seed + 17);
  const source = new LabelledTextSource(train, tokenizer.padId, c.seed);
  ctx.log(
    `d2v: fine-tuning on ${source.describe()}${train.labels.length < all.labels.length ? ` (balanced subset of ${all.labels.length})` : ''}; ` +
      `testing on ${test.labels.length} from ${test.source}; ${all.truncated + test.truncated} texts cut to finetune.maxTokens ${f.maxTokens}${tsvOddLines(all, test)}`,
  );
  return createDownstreamTask({
    ctx,
    head: { name: CLASSIFIER, module: head, label: 'classifier head' },
    data: source,
    loss: (batch, rng) => crossEntropy(head.apply(sentenceFeatures(ctx.encoder, ctx.transformer, batch, f.pool, rng), rng), batch.labels!),
    metrics: () => summary(evaluateClassifier(ctx, head, test, f.pool)),
    unit: 'texts',
    describe: () => `text classifier: ${c.model.depth} x ${c.model.dim} encoder, RoBERTa head on ${f.pool === 'bos' ? '<s>' : 'the mean over tokens'}, ${classes} classes (${train.labelNames.join(', ')})`,
  });
}

/** `d2v eval --task classify`: test metrics of a fine-tuned checkpoint (--init runs/text/finetune). */
export async function classifyEvaluation(ctx: TextContext): Promise<Record<string, number>> {
  const c = ctx.config;
  const saved = weightsUnder(ctx.weights, `${CLASSIFIER}.`);
  if (!saved) {
    throw new ConfigError('eval --task classify needs a fine-tuned checkpoint with a classifier head (--init runs/text/finetune); for a pre-trained encoder use --task probe', 'finetune.init');
  }
  const test = await loadLabelled(c, 'test');
  const head = new ClassificationHead(c.model.dim, test.labelNames.length, 0, c.seed + 17);
  try {
    head.loadState(saved, 'classifier head');
    const m = evaluateClassifier(ctx, head, test, c.finetune.pool);
    ctx.log(`d2v: test accuracy ${(100 * m.accuracy).toFixed(2)}%, macro F1 ${m.macroF1.toFixed(4)} on ${m.testExamples} texts from ${test.source}`);
    return summary(m);
  } finally {
    head.dispose();
  }
}

/** `d2v eval --task probe`: logistic regression on frozen sentence features (probe.labels training texts). */
export async function probeEvaluation(ctx: TextContext): Promise<Record<string, number>> {
  const c = ctx.config;
  const p = c.probe;
  const train = balancedSubset(await loadLabelled(c, 'train'), p.labels, c.seed);
  const test = await loadLabelled(c, 'test');
  const r = trainLinearProbe(extractSentenceFeatures(ctx, train, p.pool, p.block), extractSentenceFeatures(ctx, test, p.pool, p.block), {
    dim: c.model.dim,
    classes: train.labelNames.length,
    epochs: p.epochs,
    lr: p.lr,
    batchSize: 64,
    weightDecay: p.weightDecay,
    seed: c.seed,
  });
  ctx.log(`d2v: linear probe (${p.pool} pooling, ${p.block === -1 ? 'last block' : p.block === 0 ? 'embeddings' : `block ${p.block}`}) on ${train.labels.length} texts: test accuracy ${(100 * r.testAccuracy).toFixed(2)}%`);
  return { accuracy: r.testAccuracy, trainAccuracy: r.trainAccuracy, trainExamples: train.labels.length, testExamples: test.labels.length };
}
