/**
 * Collapse guard. Representation collapse (the student and teacher agreeing on
 * a constant) shows as falling variance across time-steps; fairseq stops such
 * runs after warm-up. Like fairseq, "variance" here is the mean over channels of
 * the standard deviation across rows.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CollapseError } from '../errors.js';

export interface CollapseGuardOptions {
  minTargetVar: number;
  minPredVar: number;
  /** Checks start after this many updates. */
  afterSteps: number;
}

/** Mean over channels of the std over rows of a [M, C] tensor. */
export function channelStd(x: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const { variance } = tf.moments(x, 0);
    const m = x.shape[0];
    const unbiased = m > 1 ? tf.mul(variance, m / (m - 1)) : variance;
    return tf.mean(tf.sqrt(tf.add(unbiased, 1e-6))) as tf.Scalar;
  });
}

export function checkCollapse(step: number, targetVar: number, predVar: number, opts: CollapseGuardOptions): void {
  if (step < opts.afterSteps) return;
  const problems: string[] = [];
  if (targetVar < opts.minTargetVar) problems.push(`target variance ${targetVar.toFixed(4)} < ${opts.minTargetVar} (objective.minTargetVar)`);
  if (predVar < opts.minPredVar) problems.push(`prediction variance ${predVar.toFixed(4)} < ${opts.minPredVar} (objective.minPredVar)`);
  if (problems.length) {
    throw new CollapseError(
      step,
      `representation collapse at step ${step}: ${problems.join('; ')}. ` +
        `Lower the learning rate, lengthen warm-up or raise the EMA decay; thresholds are configurable.`,
    );
  }
}
