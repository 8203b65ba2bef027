/**
 * Batches for the text modality: packed pre-training blocks and labelled
 * sequences for classification. Both data sources are pure functions of
 * (seed, micro-batch index) through EpochSampler, so a resumed run sees the
 * same batches.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Rng, type Batch, type DataSource } from '@d2v/core';
import { EpochSampler, makeTokenBatch, paddingMaskFromLengths } from './data/batching.js';
import type { PackedBlocks } from './data/packing.js';
import type { TextFileStats } from './data/textFiles.js';
import type { TsvStats } from './data/tsv.js';
import type { TokenEncoder as Tokenizer } from './tokenizer/sentencepiece.js';

export interface TextBatch extends Batch {
  /** [B, T] int32 token ids. */
  tokens: tf.Tensor2D;
  /** [B, T] float32, 1 where padding. */
  paddingMask: tf.Tensor2D;
  /** Host copy of `tokens`, row-major [B*T] (masking works on it). */
  ids: Int32Array;
  /** Real (non-pad) tokens per row. */
  lengths: Int32Array;
  /** T. */
  length: number;
  /** [B] class ids (classification batches only). */
  labels?: tf.Tensor1D;
  labelIds?: Int32Array;
}

/** A batch of packed blocks for pre-training. */
export function blockBatch(blocks: PackedBlocks, rows: ArrayLike<number>): TextBatch {
  const tb = makeTokenBatch(blocks, rows);
  return { size: tb.batch, tokens: tb.tokens, paddingMask: tb.paddingMask, ids: tb.ids, lengths: tb.lengths, length: tb.length, dispose: () => tb.dispose() };
}

/** Pre-training source: shuffled epochs over packed blocks. */
export class PackedTextSource implements DataSource<TextBatch> {
  private readonly sampler: EpochSampler;
  constructor(
    readonly blocks: PackedBlocks,
    readonly seed: number,
    private readonly where: string,
    /** How reading the text files went (odd lines are reported by describe()). */
    readonly read?: TextFileStats,
  ) {
    this.sampler = new EpochSampler(blocks.numBlocks, seed);
  }
  get size(): number {
    return this.blocks.numBlocks;
  }
  describe(): string {
    const s = this.blocks.stats;
    const odd = oddTextSummary(this.read, s.emptySegments, s.splitSegments);
    return `${this.blocks.numBlocks} blocks of ${this.blocks.blockSize} tokens (${s.tokens} real tokens, ${(100 * s.paddingFraction).toFixed(1)}% padding, ${s.documents} documents) from ${this.where}${odd ? `; ${odd}` : ''}`;
  }
  batch(index: number, batchSize: number, _rng: Rng): TextBatch {
    return blockBatch(this.blocks, this.sampler.rows(index, batchSize));
  }
}

/** The odd-text counts of a corpus read, for logs ('' when there is nothing to report). */
export function oddTextSummary(read: TextFileStats | undefined, emptySegments = 0, splitSegments = 0): string {
  const parts: string[] = [];
  if (read?.invalidUtf8) parts.push(`${read.invalidUtf8} lines with invalid UTF-8`);
  if (read?.truncated) parts.push(`${read.truncated} over-long documents split or cut`);
  if (emptySegments) parts.push(`${emptySegments} segments without tokens dropped`);
  if (splitSegments) parts.push(`${splitSegments} segments longer than a block split`);
  if (read?.emptyLines) parts.push(`${read.emptyLines} blank lines`);
  return parts.join(', ');
}

/** Tokenised classification examples: `<s> tokens </s>` per text, truncated. */
export interface LabelledSequences {
  sequences: Int32Array[];
  labels: Int32Array;
  labelNames: string[];
  /** Texts cut to fit maxTokens. */
  truncated: number;
  source: string;
  /** How reading the TSV went (blank, malformed and invalid UTF-8 lines). */
  read?: TsvStats;
}

/** Tokenises texts as `<s> ... </s>`, keeping at most `maxTokens` ids (specials included). */
export function encodeLabelled(
  tokenizer: Tokenizer,
  data: { texts: string[]; labels: Int32Array; labelNames: string[] },
  maxTokens: number,
  source: string,
): LabelledSequences {
  if (!Number.isInteger(maxTokens) || maxTokens < 3) throw new ConfigError(`finetune.maxTokens must be an integer >= 3, got ${maxTokens}`, 'finetune.maxTokens');
  let truncated = 0;
  const sequences = data.texts.map((text) => {
    const ids = tokenizer.encode(text);
    if (ids.length > maxTokens - 2) truncated++;
    const body = ids.slice(0, maxTokens - 2);
    return Int32Array.from([tokenizer.bosId, ...body, tokenizer.eosId]);
  });
  return { sequences, labels: data.labels, labelNames: data.labelNames, truncated, source };
}

/** Keeps `count` examples: a seeded shuffle, then classes taken in turn so the subset stays balanced. */
export function balancedSubset(data: LabelledSequences, count: number, seed: number): LabelledSequences {
  if (count <= 0 || count >= data.labels.length) return data;
  const byClass = data.labelNames.map(() => [] as number[]);
  for (const i of new Rng(seed).shuffle([...Array(data.labels.length).keys()])) byClass[data.labels[i]!]!.push(i);
  const picked: number[] = [];
  for (let round = 0; picked.length < count; round++) {
    for (const members of byClass) if (round < members.length && picked.length < count) picked.push(members[round]!);
  }
  picked.sort((a, b) => a - b);
  return {
    ...data,
    sequences: picked.map((i) => data.sequences[i]!),
    labels: Int32Array.from(picked, (i) => data.labels[i]!),
  };
}

/** Rows of `data` padded to the longest one (padId), with labels. */
export function labelledBatch(data: LabelledSequences, rows: ArrayLike<number>, padId: number): TextBatch {
  const n = rows.length;
  let t = 0;
  for (let i = 0; i < n; i++) t = Math.max(t, data.sequences[rows[i]!]!.length);
  const ids = new Int32Array(n * t).fill(padId);
  const lengths = new Int32Array(n);
  const labelIds = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const seq = data.sequences[rows[i]!]!;
    ids.set(seq, i * t);
    lengths[i] = seq.length;
    labelIds[i] = data.labels[rows[i]!]!;
  }
  const tokens = tf.tensor2d(ids, [n, t], 'int32');
  const paddingMask = tf.tensor2d(paddingMaskFromLengths(lengths, t), [n, t], 'float32');
  const labels = tf.tensor1d(labelIds, 'int32');
  return { size: n, tokens, paddingMask, ids, lengths, length: t, labels, labelIds, dispose: () => tf.dispose([tokens, paddingMask, labels]) };
}

/** Fine-tuning source: shuffled epochs over labelled sequences. */
export class LabelledTextSource implements DataSource<TextBatch> {
  private readonly sampler: EpochSampler;
  constructor(
    readonly data: LabelledSequences,
    readonly padId: number,
    seed: number,
  ) {
    this.sampler = new EpochSampler(data.labels.length, seed);
  }
  get size(): number {
    return this.data.labels.length;
  }
  describe(): string {
    return `${this.size} labelled texts (${this.data.labelNames.join('/')}) from ${this.data.source}`;
  }
  batch(index: number, batchSize: number, _rng: Rng): TextBatch {
    return labelledBatch(this.data, this.sampler.rows(index, batchSize), this.padId);
  }
}
