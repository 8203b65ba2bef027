/**
 * The one micro-step: prepare -> tf.variableGrads(loss) -> release for micro-batch `index`. The
 * Trainer, the gradient worker threads and the step profiler all call it, so a micro-batch is
 * computed the same way wherever it runs (same stepRng(seed, index): same data, masks, dropout).
 */
import * as tf from '@tensorflow/tfjs-core';
import { stepRng } from './stepRng.js';
import type { TrainTask } from './task.js';

export interface MicroStepResult {
  loss: number;
  /** Every metric the task's loss() returned, by name. */
  metrics: Record<string, number>;
  /** Gradients aligned with the variables given (the caller disposes them). */
  grads: tf.Tensor[];
}

export function microStep(task: TrainTask<any>, variables: tf.Variable[], seed: number, index: number): MicroStepResult {
  const rng = stepRng(seed, index);
  const prepared = task.prepare?.(index, rng);
  let kept: Record<string, tf.Scalar> = {};
  try {
    const { value, grads } = tf.variableGrads(() => {
      const r = task.loss(index, rng, prepared);
      kept = r.metrics ?? {};
      for (const m of Object.values(kept)) tf.keep(m);
      return r.loss;
    }, variables);
    const loss = value.dataSync()[0]!;
    value.dispose();
    const metrics: Record<string, number> = {};
    for (const [name, t] of Object.entries(kept)) metrics[name] = t.dataSync()[0]!;
    // A variable the loss did not reach this step (e.g. a block skipped by layer drop) gets a zero gradient.
    return { loss, metrics, grads: variables.map((v) => grads[v.name] ?? tf.zerosLike(v)) };
  } finally {
    tf.dispose(Object.values(kept));
    if (prepared !== undefined) task.release?.(prepared);
  }
}
