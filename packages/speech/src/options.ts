/** Typed views of the speech config sections, and the datasets they name. */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedConfig } from '@d2v/core';
import { convLayersFrom, type ConvLayerSpec, type SpeechEncoderConfig } from './encoder.js';
import { openSpeechDataset, type SpeechDataset } from './data/dataset.js';
import { bundledCorpusDir, bundledVoicesDir } from './data/paths.js';

export interface SpeechOptions {
  sampleRate: number;
  convChannels: number[];
  convKernels: number[];
  convStrides: number[];
  posConvLayers: number;
  posConvKernel: number;
  posConvGroups: number;
  dropoutInput: number;
}

export interface SpeechDataOptions {
  path: string;
  skipBad: boolean;
  normalize: boolean;
  cache: boolean;
  maxSampleLength: number;
  minSampleLength: number;
}

export interface SpeechMaskingOptions {
  maskProb: number;
  spanLength: number;
  minMasks: number;
  /** objective.version 2: exact masked fraction per row (0 = maskProb x spanLength). */
  exactFraction: number;
  finetuneMaskProb: number;
  channelMaskProb: number;
  channelSpanLength: number;
}

export interface SpeechFinetuneOptions {
  /** ctc: transcripts (letters); classify: one class per utterance. */
  task: 'ctc' | 'classify';
  labelledUtterances: number;
  freezeFeatureEncoder: boolean;
  evalBatchSize: number;
}

/** Utterance classification (`finetune.task classify`, the probe and the end-of-pretraining summary). */
export interface SpeechClassifyOptions {
  path: string;
  labels: string;
  classes: string[];
  projDim: number;
}

export interface SpeechProbeOptions {
  topBlocks: number;
  epochs: number;
  lr: number;
  weightDecay: number;
}

export const speechOptions = (c: ResolvedConfig) => c['speech'] as SpeechOptions;
export const dataOptions = (c: ResolvedConfig) => c['data'] as SpeechDataOptions;
export const maskingOptions = (c: ResolvedConfig) => c['masking'] as SpeechMaskingOptions;
export const finetuneOptions = (c: ResolvedConfig) => c['finetune'] as SpeechFinetuneOptions;
export const classifyOptions = (c: ResolvedConfig) => c['classify'] as SpeechClassifyOptions;
export const probeOptions = (c: ResolvedConfig) => c['probe'] as SpeechProbeOptions;

/** Where utterance classification reads: classify.path (empty: the bundled espeak-voices) and its label files. */
export function classifySource(c: ResolvedConfig): { path: string; labels: string } {
  const o = classifyOptions(c);
  return { path: o.path || bundledVoicesDir(), labels: o.labels };
}

export function convLayersOf(c: ResolvedConfig): ConvLayerSpec[] {
  const s = speechOptions(c);
  return convLayersFrom(s.convChannels, s.convKernels, s.convStrides);
}

export function encoderConfig(c: ResolvedConfig): SpeechEncoderConfig {
  const s = speechOptions(c);
  return {
    convLayers: convLayersOf(c),
    dim: c.model.dim,
    posConvLayers: s.posConvLayers,
    posConvKernel: s.posConvKernel,
    posConvGroups: s.posConvGroups,
    dropout: c.model.dropout,
    dropoutInput: s.dropoutInput,
  };
}

const datasetCache = new Map<string, SpeechDataset>();

/**
 * The dataset of one split (opened once per process): `<path>/<split>.tsv`, else a `<path>/<split>/`
 * folder, else `path` itself. `path` defaults to data.path (empty: the bundled espeak-small);
 * `labels` reads each manifest's `<split>.<labels>` file too (utterance classification).
 */
export function loadSpeechSplit(c: ResolvedConfig, split: 'train' | 'valid' | 'test', from: { path?: string; labels?: string } = {}): SpeechDataset {
  const d = dataOptions(c);
  const base = from.path ?? (d.path || bundledCorpusDir());
  const folder = join(base, split);
  // A manifest of the split wins over a folder named after it.
  const hasManifest = existsSync(join(base, `${split}.tsv`));
  const path = !hasManifest && existsSync(folder) && statSync(folder).isDirectory() ? folder : base;
  const rate = speechOptions(c).sampleRate;
  const key = `${path}|${split}|${rate}|${d.normalize}|${d.skipBad}|${d.cache}|${from.labels ?? ''}`;
  let ds = datasetCache.get(key);
  if (!ds) {
    ds = openSpeechDataset(path, { split, sampleRate: rate, normalize: d.normalize, skipBad: d.skipBad, cache: d.cache, labels: from.labels });
    if (ds.skipped.length) console.error(`d2v: skipped ${ds.skipped.length} unreadable audio file(s) in ${path} (first: ${ds.skipped[0]!.file}: ${ds.skipped[0]!.reason}); a training run lists them all in its skipped-files.tsv`);
    datasetCache.set(key, ds);
  }
  return ds;
}

