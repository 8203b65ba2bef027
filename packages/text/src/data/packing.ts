/**
 * Packs tokenised documents into fixed-length blocks for pre-training.
 * Every block is `<s> seg </s> seg </s> ... </s> <pad> ...`: it starts with
 * <s>, its last real token is </s>, and the rest is <pad>.
 *
 * Modes (named after fairseq's `sample_break_mode`, RoBERTa's setup):
 *  - 'complete_doc' (default): whole segments, never mixing documents; a new
 *    block starts at each document and whenever the next segment does not fit.
 *  - 'complete': whole segments, documents may share a block.
 *  - 'none': the token stream (segments joined by </s>) is cut every
 *    blockSize-1 tokens, ignoring boundaries; a block cut inside a segment
 *    gets a closing </s> that is a block terminator, not a sentence end.
 * In the two 'complete' modes a segment longer than a block is split into
 * pieces of blockSize-2 tokens, each closed by </s> (counted in splitSegments).
 */
import { ConfigError } from '@d2v/core';
import type { TokenEncoder } from '../tokenizer/sentencepiece.js';
import type { TextDocument } from './textFiles.js';

export type PackMode = 'complete_doc' | 'complete' | 'none';

export interface PackOptions {
  /** Tokens per block including <s>, </s> and padding (>= 3). */
  blockSize: number;
  mode?: PackMode;
}

export interface SpecialTokenIds {
  bosId: number;
  eosId: number;
  padId: number;
}

export interface PackStats {
  documents: number;
  segments: number;
  /** Segments that tokenised to nothing (dropped). */
  emptySegments: number;
  /** Segments longer than a block, split across blocks. */
  splitSegments: number;
  /** Real tokens (including <s> and </s>) over all blocks. */
  tokens: number;
  paddingTokens: number;
  /** paddingTokens / (numBlocks * blockSize). */
  paddingFraction: number;
}

export interface PackedBlocks {
  /** Row-major [numBlocks, blockSize] token ids, padded with padId. */
  tokens: Int32Array;
  numBlocks: number;
  blockSize: number;
  /** Real (non-pad) tokens per block; positions >= lengths[i] are padding. */
  lengths: Int32Array;
  padId: number;
  stats: PackStats;
}

class BlockWriter {
  private blocks: number[][] = [];
  private current: number[];

  constructor(private readonly ids: SpecialTokenIds, readonly blockSize: number) {
    this.current = [ids.bosId];
  }

  get used(): number {
    return this.current.length;
  }

  push(tokens: number[]): void {
    for (const t of tokens) this.current.push(t);
  }

  /** Closes the current block if it holds anything besides <s>. */
  close(): void {
    if (this.current.length > 1) this.blocks.push(this.current);
    this.current = [this.ids.bosId];
  }

  finish(stats: Omit<PackStats, 'tokens' | 'paddingTokens' | 'paddingFraction'>): PackedBlocks {
    this.close();
    const { blockSize } = this;
    const n = this.blocks.length;
    const tokens = new Int32Array(n * blockSize).fill(this.ids.padId);
    const lengths = new Int32Array(n);
    let real = 0;
    this.blocks.forEach((b, i) => {
      tokens.set(b, i * blockSize);
      lengths[i] = b.length;
      real += b.length;
    });
    const total = n * blockSize;
    return {
      tokens,
      numBlocks: n,
      blockSize,
      lengths,
      padId: this.ids.padId,
      stats: { ...stats, tokens: real, paddingTokens: total - real, paddingFraction: total > 0 ? (total - real) / total : 0 },
    };
  }
}

function validate(options: PackOptions): PackMode {
  const mode = options.mode ?? 'complete_doc';
  if (mode !== 'complete_doc' && mode !== 'complete' && mode !== 'none') {
    throw new ConfigError(`pack mode must be 'complete_doc', 'complete' or 'none', got '${mode}'`, 'mode');
  }
  if (!Number.isInteger(options.blockSize) || options.blockSize < 3) {
    throw new ConfigError(`blockSize must be an integer >= 3, got ${options.blockSize}`, 'blockSize');
  }
  return mode;
}

/** Packs documents given as token ids per segment (without <s>/</s>). */
export function packTokenizedDocuments(documents: number[][][], ids: SpecialTokenIds, options: PackOptions): PackedBlocks {
  const mode = validate(options);
  const { blockSize } = options;
  const w = new BlockWriter(ids, blockSize);
  const counts = { documents: documents.length, segments: 0, emptySegments: 0, splitSegments: 0 };

  if (mode === 'none') {
    const stream: number[] = [];
    for (const doc of documents) {
      for (const seg of doc) {
        counts.segments++;
        if (seg.length === 0) {
          counts.emptySegments++;
          continue;
        }
        for (const t of seg) stream.push(t);
        stream.push(ids.eosId);
      }
    }
    let pos = 0;
    while (pos < stream.length) {
      const take = Math.min(blockSize - 1, stream.length - pos);
      if (take === blockSize - 1 && stream[pos + take - 1] !== ids.eosId) {
        // Cut inside a segment: leave room for a closing </s>.
        w.push(stream.slice(pos, pos + blockSize - 2));
        w.push([ids.eosId]);
        pos += blockSize - 2;
      } else {
        w.push(stream.slice(pos, pos + take));
        pos += take;
      }
      w.close();
    }
    return w.finish(counts);
  }

  const maxPiece = blockSize - 2;
  for (const doc of documents) {
    for (const seg of doc) {
      counts.segments++;
      if (seg.length === 0) {
        counts.emptySegments++;
        continue;
      }
      if (seg.length > maxPiece) counts.splitSegments++;
      for (let start = 0; start < seg.length; start += maxPiece) {
        const piece = seg.slice(start, start + maxPiece);
        if (w.used + piece.length + 1 > blockSize) w.close();
        w.push(piece);
        w.push([ids.eosId]);
      }
    }
    if (mode === 'complete_doc') w.close();
  }
  return w.finish(counts);
}

/** Tokenises `documents` with `tokenizer` and packs them (see the module comment for the modes). */
export function packDocuments(tokenizer: TokenEncoder, documents: TextDocument[], options: PackOptions): PackedBlocks {
  const tokenized = documents.map((doc) => doc.map((seg) => tokenizer.encode(seg)));
  return packTokenizedDocuments(tokenized, tokenizer, options);
}
