/**
 * fairseq's audio manifest convention (wav2vec 2.0 / data2vec):
 *   train.tsv  first line: root folder; then `relative/path.wav<TAB>num_samples`
 *   train.ltr  one line per utterance: letters separated by spaces, `|` after every word
 *   train.wrd  one line per utterance: the words
 * A relative root is resolved against the manifest's own folder (fairseq resolves it
 * against the working directory; ours keeps shipped corpora relocatable).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { DataError } from '@d2v/core';
import { letterLineToWords, wordsToLetterLine } from './letters.js';

export interface ManifestEntry {
  /** Path relative to the manifest root. */
  path: string;
  /** Samples in the file (at the corpus rate, 16 kHz by convention). */
  numSamples: number;
}

export interface Manifest {
  /** The root folder as written on the first line. */
  root: string;
  /** The root resolved to an absolute path. */
  rootDir: string;
  entries: ManifestEntry[];
  /** Lines of the parallel `.ltr` file, if present. */
  letters?: string[];
  /** Lines of the parallel `.wrd` file, if present. */
  words?: string[];
}

function readLines(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new DataError(file, `cannot read: ${(err as Error).message}`, { cause: err });
  }
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function sibling(tsv: string, ext: string): string {
  return tsv.replace(/\.tsv$/i, '') + ext;
}

/** Reads `x.tsv` and, when they exist, `x.ltr` and `x.wrd` (line counts must match). */
export function readManifest(tsvFile: string): Manifest {
  const lines = readLines(tsvFile);
  if (lines.length === 0) throw new DataError(tsvFile, 'empty manifest: the first line must be the root folder');
  const root = lines[0]!.trim();
  const rootDir = isAbsolute(root) ? root : resolve(dirname(tsvFile), root);
  const entries: ManifestEntry[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const cols = line.split('\t');
    const n = Number(cols[1]);
    if (cols.length < 2 || cols[0] === '' || !Number.isInteger(n) || n < 0) {
      throw new DataError(tsvFile, `line ${i + 1}: expected 'relative/path<TAB>num_samples', got '${line.slice(0, 80)}'`);
    }
    entries.push({ path: cols[0]!, numSamples: n });
  }
  const manifest: Manifest = { root, rootDir, entries };
  for (const [ext, key] of [['.ltr', 'letters'], ['.wrd', 'words']] as const) {
    const file = sibling(tsvFile, ext);
    if (!existsSync(file)) continue;
    const text = readLines(file);
    if (text.length !== entries.length) {
      throw new DataError(file, `${text.length} lines but ${tsvFile} lists ${entries.length} files`);
    }
    manifest[key] = text;
  }
  return manifest;
}

/** `x.tsv` -> `x.<ext>`: the parallel file of one kind of utterance label (e.g. `train.voice`). */
export function labelFilePath(tsvFile: string, ext: string): string {
  return sibling(tsvFile, `.${ext}`);
}

/**
 * The labels of `x.tsv` from its parallel `x.<ext>` file: one class name per line, line i + 1
 * labelling the i-th file of the manifest (fairseq's convention for `.ltr`/`.wrd`, for classes).
 */
export function readLabelFile(tsvFile: string, ext: string, entries: number): string[] {
  const file = labelFilePath(tsvFile, ext);
  if (!existsSync(file)) throw new DataError(file, `no such label file: utterance classification reads one class name per line, parallel to ${tsvFile}`);
  const lines = readLines(file);
  if (lines.length !== entries) throw new DataError(file, `${lines.length} lines but ${tsvFile} lists ${entries} files`);
  return lines.map((line, i) => {
    const label = line.trim();
    if (label === '') throw new DataError(file, `line ${i + 1}: empty label (every line names the class of one file of ${tsvFile})`);
    return label;
  });
}

/** Writes `x.<ext>` next to `x.tsv`: one label per manifest entry. */
export function writeLabelFile(tsvFile: string, ext: string, labels: readonly string[]): void {
  const bad = labels.findIndex((l) => l.trim() === '' || /[\t\r\n]/.test(l));
  if (bad >= 0) throw new RangeError(`writeLabelFile: label ${bad + 1} ('${labels[bad]}') is empty or holds a tab or newline`);
  mkdirSync(dirname(tsvFile), { recursive: true });
  writeFileSync(labelFilePath(tsvFile, ext), lines(labels));
}

/**
 * Writes `x.tsv`, and `x.wrd` + `x.ltr` when `words` (one transcript per entry) are given.
 * Transcripts are normalised to the letter vocabulary.
 */
export function writeManifest(tsvFile: string, root: string, entries: readonly ManifestEntry[], words?: readonly string[]): void {
  if (words && words.length !== entries.length) {
    throw new RangeError(`writeManifest: ${words.length} transcripts for ${entries.length} files`);
  }
  for (const e of entries) {
    if (/[\t\n]/.test(e.path)) throw new DataError(e.path, 'file names with tabs or newlines cannot be written to a manifest');
  }
  mkdirSync(dirname(tsvFile), { recursive: true });
  writeFileSync(tsvFile, [root, ...entries.map((e) => `${e.path}\t${e.numSamples}`)].join('\n') + '\n');
  if (!words) return;
  const ltr = words.map(wordsToLetterLine);
  writeFileSync(sibling(tsvFile, '.wrd'), lines(ltr.map(letterLineToWords)));
  writeFileSync(sibling(tsvFile, '.ltr'), lines(ltr));
}

/** One line per item (an empty file for none: a lone newline would read as one empty line). */
function lines(items: readonly string[]): string {
  return items.length ? items.join('\n') + '\n' : '';
}

/** The transcript of entry i: the `.wrd` line, else the words of the `.ltr` line, else undefined. */
export function manifestTranscript(m: Manifest, i: number): string | undefined {
  if (m.words) return m.words[i]!.trim();
  if (m.letters) return letterLineToWords(m.letters[i]!);
  return undefined;
}
