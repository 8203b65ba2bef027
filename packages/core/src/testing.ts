/**
 * Helpers for modality packages' tests (`@d2v/core/testing`): temporary folders that are cleaned
 * up, a few pretraining steps of a modality's preset with the tensor count recorded after every
 * update, and the checks every modality's training loop must pass (falling loss, flat tensor count).
 */
import * as tf from '@tensorflow/tfjs-core';
import { resolveConfig } from './config/resolve.js';
import { createPretrainTask } from './model/pretrainTask.js';
import { Trainer } from './train/trainer.js';
import type { Modality } from './registry/modality.js';
import { tempDir } from './tempDirs.js';

export { tempDir, removeTempDirs } from './tempDirs.js';

/** Trainer/command options that print nothing and draw no plots. */
export const quietRun = { log: () => {}, plots: false, progressStream: { write: () => true, isTTY: false } as never };

export interface PretrainStepsResult {
  losses: number[];
  /** tf.memory().numTensors after each update. */
  tensorCounts: number[];
  runDir: string;
}

/** Pretrains `steps` updates of `modality`'s preset (default 'tiny') with `overrides`, in a fresh temp folder. */
export async function pretrainSteps(modality: Modality, overrides: Record<string, unknown>, steps: number, preset = 'tiny'): Promise<PretrainStepsResult> {
  const out = tempDir(`${modality.name}-steps`);
  const config = resolveConfig({
    modality: modality.name,
    modalitySchema: modality.schema,
    presets: modality.presets,
    preset,
    overrides: new Map<string, unknown>(Object.entries({ out, ...overrides, 'train.steps': steps })),
    validate: modality.validateConfig?.bind(modality),
  });
  const task = createPretrainTask(modality, config, await modality.createData(config, 'train'));
  const tensorCounts: number[] = [];
  try {
    const r = await new Trainer(task, { config, ...quietRun, onStep: () => tensorCounts.push(tf.memory().numTensors) }).run();
    return { losses: r.losses, tensorCounts, runDir: r.runDir };
  } finally {
    task.dispose();
  }
}

/** Mean of the first and of the last `n` losses. */
export function lossEnds(losses: number[], n = 3): { head: number; tail: number } {
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  return { head: mean(losses.slice(0, n)), tail: mean(losses.slice(-n)) };
}

/** True when every update after the first left the same number of tensors alive. */
export function tensorCountIsFlat(counts: number[]): boolean {
  return counts.length > 1 && new Set(counts.slice(1)).size === 1;
}
