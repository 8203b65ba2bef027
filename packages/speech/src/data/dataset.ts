/**
 * Speech datasets: a fairseq manifest (`.tsv` [+ `.ltr`/`.wrd`]) or a plain
 * folder of WAV files (searched recursively; `name.txt` next to `name.wav` is
 * its transcript). Audio is decoded lazily on get(i); lengths come from the
 * manifest or the WAV headers so batches can be bucketed without decoding.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { DataError, type SkippedFile } from '@d2v/core';
import { labelFilePath, manifestTranscript, readLabelFile, readManifest } from './manifest.js';
import { framesAtRate, readWav, readWavInfo } from './wav.js';

export interface SpeechItem {
  /** Mono samples at the dataset's sample rate. */
  audio: Float32Array;
  sampleCount: number;
  /** The words, upper case, when the corpus has transcripts. */
  transcript?: string;
  /** The class name from the manifest's label file, when opened with `labels`. */
  label?: string;
  file: string;
}

export type { SkippedFile };

export interface SpeechDataset {
  readonly length: number;
  readonly sampleRate: number;
  /** Samples of item i at `sampleRate` (known without decoding). */
  readonly sizes: Int32Array;
  /** Files left out because they could not be read (only with skipBad). */
  readonly skipped: readonly SkippedFile[];
  /** Class name of item i (known without decoding), when opened with `labels`. */
  readonly labels?: readonly string[];
  /** The label file the labels came from, for error messages. */
  readonly labelFile?: string;
  /** Where the data comes from, for logs. */
  readonly source: string;
  get(i: number): SpeechItem;
}

export interface SpeechDatasetOptions {
  /** Output sample rate (default 16000). */
  sampleRate?: number;
  /** Zero mean / unit variance per utterance (fairseq `normalize`). Default false. */
  normalize?: boolean;
  /**
   * Check every file's header when opening and leave out broken ones (listed in `skipped`)
   * instead of failing. Without it, a broken file throws a DataError when it is read.
   */
  skipBad?: boolean;
  /** Keep decoded audio in memory after the first read (small corpora, many epochs). */
  cache?: boolean;
  /** Read utterance labels from the manifest's parallel `<split>.<labels>` file (e.g. `voice`). */
  labels?: string;
}

interface Item {
  file: string;
  size: number;
  transcript?: string;
  label?: string;
}

class FileSpeechDataset implements SpeechDataset {
  readonly sizes: Int32Array;
  readonly labels?: readonly string[];
  private readonly memo = new Map<number, Float32Array>();

  constructor(
    private readonly items: Item[],
    readonly skipped: SkippedFile[],
    readonly source: string,
    private readonly opts: Required<Pick<SpeechDatasetOptions, 'sampleRate' | 'normalize' | 'cache'>>,
    readonly labelFile?: string,
  ) {
    this.sizes = Int32Array.from(items, (it) => it.size);
    if (labelFile) this.labels = items.map((it) => it.label!);
  }

  get length(): number {
    return this.items.length;
  }

  get sampleRate(): number {
    return this.opts.sampleRate;
  }

  get(i: number): SpeechItem {
    const item = this.items[i];
    if (!item) throw new RangeError(`${this.source}: index ${i} out of range (0..${this.items.length - 1})`);
    let audio = this.memo.get(i);
    if (!audio) {
      audio = readWav(item.file, { targetRate: this.opts.sampleRate, normalize: this.opts.normalize });
      if (this.opts.cache) this.memo.set(i, audio);
    }
    return { audio, sampleCount: audio.length, transcript: item.transcript, label: item.label, file: item.file };
  }
}

function withDefaults(opts: SpeechDatasetOptions) {
  return { sampleRate: opts.sampleRate ?? 16000, normalize: opts.normalize ?? false, cache: opts.cache ?? false };
}

/** Header-checks items when skipBad is set, moving broken ones to `skipped` and taking sizes from the headers. */
function screen(items: Item[], rate: number, skipBad: boolean): { kept: Item[]; skipped: SkippedFile[] } {
  if (!skipBad) return { kept: items, skipped: [] };
  const kept: Item[] = [];
  const skipped: SkippedFile[] = [];
  for (const it of items) {
    try {
      kept.push({ ...it, size: framesAtRate(readWavInfo(it.file), rate) });
    } catch (err) {
      if (!(err instanceof DataError)) throw err;
      skipped.push({ file: it.file, reason: err.message });
    }
  }
  return { kept, skipped };
}

/** A dataset over a fairseq manifest (`x.tsv` with optional `x.ltr` / `x.wrd`). */
export function openManifestDataset(tsvFile: string, opts: SpeechDatasetOptions = {}): SpeechDataset {
  const o = withDefaults(opts);
  const m = readManifest(tsvFile);
  const labels = opts.labels ? readLabelFile(tsvFile, opts.labels, m.entries.length) : undefined;
  const items = m.entries.map((e, i) => ({ file: join(m.rootDir, e.path), size: e.numSamples, transcript: manifestTranscript(m, i), label: labels?.[i] }));
  const { kept, skipped } = screen(items, o.sampleRate, opts.skipBad ?? false);
  const labelFile = opts.labels ? labelFilePath(tsvFile, opts.labels) : undefined;
  return new FileSpeechDataset(kept, skipped, `${tsvFile} (${kept.length} utterances${skipped.length ? `, ${skipped.length} skipped` : ''})`, o, labelFile);
}

/** All `.wav` files under `dir` (recursive, sorted), as paths. */
export function listWavFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const ent of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const p = join(d, ent.name);
      if (ent.isDirectory()) walk(p);
      else if (/\.wav$/i.test(ent.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** A dataset over every WAV under `dir`; `x.txt` next to `x.wav` is its transcript. */
export function openWavFolder(dir: string, opts: SpeechDatasetOptions = {}): SpeechDataset {
  const o = withDefaults(opts);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DataError(dir, 'not a folder');
  if (opts.labels) throw new DataError(dir, `utterance labels come from a manifest: write <split>.tsv and its <split>.${opts.labels} label file (one class per line)`);
  const files = listWavFiles(dir);
  if (files.length === 0) throw new DataError(dir, 'no .wav files in this folder or below');
  const items: Item[] = files.map((file) => {
    const txt = file.replace(/\.wav$/i, '.txt');
    return { file, size: -1, transcript: existsSync(txt) ? readFileSync(txt, 'utf8').trim().toUpperCase().replace(/\s+/g, ' ') : undefined };
  });
  if (opts.skipBad) {
    const { kept, skipped } = screen(items, o.sampleRate, true);
    return new FileSpeechDataset(kept, skipped, `${dir} (${kept.length} wav files, ${skipped.length} skipped)`, o);
  }
  for (const it of items) it.size = framesAtRate(readWavInfo(it.file), o.sampleRate);
  return new FileSpeechDataset(items, [], `${dir} (${items.length} wav files)`, o);
}

/**
 * Opens a manifest file (`x.tsv`), a folder holding `<split>.tsv`, or a folder of WAVs.
 */
export function openSpeechDataset(path: string, opts: SpeechDatasetOptions & { split?: string } = {}): SpeechDataset {
  const p = resolve(path);
  if (!existsSync(p)) throw new DataError(path, 'no such file or folder');
  if (statSync(p).isFile()) {
    if (!/\.tsv$/i.test(p)) throw new DataError(path, 'expected a fairseq manifest (.tsv) or a folder');
    return openManifestDataset(p, opts);
  }
  const split = opts.split ?? 'train';
  const tsv = join(p, `${split}.tsv`);
  if (existsSync(tsv)) return openManifestDataset(tsv, opts);
  const manifests = readdirSync(p).filter((f) => /\.tsv$/i.test(f));
  // A corpus folder with manifests but not this split: reading every WAV would mix the splits.
  if (manifests.length > 0) throw new DataError(path, `no ${split}.tsv here (found ${manifests.join(', ')})`);
  return openWavFolder(p, opts);
}

/** `file` relative to `root`, with forward slashes (for manifests written on any OS). */
export function manifestPath(root: string, file: string): string {
  return relative(root, file).split(/[\\/]/).join('/') || basename(file);
}

/** The items of `ds` at `indices`, in that order (e.g. a small labelled subset). */
export function subsetDataset(ds: SpeechDataset, indices: readonly number[], label = 'subset'): SpeechDataset {
  for (const i of indices) if (!(i >= 0 && i < ds.length)) throw new RangeError(`subsetDataset: index ${i} outside 0..${ds.length - 1}`);
  const sizes = Int32Array.from(indices, (i) => ds.sizes[i]!);
  return {
    length: indices.length,
    sampleRate: ds.sampleRate,
    sizes,
    skipped: ds.skipped,
    labels: ds.labels && indices.map((i) => ds.labels![i]!),
    labelFile: ds.labelFile,
    source: `${label} of ${indices.length} from ${ds.source}`,
    get: (i: number) => {
      const j = indices[i];
      if (j === undefined) throw new RangeError(`${label}: index ${i} out of range (0..${indices.length - 1})`);
      return ds.get(j);
    },
  };
}

/** Indices of the items whose size passes `keep` (e.g. a minimum length), read from the sizes only. */
export function indicesWhere(ds: SpeechDataset, keep: (size: number, i: number) => boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < ds.length; i++) if (keep(ds.sizes[i]!, i)) out.push(i);
  return out;
}
