import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, D2vError, DataError } from '@d2v/core';
import { SentencePieceTokenizer } from '../src/tokenizer/sentencepiece.js';
import { trainSentencePiece } from '../src/tokenizer/train.js';
import { bundledCorpusFiles, bundledTokenizerModel } from '../src/data/paths.js';

let dir: string;
let tok: SentencePieceTokenizer;
let sampleFile: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'd2v-tok-'));
  tok = await SentencePieceTokenizer.load(bundledTokenizerModel());
  // ~60 kB of the bundled corpus is plenty for a 200-piece vocabulary.
  sampleFile = join(dir, 'sample.txt');
  writeFileSync(sampleFile, readFileSync(bundledCorpusFiles().valid, 'utf8').slice(0, 60_000));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bundled SentencePiece model', () => {
  it('has the documented fixed special ids', () => {
    expect(tok.vocabSize).toBe(8000);
    expect(tok.remapped).toBe(false);
    expect(tok.modelType).toBe('unigram');
    expect([tok.bosId, tok.padId, tok.eosId, tok.unkId, tok.maskId]).toEqual([0, 1, 2, 3, 7999]);
    expect(['<s>', '<pad>', '</s>', '<unk>', '<mask>'].map((p) => tok.pieceToId(p))).toEqual([0, 1, 2, 3, 7999]);
    expect(tok.idToPiece(7999)).toBe('<mask>');
    expect(tok.structuralIds).toEqual([0, 1, 2]);
  });

  it('round-trips lines of the bundled validation corpus', () => {
    const lines = readFileSync(bundledCorpusFiles().valid, 'utf8').split('\n').filter((l) => l.length > 0).slice(0, 200);
    expect(lines.length).toBe(200);
    for (const line of lines) {
      const ids = tok.encode(line);
      expect(ids.length).toBeGreaterThan(0);
      expect(ids.every((i) => i > 3 && i < tok.maskId)).toBe(true);
      expect(tok.decode(ids)).toBe(line);
    }
  });

  it('keeps case and round-trips unicode through byte fallback', () => {
    const text = 'Héllo Wörld — ÜNÏCODE 日本語 🐋 Ωμέγα, naïve café';
    expect(tok.decode(tok.encode(text))).toBe(text);
    expect(tok.encode('Whale')).not.toEqual(tok.encode('whale'));
    expect(tok.decode(tok.encode('WHALE whale Whale'))).toBe('WHALE whale Whale');
    // 🐋 is not in an 8k English vocabulary: it must come out as byte pieces, not <unk>.
    expect(tok.encode('🐋')).not.toContain(tok.unkId);
  });

  it('encodes <mask> in text as the mask id and decodes specials as documented', () => {
    const ids = tok.encode('the <mask> sank');
    expect(ids).toContain(tok.maskId);
    expect(tok.decode(ids)).toBe('the <mask> sank');
    const body = tok.encode('Call me Ishmael.');
    expect(tok.decode([tok.bosId, ...body, tok.eosId, tok.padId, tok.padId])).toBe('Call me Ishmael.');
    expect(tok.decode([])).toBe('');
    expect(() => tok.decode([8000])).toThrow(RangeError);
    expect(() => tok.decode([1.5])).toThrow(RangeError);
  });

  it('rejects missing and corrupt model files with DataError naming the file', async () => {
    const missing = join(dir, 'nope.model');
    await expect(SentencePieceTokenizer.load(missing)).rejects.toThrow(DataError);
    await expect(SentencePieceTokenizer.load(missing)).rejects.toThrow(/nope\.model/);
    const garbage = join(dir, 'garbage.model');
    writeFileSync(garbage, Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919 + 13) % 256)));
    await expect(SentencePieceTokenizer.load(garbage)).rejects.toThrow(/garbage\.model.*not a valid SentencePiece model/);
    const empty = join(dir, 'empty.model');
    writeFileSync(empty, '');
    await expect(SentencePieceTokenizer.load(empty)).rejects.toThrow(DataError);
    // A truncated real model must not load silently either.
    const truncated = join(dir, 'truncated.model');
    writeFileSync(truncated, readFileSync(bundledTokenizerModel()).subarray(0, 5000));
    await expect(SentencePieceTokenizer.load(truncated)).rejects.toThrow(DataError);
    await expect(SentencePieceTokenizer.load(dir)).rejects.toThrow(/not a file/);
  });
});

describe('trainSentencePiece (spm_train)', () => {
  for (const modelType of ['unigram', 'bpe'] as const) {
    it(`trains a 200-piece ${modelType} model with the fixed special ids`, async () => {
      const prefix = join(dir, `tiny-${modelType}`);
      const r = await trainSentencePiece({ inputs: [sampleFile], modelPrefix: prefix, vocabSize: 200, modelType, byteFallback: false });
      expect(r.vocabSize).toBe(200);
      expect(r.modelFile).toBe(`${prefix}.model`);
      const vocab = readFileSync(r.vocabFile, 'utf8').trimEnd().split('\n').map((l) => l.split('\t')[0]);
      expect(vocab.length).toBe(200);
      expect(vocab.slice(0, 4)).toEqual(['<s>', '<pad>', '</s>', '<unk>']);
      expect(vocab[199]).toBe('<mask>');
      expect(vocab.indexOf('<mask>')).toBe(199);

      const t = await SentencePieceTokenizer.load(r.modelFile);
      expect(t.remapped).toBe(false);
      expect(t.modelType).toBe(modelType);
      expect(['<s>', '<pad>', '</s>', '<unk>', '<mask>'].map((p) => t.pieceToId(p))).toEqual([0, 1, 2, 3, 199]);
      for (let id = 0; id < 200; id++) expect(t.idToPiece(id)).toBe(vocab[id]);
      const ids = t.encode('The whale <mask> the ship.');
      expect(ids).toContain(199);
      expect(t.decode(ids)).toBe('The whale <mask> the ship.');
    });
  }

  it('explains how to install spm_train when it is missing', async () => {
    const run = trainSentencePiece({ inputs: [sampleFile], modelPrefix: join(dir, 'x'), vocabSize: 200, byteFallback: false, spmTrain: join(dir, 'no-such-spm_train') });
    await expect(run).rejects.toThrow(D2vError);
    await expect(run).rejects.toThrow(/apt-get install sentencepiece/);
  });

  it('validates inputs and vocabulary size before running', async () => {
    await expect(trainSentencePiece({ inputs: [join(dir, 'missing.txt')], modelPrefix: join(dir, 'x'), vocabSize: 200, byteFallback: false })).rejects.toThrow(/missing\.txt/);
    await expect(trainSentencePiece({ inputs: [sampleFile], modelPrefix: join(dir, 'x'), vocabSize: 200 })).rejects.toThrow(ConfigError);
    await expect(trainSentencePiece({ inputs: [sampleFile], modelPrefix: join(dir, 'x'), vocabSize: 10, byteFallback: false })).rejects.toThrow(/vocabSize/);
  });

  it('surfaces spm_train failures with its message', async () => {
    // 5000 pieces cannot be learned from 60 kB of text with a hard vocabulary limit.
    await expect(trainSentencePiece({ inputs: [sampleFile], modelPrefix: join(dir, 'big'), vocabSize: 50_000, byteFallback: false })).rejects.toThrow(/spm_train failed/);
  });
});

describe('models trained elsewhere', () => {
  it('remaps a default-layout model (<unk>=0 <s>=1 </s>=2, no <pad>/<mask>) to d2v ids', async () => {
    const prefix = join(dir, 'foreign');
    execFileSync('spm_train', [`--input=${sampleFile}`, `--model_prefix=${prefix}`, '--vocab_size=150', '--minloglevel=2', '--num_threads=1'], { stdio: 'ignore' });
    const t = await SentencePieceTokenizer.load(`${prefix}.model`);
    expect(t.remapped).toBe(true);
    // 150 pieces - 3 specials + 4 d2v specials + <mask>.
    expect(t.vocabSize).toBe(152);
    expect(['<s>', '<pad>', '</s>', '<unk>', '<mask>'].map((p) => t.pieceToId(p))).toEqual([0, 1, 2, 3, 151]);

    const foreignVocab = readFileSync(`${prefix}.vocab`, 'utf8').trimEnd().split('\n').map((l) => l.split('\t')[0]!);
    expect(foreignVocab.slice(0, 3)).toEqual(['<unk>', '<s>', '</s>']);
    // Ordinary pieces keep their order, shifted to start at id 4.
    for (let i = 3; i < 150; i++) expect(t.idToPiece(i + 1)).toBe(foreignVocab[i]);

    const text = 'The whale sank the ship.';
    const ids = t.encode(text);
    expect(ids.every((i) => i >= 4 && i < 151)).toBe(true);
    expect(t.decode(ids)).toBe(text);
    expect(t.decode([0, ...ids, 2, 1, 1])).toBe(text);
    const masked = [...ids];
    masked[0] = t.maskId;
    expect(t.decode(masked)).toMatch(/^<mask>/);
    expect(t.decode(masked)).toContain('sank the ship.');
  });
});
