/**
 * Trains a SentencePiece tokenizer with d2v's fixed special ids
 * (<s>=0 <pad>=1 </s>=2 <unk>=3 ... <mask>=V-1) using Debian's spm_train.
 *   npx nx run text:train-tokenizer -- --input my-text.txt [--out tokenizers/my] [--vocab-size 8000]
 *     [--model-type unigram|bpe] [--character-coverage 0.9995] [--no-byte-fallback]
 *     [--max-sentence-length 16384] [--threads 1] [--seed 2022] [--spm-train /path/to/spm_train]
 * --input takes .txt files (comma-separated) or folders of them. Without --out the model is written
 * next to the first input (`<name>-sp<vocab>.model/.vocab`). Without --input it rebuilds the bundled
 * data/tokenizer/d2v-8k.model from data/corpus/train.txt.
 * Relative paths are resolved against the directory the command was started from: the workspace
 * root under `nx run` (Nx runs the script inside packages/text), npm's INIT_CWD, or the cwd.
 */
import { basename, dirname, extname, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { ConfigError, D2vError, DataError } from '@d2v/core';
import { trainSentencePiece } from '../src/tokenizer/train.js';
import { SentencePieceTokenizer } from '../src/tokenizer/sentencepiece.js';
import { bundledCorpusFiles, textDataDir } from '../src/data/paths.js';
import { textFilesAt } from '../src/resources.js';

const argv = process.argv.slice(2);
const arg = (k: string, d: string) => {
  const i = argv.indexOf(`--${k}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : d;
};
const usage =
  'usage: nx run text:train-tokenizer -- --input FILE_OR_DIR[,...] [--out PREFIX] [--vocab-size 8000] [--model-type unigram|bpe]\n' +
  '  [--character-coverage 0.9995] [--no-byte-fallback] [--max-sentence-length 16384] [--threads 1] [--seed 2022] [--spm-train PATH]';
if (argv.includes('--help') || argv.includes('-h')) {
  console.log(usage);
  process.exit(0);
}

/** Where the user typed the command (Nx and npm both run the script with cwd = packages/text). */
const invocationDir = process.env['NX_WORKSPACE_ROOT'] ?? process.env['INIT_CWD'] ?? process.cwd();
const userPath = (p: string) => resolve(invocationDir, p);
const inputFiles = (p: string) => {
  const path = userPath(p);
  if (!existsSync(path)) throw new DataError(path, 'tokenizer training input not found (--input takes .txt files or folders of them, comma-separated)');
  return textFilesAt(path);
};

async function main(): Promise<void> {
  const input = arg('input', '');
  const vocabSize = Number(arg('vocab-size', '8000'));
  const inputs = input ? input.split(',').flatMap(inputFiles) : [bundledCorpusFiles().train];
  const defaultOut = input ? join(dirname(inputs[0]!), `${basename(inputs[0]!, extname(inputs[0]!))}-sp${vocabSize}`) : join(textDataDir(), 'tokenizer', 'd2v-8k');
  const out = arg('out', '') ? userPath(arg('out', '')) : defaultOut;
  const modelType = arg('model-type', 'unigram');
  if (modelType !== 'unigram' && modelType !== 'bpe') throw new ConfigError(`--model-type must be unigram or bpe, got ${modelType}`, 'model-type');

  const started = Date.now();
  console.log(`training a ${vocabSize}-piece ${modelType} SentencePiece model on ${inputs.join(', ')}`);
  const result = await trainSentencePiece({
    inputs,
    modelPrefix: out,
    vocabSize,
    modelType,
    characterCoverage: Number(arg('character-coverage', '0.9995')),
    byteFallback: !argv.includes('--no-byte-fallback'),
    maxSentenceLength: Number(arg('max-sentence-length', '16384')),
    numThreads: Number(arg('threads', '1')),
    seed: Number(arg('seed', '2022')),
    spmTrain: arg('spm-train', 'spm_train'),
  });
  const tok = await SentencePieceTokenizer.load(result.modelFile);
  const sample = 'Call me Ishmael. Some years ago—never mind how long precisely.';
  console.log(`${result.modelFile}: vocab ${result.vocabSize} (${tok.modelType}), trained in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`specials: <s>=${tok.bosId} <pad>=${tok.padId} </s>=${tok.eosId} <unk>=${tok.unkId} <mask>=${tok.maskId}`);
  console.log(`sample: ${tok.encodePieces(sample).join(' ')}`);
  console.log(`use it with: npx nx run text:pretrain -- --tokenizer.model ${result.modelFile}`);
}

try {
  await main();
} catch (e) {
  // Known failures (missing spm_train, bad input, spm_train errors) get one clear line, not a stack trace.
  if (!(e instanceof D2vError)) throw e;
  console.error(`train-tokenizer: ${e.message}`);
  if (e.code === 'MISSING_TOOL') console.error('train-tokenizer: or point at the binary with --spm-train /path/to/spm_train');
  process.exit(1);
}
