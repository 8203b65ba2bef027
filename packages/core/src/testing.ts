/**
 * Helpers for modality packages' tests (`@d2v/core/testing`): temporary folders that are cleaned
 * up, a few pretraining steps of a modality's preset with the tensor count recorded after every
 * update, the checks every modality's training loop must pass (falling loss, flat tensor count),
 * and the comparison of a modality's hidden states with a Hugging Face fixture's.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig, type ResolvedConfigOf } from './config/resolve.js';
import type { Schema } from './config/schema.js';
import { buildPretrainTask } from './run/commands.js';
import { Trainer } from './train/trainer.js';
import type { AnyModality, Modality } from './registry/modality.js';
import { openCheckpoint } from './cli/export.js';
import { hfMappingOf } from './run/hfInit.js';
import { hiddenStates } from './io/hf.js';
import { decodeSafetensors, safetensorsToTensors } from './io/safetensors.js';
import { tempDir } from './tempDirs.js';

export { tempDir, removeTempDirs } from './tempDirs.js';

/** A fresh temporary folder (deleted after the test file, as tempDir's) and `file(name, content)`, which writes a file into it and returns its path. */
export function tempFiles(name: string): { dir: string; file: (fileName: string, content: string | Uint8Array) => string } {
  const dir = tempDir(name);
  const file = (fileName: string, content: string | Uint8Array) => {
    const path = join(dir, fileName);
    writeFileSync(path, content);
    return path;
  };
  return { dir, file };
}

/** Runs `fn` (e.g. a `d2v` command through cliMain) with console.log/error captured: its exit code and what it printed. */
export async function captureConsole(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => out.push(a.join(' '));
  console.error = (...a: unknown[]) => err.push(a.join(' '));
  try {
    const code = await fn();
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** Trainer/command options that print nothing and draw no plots. */
export const quietRun = { log: () => {}, plots: false, progressStream: { write: () => true, isTTY: false } as never };

export interface PretrainStepsResult {
  losses: number[];
  /** tf.memory().numTensors after each update. */
  tensorCounts: number[];
  runDir: string;
}

/** `modality`'s preset with `overrides` (dotted keys), resolved and checked (its validateConfig too) as a run's config is. */
export function presetConfig<S extends Schema>(modality: Modality<any, S, any>, overrides: Record<string, unknown> = {}, preset = 'tiny'): ResolvedConfigOf<S> {
  return resolveConfig({
    modality: modality.name,
    modalitySchema: modality.schema,
    presets: modality.presets,
    preset,
    overrides: new Map<string, unknown>(Object.entries(overrides)),
    validate: modality.validateConfig?.bind(modality),
  });
}

/** Pretrains `steps` updates of `modality`'s preset (default 'tiny') with `overrides`, in a fresh temp folder. */
export async function pretrainSteps(modality: AnyModality, overrides: Record<string, unknown>, steps: number, preset = 'tiny'): Promise<PretrainStepsResult> {
  const out = tempDir(`${modality.name}-steps`);
  const config = presetConfig(modality, { out, ...overrides, 'train.steps': steps }, preset);
  const task = await buildPretrainTask(modality, config, () => {});
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

/**
 * How far d2v's hidden states for a Hugging Face fixture folder (made by `tools/hf/verify.py
 * fixtures`: config.json, model.safetensors, and expected.safetensors with the input and
 * transformers' hidden states on it) are from the recorded ones: the max abs difference of each
 * hidden state (the Transformer input first) and of the last one. Nothing is left allocated.
 */
export async function hfFixtureDiffs(dir: string, modality: AnyModality, overrides: Record<string, unknown> = {}): Promise<{ hidden: number[]; last: number }> {
  const { config, parts } = await openCheckpoint(dir, { modality, overrides: new Map(Object.entries(overrides)), log: () => {} });
  const mapping = hfMappingOf(modality);
  const file = join(dir, 'expected.safetensors');
  const expected = safetensorsToTensors(decodeSafetensors(readFileSync(file), file), file);
  const batch = mapping.batchFromInput(expected[mapping.inputName]!, config);
  const h = hiddenStates(parts.encoder, parts.transformer, batch);
  const diff = (a: tf.Tensor, b: tf.Tensor | undefined) => {
    if (!b) throw new Error(`${file} lacks a hidden state d2v computes (d2v has ${h.hidden.length})`);
    return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
  };
  try {
    if (expected[`hidden.${h.hidden.length}`]) throw new Error(`${file} has more hidden states than d2v's ${h.hidden.length}`);
    return { hidden: h.hidden.map((t, i) => diff(t, expected[`hidden.${i}`])), last: diff(h.last, expected['last']) };
  } finally {
    tf.dispose([...h.hidden, h.last, ...Object.values(expected)]);
    batch.dispose();
    parts.encoder.dispose();
    parts.transformer.dispose();
  }
}
