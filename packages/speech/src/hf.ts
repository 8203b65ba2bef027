/**
 * Speech's wav2vec 2.0 front end + post-LN Transformer as Hugging Face transformers'
 * Data2VecAudioModel: which config keys and weights correspond, and how each weight is laid out.
 * The mechanics are core's (`HfMapping`); this is the table.
 */
import { HF_POST_LN_KEYS, HF_TRANSFORMER_KEYS, ShapeError, hfLayerNorm, hfLinear, hfTransformerWeights, type HfBlockNames, type HfMapping } from '@d2v/core';
import type { SpeechBatch } from './data/source.js';
import type { SpeechConfig } from './schema.js';
import { collateAudio } from './data/batching.js';
import { convLayersOf } from './options.js';

/** One wav2vec 2.0 encoder layer (`encoder.layers.i`). */
const BLOCK: HfBlockNames = {
  layer: 'encoder.layers.{i}',
  query: 'attention.q_proj',
  key: 'attention.k_proj',
  value: 'attention.v_proj',
  out: 'attention.out_proj',
  norm1: 'layer_norm',
  fc1: 'feed_forward.intermediate_dense',
  fc2: 'feed_forward.output_dense',
  norm2: 'final_layer_norm',
};

export const speechHf: HfMapping<SpeechConfig, SpeechBatch> = {
  modelType: 'data2vec-audio',
  architecture: 'Data2VecAudioModel',
  prefix: 'data2vec_audio',
  inputName: 'input_values',
  config: [
    ...HF_TRANSFORMER_KEYS,
    ...HF_POST_LN_KEYS,
    { hf: 'conv_dim', d2v: 'speech.convChannels' },
    { hf: 'conv_kernel', d2v: 'speech.convKernels' },
    { hf: 'conv_stride', d2v: 'speech.convStrides' },
    { hf: 'conv_bias', value: false, hfDefault: false, why: "d2v's feature encoder convolutions have no bias" },
    { hf: 'feat_extract_activation', value: 'gelu', hfDefault: 'gelu', why: "d2v's feature encoder uses exact GELU" },
    {
      hf: 'num_conv_pos_embeddings',
      d2v: 'speech.posConvLayers',
      accepts: (v) => typeof v === 'number' && v >= 1,
      why: 'it adds the output of its positional convolution stack to the features, which with no layers doubles them instead of adding nothing',
    },
    { hf: 'conv_pos_kernel_size', d2v: 'speech.posConvKernel' },
    { hf: 'num_conv_pos_embedding_groups', d2v: 'speech.posConvGroups' },
    { hf: 'add_adapter', value: false, hfDefault: false, why: 'd2v has no adapter after the Transformer' },
    { hf: 'hidden_dropout', d2v: 'model.dropout', training: true },
    { hf: 'attention_dropout', d2v: 'model.attentionDropout', training: true },
    { hf: 'activation_dropout', d2v: 'model.activationDropout', training: true },
    { hf: 'layerdrop', d2v: 'model.layerDrop', training: true },
    { hf: 'feat_proj_dropout', d2v: 'speech.dropoutInput', training: true },
    // HF's mask_time_prob is fairseq's mask_prob: span starts x span length.
    { hf: 'mask_time_prob', exportValue: (c) => c.masking.startProb * c.masking.spanLength, training: true },
    { hf: 'mask_time_length', d2v: 'masking.spanLength', training: true },
    { hf: 'mask_time_min_masks', d2v: 'masking.minSpans', training: true },
  ],
  weights: (c) => {
    const s = c.speech;
    return [
      ...convLayersOf(c).flatMap((l, j) => [
        { d2v: `encoder.feature_extractor.conv.${j}.weight`, hf: `feature_extractor.conv_layers.${j}.conv.weight`, layout: { kind: 'conv' as const, kernel: [l.kernel] } },
        ...hfLayerNorm(`encoder.feature_extractor.conv.${j}.norm`, `feature_extractor.conv_layers.${j}.layer_norm`),
      ]),
      ...hfLayerNorm('encoder.layer_norm', 'feature_projection.layer_norm'),
      ...hfLinear('encoder.post_extract_proj', 'feature_projection.projection'),
      { d2v: 'encoder.mask_emb', hf: 'masked_spec_embed', optional: true },
      ...Array.from({ length: s.posConvLayers }, (_, j) => [
        { d2v: `encoder.pos_conv.${j}.weight`, hf: `encoder.pos_conv_embed.layers.${j}.conv.weight`, layout: { kind: 'groupedConv' as const, kernel: s.posConvKernel } },
        { d2v: `encoder.pos_conv.${j}.bias`, hf: `encoder.pos_conv_embed.layers.${j}.conv.bias` },
      ]).flat(),
      ...hfLayerNorm('encoder.encoder_norm', 'encoder.layer_norm'),
      ...hfTransformerWeights(c.model, BLOCK),
    ];
  },
  /** input_values [B, L]: raw (already normalised) 16 kHz samples, every row real (no padding). */
  batchFromInput: (input) => {
    if (input.rank !== 2) throw new ShapeError(`input_values must be [B, L], got [${input.shape}]`);
    const [b, len] = input.shape as [number, number];
    const data = input.dataSync() as Float32Array;
    return collateAudio(Array.from({ length: b }, (_, i) => ({ audio: data.slice(i * len, (i + 1) * len) })));
  },
};
