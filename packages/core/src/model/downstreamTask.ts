/**
 * The fine-tuning task every downstream head shares. A modality declares its head, the loss of a
 * training batch and the held-out metrics; this builds the TrainTask around them: encoder +
 * Transformer + head trained together (whatever is trainable), checkpointed as one `student`
 * group with the head's parameters under `<head name>.*`, the head restored from a fine-tuned
 * checkpoint when `ctx.weights` holds it, the metrics computed in eval mode.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { ModuleGroup, weightsUnder, type Module, type ParamInfo } from '../nn/module.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { Rng } from '../util/rng.js';
import type { SkippedFile } from '../report/skipped.js';
import type { Batch, DataSource, DownstreamContext, DownstreamTask, FeatureEncoder } from '../registry/modality.js';

export interface DownstreamTaskSpec<B extends Batch, C extends ResolvedConfig, E extends FeatureEncoder<any>> {
  ctx: DownstreamContext<C, E>;
  /**
   * The head and its name in a checkpoint (its parameters are `<name>.*`, next to `encoder.*` and
   * `transformer.*`; an inference head's `weightsPrefix` is `<name>.`). `label` names it in errors.
   */
  head: { name: string; module: Module; label: string };
  /** Training batches: `batch(index, config.train.batchSize, rng)` for micro-batch `index`. */
  data: Pick<DataSource<B>, 'batch'>;
  /** The loss of a training batch (on the gradient tape; the batch is disposed afterwards). */
  loss(batch: B, rng: Rng): tf.Scalar;
  /** Metrics on the held-out split (the model is in eval mode meanwhile). */
  metrics(): Promise<Record<string, number>> | Record<string, number>;
  /** Throughput unit of a sample, e.g. 'img'. */
  unit: string;
  /** The model, logged once. */
  describe(): string;
  /** Input files the data loaders left out as unreadable. */
  skippedFiles?(): readonly SkippedFile[];
}

/** A fine-tuning task, and whether its head started from a fine-tuned checkpoint's weights. */
export interface HeadTask extends DownstreamTask {
  readonly restoredHead: boolean;
}

export function createDownstreamTask<B extends Batch, C extends ResolvedConfig, E extends FeatureEncoder<any>>(spec: DownstreamTaskSpec<B, C, E>): HeadTask {
  const { ctx, head } = spec;
  // A fine-tuned checkpoint carries its head (a pretraining one has only the regression head or decoder).
  const saved = weightsUnder(ctx.weights, `${head.name}.`);
  if (saved) head.module.loadState(saved, head.label);
  const model = new ModuleGroup({ encoder: ctx.encoder, transformer: ctx.transformer, [head.name]: head.module });
  model.setTraining(true);
  const batchSize = ctx.config.train.batchSize;
  return {
    restoredHead: saved !== undefined,
    trainableParams: (): [string, ParamInfo][] => model.namedParams().filter(([, p]) => p.variable.trainable),
    loss(index, rng) {
      const batch = spec.data.batch(index, batchSize, rng);
      try {
        return { loss: spec.loss(batch, rng) };
      } finally {
        batch.dispose();
      }
    },
    itemsPerMicroBatch: () => ({ count: batchSize, unit: spec.unit }),
    checkpointGroups: () => ({ student: model.state() }),
    restore: (groups, file) => model.loadState(groups['student'] ?? {}, file),
    skippedFiles: () => spec.skippedFiles?.() ?? [],
    describe: () => spec.describe(),
    dispose: () => head.module.dispose(),
    async evaluate() {
      model.setTraining(false);
      try {
        return await spec.metrics();
      } finally {
        model.setTraining(true);
      }
    },
  };
}
