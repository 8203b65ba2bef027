/**
 * Trains a SentencePiece tokenizer with d2v's fixed special ids
 * (<s>=0 <pad>=1 </s>=2 <unk>=3 ... <mask>=V-1) using Debian's spm_train.
 * Defaults reproduce the bundled data/tokenizer/d2v-8k.model from data/corpus/train.txt.
 *   npx tsx packages/text/scripts/train-tokenizer.ts [--input a.txt,b.txt] [--out PREFIX]
 *     [--vocab-size 8000] [--model-type unigram|bpe] [--character-coverage 0.9995]
 *     [--no-byte-fallback] [--max-sentence-length 16384] [--threads 1] [--seed 2022]
 */
import { join } from 'node:path';
import { trainSentencePiece } from '../src/tokenizer/train.js';
import { SentencePieceTokenizer } from '../src/tokenizer/sentencepiece.js';
import { bundledCorpusFiles, textDataDir } from '../src/data/paths.js';

const arg = (k: string, d: string) => {
  const i = process.argv.indexOf(`--${k}`);
  return i >= 0 ? process.argv[i + 1]! : d;
};
const modelType = arg('model-type', 'unigram');
if (modelType !== 'unigram' && modelType !== 'bpe') throw new Error(`--model-type must be unigram or bpe, got ${modelType}`);

const started = Date.now();
const result = await trainSentencePiece({
  inputs: arg('input', bundledCorpusFiles().train).split(','),
  modelPrefix: arg('out', join(textDataDir(), 'tokenizer', 'd2v-8k')),
  vocabSize: Number(arg('vocab-size', '8000')),
  modelType,
  characterCoverage: Number(arg('character-coverage', '0.9995')),
  byteFallback: !process.argv.includes('--no-byte-fallback'),
  maxSentenceLength: Number(arg('max-sentence-length', '16384')),
  numThreads: Number(arg('threads', '1')),
  seed: Number(arg('seed', '2022')),
});
const tok = await SentencePieceTokenizer.load(result.modelFile);
const sample = 'Call me Ishmael. Some years ago—never mind how long precisely.';
console.log(`${result.modelFile}: vocab ${result.vocabSize} (${tok.modelType}), trained in ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`specials: <s>=${tok.bosId} <pad>=${tok.padId} </s>=${tok.eosId} <unk>=${tok.unkId} <mask>=${tok.maskId}`);
console.log(`sample: ${tok.encodePieces(sample).join(' ')}`);
