/**
 * The one place where gradients become a weight change: every loop that applies updates (the
 * Trainer, the step profiler) calls applyGuardedUpdate. It computes the global gradient norm once,
 * for clipping and for the non-finite guard: an update whose loss or gradient norm is NaN or
 * Infinity is not applied at all (weights and optimiser moments stay as they were), and after an
 * applied update the parameters are checked, so NaN/Infinity never reaches the weights unnoticed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { clipScale, globalNorm, type AdamW } from '../optim/adamw.js';

export interface UpdateOutcome {
  /** Global L2 norm of the gradients before clipping. */
  gradNorm: number;
  /** False when the loss or the gradient norm was not finite: nothing was changed. */
  applied: boolean;
  /** The first parameter that holds NaN/Infinity after an applied update (the run must stop), if any. */
  nonFiniteParam?: string;
}

/**
 * Clips `grads` (aligned with `optimizer.variables`) to global norm `clipNorm` (0 = off) and
 * applies them at learning rate `lr`, unless `loss` or the gradient norm is NaN/Infinity.
 * The caller still owns `grads`.
 */
export function applyGuardedUpdate(optimizer: AdamW, grads: tf.Tensor[], lr: number, clipNorm: number, loss = 0): UpdateOutcome {
  const gradNorm = globalNorm(grads);
  if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) return { gradNorm, applied: false };
  const scale = clipScale(gradNorm, clipNorm);
  if (scale === 1) optimizer.apply(grads, lr);
  else {
    const clipped = grads.map((g) => tf.mul(g, scale));
    optimizer.apply(clipped, lr);
    tf.dispose(clipped);
  }
  const bad = firstNonFinite(optimizer.variables);
  return { gradNorm, applied: true, nonFiniteParam: bad === undefined ? undefined : optimizer.names[bad] };
}

/** Index of the first tensor holding NaN or Infinity, or undefined when all are finite (one pass over all of them). */
export function firstNonFinite(tensors: readonly tf.Tensor[]): number | undefined {
  if (tensors.length === 0) return undefined;
  // NaN and Infinity propagate through a sum; a sum of finite float32 weights overflowing (> 3e38) would be a divergence too.
  const sums = tf.tidy(() => tf.stack(tensors.map((t) => tf.sum(t))).dataSync());
  const i = sums.findIndex((x) => !Number.isFinite(x));
  return i < 0 ? undefined : i;
}
