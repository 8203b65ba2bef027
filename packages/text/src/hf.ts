/**
 * Text's token embeddings + post-LN Transformer as Hugging Face transformers' Data2VecTextModel
 * (the RoBERTa layout): which config keys and weights correspond, and how each weight is laid out.
 * The mechanics are core's (`HfMapping`); this is the table.
 */
import * as tf from '@tensorflow/tfjs-core';
import { HF_POST_LN_KEYS, HF_TRANSFORMER_KEYS, ShapeError, hfLayerNorm, hfTransformerWeights, type HfBlockNames, type HfMapping } from '@d2v/core';
import { BOS_ID, EOS_ID, PAD_ID } from './tokenizer/sentencepiece.js';
import { tokenizerFile, tokenizerVocabSize } from './resources.js';
import { paddingMaskFromLengths } from './data/batching.js';
import type { TextBatch } from './batch.js';
import type { TextConfig } from './schema.js';

/** One BERT/RoBERTa layer (`encoder.layer.i`). */
const BLOCK: HfBlockNames = {
  layer: 'encoder.layer.{i}',
  query: 'attention.self.query',
  key: 'attention.self.key',
  value: 'attention.self.value',
  out: 'attention.output.dense',
  norm1: 'attention.output.LayerNorm',
  fc1: 'intermediate.dense',
  fc2: 'output.dense',
  norm2: 'output.LayerNorm',
};

/** RoBERTa numbers positions from padding id + 1 (fairseq's make_positions); d2v's table starts at position 0. */
const POSITION_OFFSET = PAD_ID + 1;

export const textHf: HfMapping<TextConfig, TextBatch> = {
  modelType: 'data2vec-text',
  architecture: 'Data2VecTextModel',
  prefix: 'data2vec_text',
  inputName: 'input_ids',
  config: [
    ...HF_TRANSFORMER_KEYS,
    ...HF_POST_LN_KEYS,
    { hf: 'vocab_size', d2v: 'tokenizer.model', derive: (c) => tokenizerVocabSize(tokenizerFile(c)), why: 'pass the tokenizer the checkpoint was trained with, --tokenizer.model FILE' },
    { hf: 'max_position_embeddings', d2v: 'text.maxPositions', offset: POSITION_OFFSET },
    { hf: 'pad_token_id', value: PAD_ID, why: "RoBERTa's positions start after the padding id, d2v's at 0" },
    { hf: 'bos_token_id', value: BOS_ID, lenient: true },
    { hf: 'eos_token_id', value: EOS_ID, lenient: true },
    // Token type 0 is folded into d2v's positions on import (see the weights); exports have one zero row.
    { hf: 'type_vocab_size', value: 1, lenient: true },
    { hf: 'position_embedding_type', value: 'absolute', why: 'd2v has learned absolute positions only' },
    { hf: 'is_decoder', value: false, why: 'd2v text is a bidirectional encoder' },
    { hf: 'add_cross_attention', value: false, why: 'd2v text has no cross-attention' },
    { hf: 'hidden_dropout_prob', d2v: 'model.dropout', training: true },
    { hf: 'attention_probs_dropout_prob', d2v: 'model.attentionDropout', training: true },
  ],
  weights: (c) => [
    { d2v: 'encoder.embed_tokens', hf: 'embeddings.word_embeddings.weight' },
    { d2v: 'encoder.embed_positions', hf: 'embeddings.position_embeddings.weight', layout: { kind: 'rows', offset: POSITION_OFFSET }, plus: 'embeddings.token_type_embeddings.weight' },
    ...hfLayerNorm('encoder.layernorm_embedding', 'embeddings.LayerNorm'),
    ...hfTransformerWeights(c.model, BLOCK),
  ],
  /** input_ids [B, T] in d2v's id layout; the padding id marks padding at the end of a row. */
  batchFromInput: (input) => {
    if (input.rank !== 2) throw new ShapeError(`input_ids must be [B, T], got [${input.shape}]`);
    const [b, t] = input.shape as [number, number];
    const ids = Int32Array.from(input.dataSync());
    const lengths = new Int32Array(b);
    for (let i = 0; i < b; i++) {
      let n = t;
      while (n > 0 && ids[i * t + n - 1] === PAD_ID) n--;
      lengths[i] = n;
    }
    const tokens = tf.tensor2d(ids, [b, t], 'int32');
    const paddingMask = tf.tensor2d(paddingMaskFromLengths(lengths, t), [b, t], 'float32');
    const batch: TextBatch = { size: b, tokens, paddingMask, ids, lengths, length: t, dispose: () => tf.dispose([tokens, paddingMask]) };
    return batch;
  },
};
