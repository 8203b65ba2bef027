/**
 * Trains a SentencePiece model with Debian's `spm_train` (sentencepiece-js
 * has no trainer) and rewrites it into d2v's fixed id layout:
 *   <s>=0, <pad>=1, </s>=2, <unk>=3, ..., <mask>=V-1.
 * spm_train places user-defined symbols right after the specials, so <mask>
 * is trained as a user-defined symbol (id 4: the trainer never splits it) and
 * then moved to the end of the piece table in both the .model and the .vocab.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, relative, resolve } from 'node:path';
import { ConfigError, D2vError, DataError } from '@d2v/core';
import { movePieceToEnd, parseModelProto } from './modelProto.js';
import { BOS_ID, EOS_ID, MASK_PIECE, PAD_ID, SentencePieceTokenizer, UNK_ID } from './sentencepiece.js';

export interface TrainTokenizerOptions {
  /** Plain-text files, one sentence/paragraph per line (empty lines are ignored by spm_train). */
  inputs: string[];
  /** Output path without extension: writes `<prefix>.model` and `<prefix>.vocab`. */
  modelPrefix: string;
  /** Total vocabulary size including the five specials. */
  vocabSize: number;
  modelType?: 'unigram' | 'bpe';
  /** Fraction of characters covered by the vocabulary (0.9995 for Latin scripts, 1.0 for small alphabets). */
  characterCoverage?: number;
  /** Decompose unknown characters into UTF-8 byte pieces (costs 256 ids; makes decode(encode(x)) lossless). Default true. */
  byteFallback?: boolean;
  /** Extra user-defined symbols (placed right after the four specials; <mask> is always added last). */
  userDefinedSymbols?: string[];
  /** Longest line in bytes spm_train keeps (its default of 4192 silently drops long paragraphs). */
  maxSentenceLength?: number;
  /** Sample this many lines when the input is larger (0 = use all). */
  inputSentenceSize?: number;
  splitDigits?: boolean;
  /** SentencePiece normaliser: 'nmt_nfkc' (default, keeps case), 'nfkc', 'identity', or the lower-casing '*_cf' variants. */
  normalization?: 'nmt_nfkc' | 'nfkc' | 'identity' | 'nmt_nfkc_cf' | 'nfkc_cf';
  seed?: number;
  numThreads?: number;
  /** Path or name of the trainer binary. */
  spmTrain?: string;
}

export interface TrainTokenizerResult {
  modelFile: string;
  vocabFile: string;
  vocabSize: number;
  /** spm_train's log (stderr). */
  log: string;
}

export const SPM_TRAIN_MISSING =
  "spm_train was not found: install Debian's sentencepiece (apt-get install sentencepiece) or pass spmTrain: '/path/to/spm_train'";

/** The minimum vocabulary: 4 specials + <mask> + user symbols (+ 256 byte pieces) + a few learned pieces. */
function minimumVocab(o: TrainTokenizerOptions): number {
  return 5 + (o.userDefinedSymbols?.length ?? 0) + (o.byteFallback !== false ? 256 : 0) + 16;
}

function validate(o: TrainTokenizerOptions): void {
  if (o.inputs.length === 0) throw new ConfigError('trainSentencePiece: no input files', 'inputs');
  for (const f of o.inputs) {
    if (!existsSync(f) || !statSync(f).isFile()) throw new DataError(f, 'tokenizer training input not found');
    if (statSync(f).size === 0) throw new DataError(f, 'tokenizer training input is empty');
    if (f.includes(',')) throw new DataError(f, 'spm_train takes a comma-separated file list: rename files containing commas');
  }
  if (!Number.isInteger(o.vocabSize) || o.vocabSize < minimumVocab(o)) {
    const hint = o.byteFallback !== false ? ' (byte fallback needs 256 ids: set byteFallback: false for tiny vocabularies)' : '';
    throw new ConfigError(`vocabSize must be an integer >= ${minimumVocab(o)}, got ${o.vocabSize}${hint}`, 'vocabSize');
  }
  const cov = o.characterCoverage ?? 0.9995;
  if (!(cov > 0 && cov <= 1)) throw new ConfigError(`characterCoverage must be in (0, 1], got ${cov}`, 'characterCoverage');
  for (const s of o.userDefinedSymbols ?? []) {
    if (s.length === 0 || s.includes(',') || s === MASK_PIECE) {
      throw new ConfigError(`invalid user-defined symbol '${s}' (non-empty, no commas, not ${MASK_PIECE})`, 'userDefinedSymbols');
    }
  }
}

/** Paths are passed relative to the output directory (spm_train's cwd) because the model stores them. */
function spmArgs(o: TrainTokenizerOptions, outDir: string, prefix: string): string[] {
  const symbols = [...(o.userDefinedSymbols ?? []), MASK_PIECE];
  return [
    `--input=${o.inputs.map((f) => relative(outDir, resolve(f))).join(',')}`,
    `--model_prefix=${basename(prefix)}`,
    `--model_type=${o.modelType ?? 'unigram'}`,
    `--vocab_size=${o.vocabSize}`,
    `--character_coverage=${o.characterCoverage ?? 0.9995}`,
    `--byte_fallback=${o.byteFallback !== false}`,
    `--bos_id=${BOS_ID}`,
    `--pad_id=${PAD_ID}`,
    `--eos_id=${EOS_ID}`,
    `--unk_id=${UNK_ID}`,
    `--user_defined_symbols=${symbols.join(',')}`,
    `--max_sentence_length=${o.maxSentenceLength ?? 16384}`,
    `--input_sentence_size=${o.inputSentenceSize ?? 0}`,
    '--shuffle_input_sentence=true',
    `--split_digits=${o.splitDigits ?? false}`,
    `--normalization_rule_name=${o.normalization ?? 'nmt_nfkc'}`,
    `--random_seed=${o.seed ?? 2022}`,
    `--num_threads=${o.numThreads ?? 1}`,
    '--minloglevel=1',
  ];
}

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' ? new D2vError('MISSING_TOOL', SPM_TRAIN_MISSING, { cause: err }) : err);
    });
    child.on('close', (code) => resolvePromise({ code, stderr }));
  });
}

/** Moves <mask> from its trained position to the last id in `<prefix>.model` and `<prefix>.vocab`. */
function moveMaskLast(modelFile: string, vocabFile: string): number {
  const bytes = readFileSync(modelFile);
  const model = parseModelProto(bytes, modelFile);
  const at = model.pieces.findIndex((p) => p.piece === MASK_PIECE);
  if (at < 0) throw new DataError(modelFile, `spm_train did not add ${MASK_PIECE}`);
  writeFileSync(modelFile, movePieceToEnd(bytes, model, at));

  const lines = readFileSync(vocabFile, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length !== model.pieces.length || !lines[at]!.startsWith(`${MASK_PIECE}\t`)) {
    throw new DataError(vocabFile, `does not match ${modelFile} (${lines.length} lines for ${model.pieces.length} pieces)`);
  }
  const [maskLine] = lines.splice(at, 1);
  lines.push(maskLine!);
  writeFileSync(vocabFile, `${lines.join('\n')}\n`);
  return model.pieces.length;
}

/** Trains `<modelPrefix>.model/.vocab` with spm_train and checks the result has d2v's special ids. */
export async function trainSentencePiece(options: TrainTokenizerOptions): Promise<TrainTokenizerResult> {
  validate(options);
  const prefix = resolve(options.modelPrefix);
  const outDir = dirname(prefix);
  mkdirSync(outDir, { recursive: true });
  const { code, stderr } = await run(options.spmTrain ?? 'spm_train', spmArgs(options, outDir, prefix), outDir);
  if (code !== 0) {
    const tail = stderr.trim().split('\n').slice(-5).join('\n');
    throw new DataError(options.inputs.join(','), `spm_train failed (exit ${code}):\n${tail}`);
  }
  const modelFile = `${prefix}.model`;
  const vocabFile = `${prefix}.vocab`;
  const vocabSize = moveMaskLast(modelFile, vocabFile);

  const tok = await SentencePieceTokenizer.load(modelFile);
  const expected: [string, number][] = [['<s>', BOS_ID], ['<pad>', PAD_ID], ['</s>', EOS_ID], ['<unk>', UNK_ID], [MASK_PIECE, vocabSize - 1]];
  for (const [piece, id] of expected) {
    if (tok.remapped || tok.pieceToId(piece) !== id) {
      throw new DataError(modelFile, `trained model has ${piece} at id ${tok.pieceToId(piece)}, expected ${id}`);
    }
  }
  return { modelFile, vocabFile, vocabSize, log: stderr };
}
