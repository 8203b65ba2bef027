import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Rng, initBackend } from '@d2v/core';
import { packDocuments, packTokenizedDocuments, type PackedBlocks } from '../src/data/packing.js';
import { EpochSampler, iterateTokenBatches, makeTokenBatch, shuffledBatches } from '../src/data/batching.js';
import { readTextFiles } from '../src/data/textFiles.js';
import { SentencePieceTokenizer } from '../src/tokenizer/sentencepiece.js';
import { bundledCorpusFiles, bundledTokenizerModel } from '../src/data/paths.js';

const ids = { bosId: 0, padId: 1, eosId: 2 };

/** Document d, segment s, token k is 1000*d + 100*s + k + 10 (never a special id). */
function synthetic(segLengths: number[][]): number[][][] {
  return segLengths.map((doc, d) => doc.map((len, s) => Array.from({ length: len }, (_, k) => 1000 * d + 100 * s + k + 10)));
}

function rows(p: PackedBlocks): number[][] {
  return Array.from({ length: p.numBlocks }, (_, i) => Array.from(p.tokens.subarray(i * p.blockSize, (i + 1) * p.blockSize)));
}

/** Checks the block invariants and returns the real tokens of each block without <s>. */
function checkBlocks(p: PackedBlocks): number[][] {
  expect(p.tokens.length).toBe(p.numBlocks * p.blockSize);
  return rows(p).map((r, i) => {
    const len = p.lengths[i]!;
    expect(len).toBeGreaterThanOrEqual(3);
    expect(r[0]).toBe(ids.bosId);
    expect(r[len - 1]).toBe(ids.eosId);
    expect(r.slice(len).every((t) => t === ids.padId)).toBe(true);
    expect(r.slice(0, len).includes(ids.padId)).toBe(false);
    return r.slice(1, len);
  });
}

describe('packTokenizedDocuments', () => {
  it("'complete_doc' keeps documents apart and segments whole", () => {
    const docs = synthetic([[3, 4, 2], [5], [1, 1, 1, 1, 1, 1]]);
    const p = packTokenizedDocuments(docs, ids, { blockSize: 10, mode: 'complete_doc' });
    const content = checkBlocks(p);
    // doc0: <s> 3 </s> 4 </s> = 10 ; then 2 </s> ; doc1: 5 </s> ; doc2: 4 x (1 </s>) then 2 x (1 </s>).
    expect(Array.from(p.lengths)).toEqual([10, 4, 7, 9, 5]);
    for (const block of content) {
      const docsInBlock = new Set(block.filter((t) => t !== ids.eosId).map((t) => Math.floor(t / 1000)));
      expect(docsInBlock.size).toBe(1);
    }
    // Concatenated content is every segment followed by </s>, in order.
    expect(content.flat()).toEqual(docs.flatMap((d) => d.flatMap((s) => [...s, ids.eosId])));
    expect(p.stats).toMatchObject({ documents: 3, segments: 10, emptySegments: 0, splitSegments: 0 });
    expect(p.stats.tokens).toBe(35);
    expect(p.stats.paddingTokens).toBe(50 - 35);
    expect(p.stats.paddingFraction).toBeCloseTo(15 / 50);
  });

  it("'complete' lets documents share a block", () => {
    const docs = synthetic([[2], [2], [2]]);
    const p = packTokenizedDocuments(docs, ids, { blockSize: 10, mode: 'complete' });
    checkBlocks(p);
    expect(p.numBlocks).toBe(1);
    expect(rows(p)[0]).toEqual([0, 10, 11, 2, 1010, 1011, 2, 2010, 2011, 2]);
  });

  it('splits a segment longer than a block into </s>-closed pieces', () => {
    const docs = synthetic([[20]]);
    const p = packTokenizedDocuments(docs, ids, { blockSize: 8 });
    const content = checkBlocks(p);
    expect(p.stats.splitSegments).toBe(1);
    expect(Array.from(p.lengths)).toEqual([8, 8, 8, 4]);
    expect(content.flat().filter((t) => t !== ids.eosId)).toEqual(docs[0]![0]);
  });

  it("'none' cuts the stream every blockSize-1 tokens and closes every block with </s>", () => {
    const docs = synthetic([[5, 3], [7], [4]]);
    const p = packTokenizedDocuments(docs, ids, { blockSize: 6, mode: 'none' });
    const content = checkBlocks(p);
    const stream = docs.flatMap((d) => d.flatMap((s) => [...s, ids.eosId]));
    // Every block but the last is full; removing terminators added at cuts restores the stream.
    expect(Array.from(p.lengths).slice(0, -1).every((l) => l === 6)).toBe(true);
    const rebuilt: number[] = [];
    let at = 0;
    for (const block of content) {
      for (const t of block) {
        if (t === stream[at]) {
          rebuilt.push(t);
          at++;
        } else {
          expect(t).toBe(ids.eosId); // an inserted block terminator
        }
      }
    }
    expect(rebuilt).toEqual(stream);
    // No block ends with a doubled </s>.
    for (const block of content) expect(block.slice(-2)).not.toEqual([2, 2]);
  });

  it('drops empty segments and counts them; validates options', () => {
    const p = packTokenizedDocuments([[[], [5, 6]], [[]]], ids, { blockSize: 6 });
    expect(p.stats.emptySegments).toBe(2);
    expect(p.numBlocks).toBe(1);
    expect(rows(p)[0]).toEqual([0, 5, 6, 2, 1, 1]);
    expect(() => packTokenizedDocuments([], ids, { blockSize: 2 })).toThrow(ConfigError);
    expect(() => packTokenizedDocuments([], ids, { blockSize: 8, mode: 'eos' as never })).toThrow(ConfigError);
    expect(packTokenizedDocuments([], ids, { blockSize: 8 }).numBlocks).toBe(0);
  });
});

describe('packDocuments with the bundled tokenizer', () => {
  it('packs the validation corpus into [N, 128] blocks', async () => {
    const tok = await SentencePieceTokenizer.load(bundledTokenizerModel());
    const { documents } = readTextFiles(bundledCorpusFiles().valid, { mode: 'paragraph' });
    const p = packDocuments(tok, documents.slice(0, 3), { blockSize: 128 });
    const content = checkBlocks(p);
    expect(p.numBlocks).toBeGreaterThan(10);
    expect(p.padId).toBe(tok.padId);
    // The first block starts with the first paragraph of the first document.
    const firstSegment = content[0]!.slice(0, content[0]!.indexOf(tok.eosId));
    expect(tok.decode(firstSegment)).toBe(documents[0]![0]);
  });
});

describe('batching', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  const blocks = packTokenizedDocuments(synthetic([[3], [5], [1], [2, 2], [4], [6], [3]]), ids, { blockSize: 8 });

  it('makes int32 token tensors and a padding mask from lengths, without leaking', () => {
    const before = tf.memory().numTensors;
    const batch = makeTokenBatch(blocks, [2, 0, 4]);
    expect(tf.memory().numTensors).toBe(before + 2);
    expect(batch.tokens.shape).toEqual([3, 8]);
    expect(batch.tokens.dtype).toBe('int32');
    expect(batch.paddingMask.dtype).toBe('float32');
    const t = batch.tokens.arraySync();
    const m = batch.paddingMask.arraySync();
    [2, 0, 4].forEach((r, i) => {
      expect(t[i]).toEqual(Array.from(blocks.tokens.subarray(r * 8, r * 8 + 8)));
      expect(m[i]).toEqual(Array.from({ length: 8 }, (_, k) => (k >= blocks.lengths[r]! ? 1 : 0)));
    });
    expect(Array.from(batch.ids)).toEqual(t.flat());
    batch.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => makeTokenBatch(blocks, [blocks.numBlocks])).toThrow(RangeError);
  });

  it('shuffles every row exactly once per epoch and is reproducible', () => {
    const a = shuffledBatches(new Rng(5), 10, 3);
    expect(a.map((b) => b.length)).toEqual([3, 3, 3, 1]);
    expect(a.flatMap((b) => Array.from(b)).sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(shuffledBatches(new Rng(5), 10, 3)).toEqual(a);
    expect(shuffledBatches(new Rng(6), 10, 3)).not.toEqual(a);
    expect(shuffledBatches(new Rng(5), 10, 3, true).length).toBe(3);
    expect(() => shuffledBatches(new Rng(5), 10, 0)).toThrow(ConfigError);
  });

  it('iterates an epoch of batches that can all be disposed', () => {
    const before = tf.memory().numTensors;
    let seen = 0;
    for (const b of iterateTokenBatches(new Rng(1), blocks, 3)) {
      seen += b.batch;
      b.dispose();
    }
    expect(seen).toBe(blocks.numBlocks);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('EpochSampler is a pure function of (seed, index) and permutes each epoch', () => {
    const s = new EpochSampler(10, 42);
    const epoch0 = [0, 1, 2, 3, 4].flatMap((i) => Array.from(s.rows(i, 2)));
    expect([...epoch0].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const epoch1 = [5, 6, 7, 8, 9].flatMap((i) => Array.from(s.rows(i, 2)));
    expect([...epoch1].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(epoch1).not.toEqual(epoch0);
    // A fresh sampler asked for step 7 directly (a resumed run) agrees.
    expect(new EpochSampler(10, 42).rows(7, 2)).toEqual(s.rows(7, 2));
    expect(new EpochSampler(10, 43).rows(0, 10)).not.toEqual(s.rows(0, 10));
    expect(s.epochAt(4, 2)).toBe(1);
  });
});
