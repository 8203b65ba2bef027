/**
 * The options of @d2v/text, declared once: `TextConfig` (a run's resolved config) and
 * `TextPreset` are derived from this schema, so a misspelt or mistyped option fails to compile.
 */
import { int, maskRatio, opt, type PresetOf, type ResolvedConfigOf, type Schema } from '@d2v/core';

export const schema = {
  data: {
    path: opt('', 'pre-training text: a .txt file or a folder of them; empty = the bundled corpus (Moby Dick + State of the Union)', { type: 'path' }),
    validPath: opt('', 'held-out text for the valid split; empty = the bundled valid.txt (required with a custom data.path)', { type: 'path' }),
    layout: opt('paragraph', "'paragraph': blank lines separate documents, each line a segment; 'line': one document per line", { choices: ['paragraph', 'line'] }),
    invalidUtf8: opt('replace', 'lines with invalid UTF-8: replace the bad bytes (U+FFFD) or skip the line', { choices: ['replace', 'skip'] }),
  },
  tokenizer: {
    model: opt('', 'SentencePiece .model file; empty = the bundled d2v-8k model (8000 pieces)', { type: 'path' }),
  },
  text: {
    blockSize: int(512, 'tokens per pre-training block, <s> and </s> included', { min: 3 }),
    packMode: opt('complete_doc', "block packing (fairseq sample_break_mode): 'complete_doc', 'complete' or 'none'", { choices: ['complete_doc', 'complete', 'none'] }),
    maxPositions: int(512, 'learned position embeddings (longest input)', { min: 1 }),
  },
  masking: {
    ratio: maskRatio(
      0.15,
      'objective.version 1: the (non-special) tokens selected for BERT corruption (0.15); version 2: the positions masked uniformly at random, exactly floor(ratio x length) per row (data2vec 2.0: 0.48)',
    ),
    replaceWithMask: opt(0.8, 'version 1: selected tokens replaced by <mask>', { min: 0, max: 1 }),
    replaceRandom: opt(0.1, 'version 1: selected tokens replaced by a random token (the rest stay unchanged)', { min: 0, max: 1 }),
    lossOn: opt('masked-input', "version 1: loss positions: 'masked-input' (where the input is <mask>, fairseq) or 'selected' (all selected tokens, BERT)", {
      choices: ['masked-input', 'selected'],
    }),
  },
  finetune: {
    train: opt('', 'training TSV (label<TAB>text); empty = the bundled SpamAssassin train split', { type: 'path' }),
    test: opt('', 'test TSV (label<TAB>text); empty = the bundled SpamAssassin test split', { type: 'path' }),
    labels: int(0, 'labelled training texts used, a class-balanced seeded subset (0 = all)', { min: 0 }),
    maxTokens: int(512, 'longest classification input in tokens (<s>/</s> included); longer texts are cut', { min: 3 }),
    headDropout: opt(0.1, 'dropout in the classification head (before the dense layer and the projection)', { min: 0, lt: 1 }),
    pool: opt('bos', "classifier input: the <s> output (RoBERTa) or the mean over real tokens", { choices: ['bos', 'mean'] }),
  },
  probe: {
    epochs: int(100, 'linear-probe epochs over the extracted features', { min: 1 }),
    lr: opt(3e-3, 'linear-probe Adam learning rate', { gt: 0 }),
    weightDecay: opt(1e-4, 'linear-probe L2 penalty', { min: 0 }),
    labels: int(0, 'labelled training texts for the probe, class-balanced (0 = all)', { min: 0 }),
    pool: opt('mean', "sentence feature: mean over tokens or the <s> output", { choices: ['mean', 'bos'] }),
    block: int(-1, 'representation probed: -1 = the last block, 0 = the embeddings, k = the output of block k', { min: -1 }),
  },
} satisfies Schema;

/** A text run's resolved config: core's options and the sections above. */
export type TextConfig = ResolvedConfigOf<typeof schema>;

/** A text preset: any of the options, by section. */
export type TextPreset = PresetOf<TextConfig>;
