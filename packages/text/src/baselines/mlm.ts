/**
 * A masked-language-model (BERT/RoBERTa) pretraining task on the same student as data2vec text:
 * same encoder, Transformer, BERT masking, batches and loss positions; the objective predicts the
 * original token ids (softmax over the vocabulary through the tied embeddings) instead of the EMA
 * teacher's top-K block average. A control for data2vec experiments (bench/mlm-baseline.ts): it
 * tells whether a budget is too small for any masked pretraining, or for data2vec's
 * self-distillation in particular (whose targets start as a random network's outputs).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  Module,
  ModuleGroup,
  Linear,
  LayerNorm,
  Rng,
  buildStudent,
  gatherRows,
  gelu,
  type TrainTask,
  type LossResult,
  type ParamInfo,
  type Modality,
  type DataSource,
  type MaskingStrategy,
  type MaskResult,
  type Transformer,
  type TaskFactory,
} from '@d2v/core';
import type { TokenEncoder } from '../encoder.js';
import { modality as text } from '../modality.js';
import type { TextBatch } from '../batch.js';
import type { TextConfig, schema } from '../schema.js';
import { crossEntropy } from '../classifier.js';

/** RoBERTa's LM head: dense, GELU, layer norm, then the tied token embeddings plus a bias. */
class TiedLmHead extends Module {
  readonly dense: Linear;
  readonly norm: LayerNorm;
  readonly bias: tf.Variable;
  constructor(dim: number, vocab: number, seed: number) {
    super();
    this.dense = this.child('dense', new Linear(dim, dim, seed));
    this.norm = this.child('layer_norm', new LayerNorm(dim));
    this.bias = this.param('bias', () => tf.zeros([vocab]), { decay: false });
  }
  logits(h: tf.Tensor2D, embeddings: tf.Variable): tf.Tensor2D {
    const x = this.norm.apply(gelu(this.dense.apply(h)));
    return tf.add(tf.matMul(x as tf.Tensor2D, embeddings as tf.Tensor2D, false, true), this.bias) as tf.Tensor2D;
  }
}

interface Prepared {
  batch: TextBatch;
  mask: MaskResult<TextBatch>;
  lossIndices: tf.Tensor1D;
  /** Original token ids at the loss positions, [M]. */
  labels: tf.Tensor1D;
}

export class MlmPretrainTask implements TrainTask<Prepared> {
  readonly encoder: TokenEncoder;
  readonly transformer: Transformer;
  readonly head: TiedLmHead;
  private readonly student: ModuleGroup;

  constructor(
    readonly modality: Modality<TextBatch, typeof schema, TokenEncoder>,
    readonly config: TextConfig,
    readonly data: DataSource<TextBatch>,
    readonly masker: MaskingStrategy<TextBatch>,
  ) {
    const parts = buildStudent(modality, config);
    this.encoder = parts.encoder;
    this.transformer = parts.transformer;
    this.head = new TiedLmHead(config.model.dim, this.encoder.cfg.vocabSize, new Rng(config.seed + 1).seed());
    // Same checkpoint layout as data2vec (student.encoder.*, student.transformer.*): finetune.init loads either.
    this.student = new ModuleGroup({ encoder: this.encoder, transformer: this.transformer, head: this.head });
  }

  trainableParams(): [string, ParamInfo][] {
    return this.student.namedParams().filter(([, p]) => p.variable.trainable);
  }
  itemsPerMicroBatch() {
    return { count: this.config.train.batchSize, unit: 'samples' };
  }
  describe(): string {
    const m = this.config.model;
    return `MLM text baseline: ${m.depth} blocks x ${m.dim} wide, ${(this.student.numParams() / 1e6).toFixed(2)}M params (tied LM head); data: ${this.data.describe()}`;
  }

  /** Same rng forks as Data2VecPretrainTask.prepare: the same batches and masks as a data2vec run. */
  prepare(index: number, rng: Rng): Prepared {
    const batch = this.data.batch(index, this.config.train.batchSize, rng.fork());
    const mask = this.masker.mask(batch, rng.fork());
    const labels = tf.tensor1d(Int32Array.from(mask.lossIndices, (i) => batch.ids[i]!), 'int32');
    return { batch, mask, lossIndices: tf.tensor1d(mask.lossIndices, 'int32'), labels };
  }

  loss(_index: number, rng: Rng, p: Prepared): LossResult {
    const ctx = { training: true, rng };
    const e = this.encoder.embed(this.encoder.features(p.mask.studentBatch ?? p.batch, ctx), ctx);
    const out = this.transformer.forward(e.x, { paddingMask: e.paddingMask, rng, collect: false });
    const logits = this.head.logits(gatherRows(out.output, p.lossIndices), this.encoder.tokens);
    // Masked-token accuracy: is the model learning the vocabulary at all.
    const acc = tf.mean(tf.cast(tf.equal(tf.argMax(logits, -1), p.labels), 'float32')) as tf.Scalar;
    return { loss: crossEntropy(logits, p.labels), metrics: { mlm_acc: acc } };
  }

  release(p: Prepared): void {
    p.batch.dispose();
    p.mask.studentBatch?.dispose();
    p.lossIndices.dispose();
    p.labels.dispose();
  }
  checkpointGroups(): Record<string, Record<string, tf.Tensor>> {
    return { student: this.student.state() };
  }
  restore(groups: Record<string, Record<string, tf.Tensor>>, file: string): void {
    this.student.loadState(groups['student'] ?? {}, `${file} (student)`);
  }
  dispose(): void {
    this.student.dispose();
  }
}

/** The MLM task of a text config, on the data and masks a data2vec run of that config would use. */
export async function createMlmTask(ctx: { config: TextConfig }): Promise<MlmPretrainTask> {
  // A worker passes its ReplicaContext: the resolved config of this text run.
  return new MlmPretrainTask(text, ctx.config, await text.createData(ctx.config, 'train'), text.createMasker(ctx.config));
}

/** How gradient worker threads build their replica of the MLM task (`trainTask(task, { replica: MLM_REPLICA })`, train.workers > 0). */
export const MLM_REPLICA: TaskFactory = { module: import.meta.url, export: 'createMlmTask' };
