/**
 * AdamW (decoupled weight decay) with per-parameter decay masks, global-norm
 * clipping and serialisable state. tfjs ships Adam but not AdamW, and its
 * optimisers cannot exclude biases/norms from decay.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ParamInfo } from '../nn/module.js';
import { CheckpointError } from '../errors.js';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

interface Slot {
  name: string;
  param: ParamInfo;
  m: tf.Variable;
  v: tf.Variable;
}

export class AdamW {
  private readonly slots: Slot[] = [];
  /** Number of updates applied (bias correction uses it). */
  t = 0;

  constructor(
    params: [string, ParamInfo][],
    readonly cfg: AdamWConfig,
  ) {
    for (const [name, param] of params) {
      if (!param.variable.trainable) continue;
      this.slots.push({
        name,
        param,
        m: tf.variable(tf.zerosLike(param.variable), false),
        v: tf.variable(tf.zerosLike(param.variable), false),
      });
    }
  }

  get variables(): tf.Variable[] {
    return this.slots.map((s) => s.param.variable);
  }

  /** Parameter names (e.g. `transformer.blocks.0.attn.qkv.weight`), aligned with `variables`. */
  get names(): string[] {
    return this.slots.map((s) => s.name);
  }

  /** Applies one update. `grads` aligned with `variables`; grads are not disposed. */
  apply(grads: tf.Tensor[], lr: number): void {
    this.t += 1;
    const { beta1, beta2, eps, weightDecay } = this.cfg;
    const bc1 = 1 - beta1 ** this.t;
    const bc2 = 1 - beta2 ** this.t;
    tf.tidy(() => {
      this.slots.forEach((s, i) => {
        const g = grads[i]!;
        const w = s.param.variable;
        const m = tf.add(tf.mul(s.m, beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(s.v, beta2), tf.mul(tf.square(g), 1 - beta2));
        s.m.assign(m);
        s.v.assign(v);
        const step = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), eps));
        const plr = lr * (s.param.lrScale ?? 1);
        let next = tf.sub(w, tf.mul(step, plr));
        if (weightDecay > 0 && s.param.decay) next = tf.sub(next, tf.mul(w, plr * weightDecay));
        w.assign(next);
      });
    });
  }

  /** Moment tensors by name (`m.<param>`, `v.<param>`), for checkpoints. */
  state(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const s of this.slots) {
      out[`m.${s.name}`] = s.m;
      out[`v.${s.name}`] = s.v;
    }
    return out;
  }

  loadState(state: Record<string, tf.Tensor>, t: number, file = 'optimizer state'): void {
    for (const s of this.slots) {
      const m = state[`m.${s.name}`];
      const v = state[`v.${s.name}`];
      if (!m || !v) throw new CheckpointError(file, `optimizer state has no moments for parameter ${s.name}`);
      if (!tf.util.arraysEqual(m.shape, s.m.shape)) {
        throw new CheckpointError(file, `optimizer moment for ${s.name} has shape [${m.shape}], expected [${s.m.shape}]`);
      }
      s.m.assign(m);
      s.v.assign(v);
    }
    this.t = t;
  }

  dispose(): void {
    for (const s of this.slots) {
      s.m.dispose();
      s.v.dispose();
    }
  }
}

/** Global L2 norm of a gradient list. */
export function globalNorm(grads: tf.Tensor[]): number {
  return tf.tidy(() => Math.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g)))).dataSync()[0]!));
}

/** The factor that brings gradients of global norm `norm` down to `maxNorm` (1 when within it, when clipping is off, or for a non-finite norm). */
export function clipScale(norm: number, maxNorm: number): number {
  return !(maxNorm > 0) || norm <= maxNorm || !Number.isFinite(norm) ? 1 : maxNorm / (norm + 1e-6);
}

/** Scales grads so their global norm is at most maxNorm; returns new tensors (caller disposes) and the norm before clipping. */
export function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number): { grads: tf.Tensor[]; norm: number } {
  const norm = globalNorm(grads);
  const s = clipScale(norm, maxNorm);
  return { grads: grads.map((g) => (s === 1 ? tf.clone(g) : tf.mul(g, s))), norm };
}
