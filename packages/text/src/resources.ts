/**
 * What the text modality loads from disk for a config: the tokenizer, the
 * packed pre-training corpus and the labelled classification splits. Each is
 * loaded once per process (a run builds data, masker and encoder from the
 * same config, and gradient workers load their own copy).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, DataError } from '@d2v/core';
import { SentencePieceTokenizer, buildIdMap } from './tokenizer/sentencepiece.js';
import { parseModelProto } from './tokenizer/modelProto.js';
import { readTextFiles, type TextFileStats } from './data/textFiles.js';
import { packDocuments, type PackedBlocks } from './data/packing.js';
import { readLabelledTsv } from './data/tsv.js';
import { bundledCorpusFiles, bundledSpamFiles, bundledTokenizerModel } from './data/paths.js';
import { encodeLabelled, type LabelledSequences } from './batch.js';
import type { TextConfig } from './schema.js';

/** The `data` section of a config (pretraining corpus). */
export type TextDataOptions = TextConfig['data'];
/** The `text` section (blocks and positions). */
export type TextOptions = TextConfig['text'];
/** The `masking` section (BERT masking, data2vec 2.0's random masking). */
export type TextMaskingOptions = TextConfig['masking'];
/** The `finetune` section: core's options and text's (labelled TSVs, head, pooling). */
export type TextFinetuneOptions = TextConfig['finetune'];
/** The `probe` section. */
export type TextProbeOptions = TextConfig['probe'];

/** The tokenizer model file of a config (tokenizer.model, default the bundled d2v-8k model). */
export function tokenizerFile(c: TextConfig): string {
  return resolve(c.tokenizer.model || bundledTokenizerModel());
}

const vocabCache = new Map<string, number>();

/** Vocabulary size in d2v's id layout (<mask> = size - 1), read synchronously from the model file. */
export function tokenizerVocabSize(file: string): number {
  if (!vocabCache.has(file)) {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      throw new DataError(file, 'tokenizer model not found or unreadable (set tokenizer.model, or train one with `npm run train-tokenizer`)', { cause: e });
    }
    const model = parseModelProto(bytes, file);
    const map = buildIdMap(model.pieces);
    vocabCache.set(file, map ? map.d2vToSpm.length : model.pieces.length);
  }
  return vocabCache.get(file)!;
}

const tokenizerCache = new Map<string, Promise<SentencePieceTokenizer>>();

export function loadTokenizer(c: TextConfig): Promise<SentencePieceTokenizer> {
  const file = tokenizerFile(c);
  if (!tokenizerCache.has(file)) {
    const p = SentencePieceTokenizer.load(file);
    // A failed load must not poison the cache for a corrected retry in the same process.
    p.catch(() => tokenizerCache.delete(file));
    tokenizerCache.set(file, p);
  }
  return tokenizerCache.get(file)!;
}

/** A text file, or every `.txt` file under a folder (sorted, recursive). */
export function textFilesAt(path: string): string[] {
  const p = resolve(path);
  if (!existsSync(p)) throw new DataError(p, 'text corpus not found (data.path takes a .txt file or a folder of them)');
  if (statSync(p).isFile()) return [p];
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith('.txt')) out.push(full);
    }
  };
  walk(p);
  if (out.length === 0) throw new DataError(p, 'folder holds no .txt files');
  return out;
}

/** The corpus files for a split: data.path (train) / data.validPath, defaulting to the bundled corpus. */
export function corpusFiles(c: TextConfig, split: 'train' | 'valid' | 'test'): string[] {
  const d = c.data;
  if (split === 'train') return textFilesAt(d.path || bundledCorpusFiles().train);
  if (d.validPath) return textFilesAt(d.validPath);
  if (d.path) throw new ConfigError(`the ${split} split of a custom corpus (data.path ${d.path}) needs data.validPath`, 'data.validPath');
  return [bundledCorpusFiles().valid];
}

const corpusCache = new Map<string, Promise<{ blocks: PackedBlocks; read: TextFileStats }>>();

/** Tokenised and packed corpus of a split, with what reading it skipped, replaced or split (`read`). */
export function loadPackedCorpus(c: TextConfig, split: 'train' | 'valid' | 'test'): Promise<{ blocks: PackedBlocks; read: TextFileStats; files: string[] }> {
  const files = corpusFiles(c, split);
  const d = c.data;
  const t = c.text;
  const key = JSON.stringify([files, d.layout, d.invalidUtf8, tokenizerFile(c), t.blockSize, t.packMode]);
  if (!corpusCache.has(key)) {
    const p = (async () => {
      const tokenizer = await loadTokenizer(c);
      const corpus = readTextFiles(files, { mode: d.layout, invalidUtf8: d.invalidUtf8 });
      if (corpus.documents.length === 0) throw new DataError(files.join(', '), 'no text (every line is empty or invalid)');
      return { blocks: packDocuments(tokenizer, corpus.documents, { blockSize: t.blockSize, mode: t.packMode }), read: corpus.stats };
    })();
    p.catch(() => corpusCache.delete(key));
    corpusCache.set(key, p);
  }
  return corpusCache.get(key)!.then(({ blocks, read }) => ({ blocks, read, files }));
}

/** The classification TSV of a split: finetune.train / finetune.test, default the bundled spam subset. */
export function labelledFile(c: TextConfig, split: 'train' | 'test'): string {
  const f = c.finetune;
  return resolve((split === 'train' ? f.train : f.test) || bundledSpamFiles()[split]);
}

const labelledCache = new Map<string, Promise<LabelledSequences>>();

/** The classification TSV of a split (finetune.train / finetune.test, default the bundled spam subset), tokenised. */
export function loadLabelled(c: TextConfig, split: 'train' | 'test'): Promise<LabelledSequences> {
  const f = c.finetune;
  const trainFile = labelledFile(c, 'train');
  const testFile = labelledFile(c, 'test');
  const key = JSON.stringify([split, trainFile, testFile, tokenizerFile(c), f.maxTokens]);
  if (!labelledCache.has(key)) {
    const p = (async () => {
      const tokenizer = await loadTokenizer(c);
      const train = readLabelledTsv(trainFile);
      // The test split uses the training split's label ids; an unseen label is an error naming the line.
      const raw = split === 'train' ? train : readLabelledTsv(testFile, { labels: train.labelNames });
      return { ...encodeLabelled(tokenizer, raw, f.maxTokens, split === 'train' ? trainFile : testFile), read: raw.stats };
    })();
    p.catch(() => labelledCache.delete(key));
    labelledCache.set(key, p);
  }
  return labelledCache.get(key)!;
}
