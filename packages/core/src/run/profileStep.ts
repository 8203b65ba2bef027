/**
 * Kernel-by-kernel profile of one pretraining update (teacher targets, student forward and
 * backward, AdamW, EMA) on the active backend, single-threaded: where the step's time goes.
 * Used by `bench/profile.ts`; not a test.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareRun, buildPretrainTask } from './commands.js';
import { AdamW } from '../optim/adamw.js';
import { microStep } from '../train/microStep.js';
import { applyGuardedUpdate } from '../train/update.js';
import type { AnyModality } from '../registry/modality.js';

export interface KernelShare {
  kernel: string;
  calls: number;
  ms: number;
  share: number;
}

export interface StepProfile {
  modality: string;
  backend: string;
  samples: number;
  /** Wall time of the profiled update (profiling adds a little overhead per kernel). */
  wallMs: number;
  /** Sum of the kernels' own times. */
  kernelMs: number;
  kernels: KernelShare[];
}

export interface StepProfileOptions {
  modality: string | AnyModality;
  preset?: string;
  overrides?: Record<string, unknown>;
  /** Unprofiled updates first (kernel compilation, allocator warm-up). */
  warmup?: number;
}

export async function profilePretrainStep(o: StepProfileOptions): Promise<StepProfile> {
  const out = mkdtempSync(join(tmpdir(), 'd2v-profile-'));
  try {
    const { modality, config } = await prepareRun({ modality: o.modality, preset: o.preset, overrides: { ...o.overrides, out } });
    const task = await buildPretrainTask(modality, config, () => {});
    const params = task.trainableParams();
    const optimizer = new AdamW(params, { beta1: config.optim.beta1, beta2: config.optim.beta2, eps: config.optim.eps, weightDecay: config.optim.weightDecay });
    const variables = optimizer.variables;
    const update = (index: number) => {
      const { loss, grads } = microStep(task, variables, config.seed, index);
      try {
        applyGuardedUpdate(optimizer, grads, 1e-4, config.optim.clipNorm, loss);
      } finally {
        tf.dispose(grads);
      }
      task.afterUpdate(index);
    };
    for (let i = 0; i < (o.warmup ?? 2); i++) update(i);
    const t0 = performance.now();
    const info = await tf.profile(() => update(1000));
    const wallMs = performance.now() - t0;
    const byName = new Map<string, { calls: number; ms: number }>();
    for (const k of info.kernels) {
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      const e = byName.get(k.name) ?? { calls: 0, ms: 0 };
      e.calls++;
      e.ms += ms;
      byName.set(k.name, e);
    }
    const kernelMs = [...byName.values()].reduce((s, e) => s + e.ms, 0);
    const kernels = [...byName.entries()]
      .map(([kernel, e]) => ({ kernel, calls: e.calls, ms: e.ms, share: kernelMs > 0 ? e.ms / kernelMs : 0 }))
      .sort((a, b) => b.ms - a.ms);
    optimizer.dispose();
    task.dispose();
    return { modality: modality.name, backend: config.backend, samples: config.train.batchSize, wallMs, kernelMs, kernels };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

export function profileTable(p: StepProfile, top = 15): string {
  const lines = [
    `${p.modality} on ${p.backend}, one update of ${p.samples} samples, one thread: ${p.wallMs.toFixed(0)} ms wall, ${p.kernelMs.toFixed(0)} ms in kernels`,
    '',
    '| kernel | calls | ms | share |',
    '|---|---|---|---|',
  ];
  for (const k of p.kernels.slice(0, top)) lines.push(`| ${k.kernel} | ${k.calls} | ${k.ms.toFixed(1)} | ${(100 * k.share).toFixed(1)}% |`);
  const rest = p.kernels.slice(top);
  if (rest.length) {
    const ms = rest.reduce((s, k) => s + k.ms, 0);
    lines.push(`| ${rest.length} others | ${rest.reduce((s, k) => s + k.calls, 0)} | ${ms.toFixed(1)} | ${((100 * ms) / (p.kernelMs || 1)).toFixed(1)}% |`);
  }
  return lines.join('\n');
}
