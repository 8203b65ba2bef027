/** What the speech config sections give: the encoder's configuration and the datasets they name. */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { SpeechConfig } from './schema.js';
import { convLayersFrom, type ConvLayerSpec, type SpeechEncoderConfig } from './encoder.js';
import { openSpeechDataset, type SpeechDataset } from './data/dataset.js';
import { bundledCorpusDir, bundledVoicesDir } from './data/paths.js';

/** The `speech` section of a config (feature encoder). */
export type SpeechOptions = SpeechConfig['speech'];
/** The `data` section (corpus, crops). */
export type SpeechDataOptions = SpeechConfig['data'];
/** The `masking` section (pretraining spans and the fine-tuning time and channel masks). */
export type SpeechMaskingOptions = SpeechConfig['masking'];
/** The `finetune` section: core's options and speech's (task, labelled subset, frozen feature encoder). */
export type SpeechFinetuneOptions = SpeechConfig['finetune'];
/** Utterance classification (`finetune.task classify`, the probe and the end-of-pretraining summary). */
export type SpeechClassifyOptions = SpeechConfig['classify'];
/** The `probe` section. */
export type SpeechProbeOptions = SpeechConfig['probe'];

/** Where utterance classification reads: classify.path (empty: the bundled espeak-voices) and its label files. */
export function classifySource(c: SpeechConfig): { path: string; labels: string } {
  const o = c.classify;
  return { path: o.path || bundledVoicesDir(), labels: o.labels };
}

export function convLayersOf(c: SpeechConfig): ConvLayerSpec[] {
  const s = c.speech;
  return convLayersFrom(s.convChannels, s.convKernels, s.convStrides);
}

export function encoderConfig(c: SpeechConfig): SpeechEncoderConfig {
  const s = c.speech;
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
export function loadSpeechSplit(c: SpeechConfig, split: 'train' | 'valid' | 'test', from: { path?: string; labels?: string } = {}): SpeechDataset {
  const d = c.data;
  const base = from.path ?? (d.path || bundledCorpusDir());
  const folder = join(base, split);
  // A manifest of the split wins over a folder named after it.
  const hasManifest = existsSync(join(base, `${split}.tsv`));
  const path = !hasManifest && existsSync(folder) && statSync(folder).isDirectory() ? folder : base;
  const rate = c.speech.sampleRate;
  const key = `${path}|${split}|${rate}|${d.normalize}|${d.skipBad}|${d.cache}|${from.labels ?? ''}`;
  let ds = datasetCache.get(key);
  if (!ds) {
    ds = openSpeechDataset(path, { split, sampleRate: rate, normalize: d.normalize, skipBad: d.skipBad, cache: d.cache, labels: from.labels });
    if (ds.skipped.length) console.error(`d2v: skipped ${ds.skipped.length} unreadable audio file(s) in ${path} (first: ${ds.skipped[0]!.file}: ${ds.skipped[0]!.reason}); a training run lists them all in its skipped-files.tsv`);
    datasetCache.set(key, ds);
  }
  return ds;
}

