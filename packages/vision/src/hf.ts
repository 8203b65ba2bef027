/**
 * Vision's ViT as Hugging Face transformers' Data2VecVisionModel (the BEiT layout): which config
 * keys and weights correspond, and how each weight is laid out. The mechanics are core's
 * (`HfMapping`); this is the table.
 */
import * as tf from '@tensorflow/tfjs-core';
import { HF_TRANSFORMER_KEYS, ShapeError, hfLayerNorm, hfTransformerWeights, type HfBlockNames, type HfMapping } from '@d2v/core';
import { patchify, type VisionBatch } from './batch.js';
import type { VisionConfig } from './schema.js';

/** One BEiT block (`encoder.layer.i`); its key projection has no bias. */
const BLOCK: HfBlockNames = {
  layer: 'encoder.layer.{i}',
  query: 'attention.attention.query',
  key: 'attention.attention.key',
  keyHasNoBias: true,
  value: 'attention.attention.value',
  out: 'attention.output.dense',
  norm1: 'layernorm_before',
  fc1: 'intermediate.dense',
  fc2: 'output.dense',
  norm2: 'layernorm_after',
  ls1: 'lambda_1',
  ls2: 'lambda_2',
};

export const visionHf: HfMapping<VisionConfig, VisionBatch> = {
  modelType: 'data2vec-vision',
  architecture: 'Data2VecVisionModel',
  prefix: 'data2vec_vision',
  inputName: 'pixel_values',
  config: [
    ...HF_TRANSFORMER_KEYS,
    { d2v: 'model.norm', value: 'pre', why: 'its blocks put the LayerNorm before attention and FFN (pre-LN)' },
    { d2v: 'vision.cls', value: true, why: 'it always prepends a CLS token (the presets hf-tiny and paper-base have one)' },
    // Without mean pooling the last hidden state is layer-normed: d2v's final norm.
    { hf: 'use_mean_pooling', d2v: 'model.finalNorm', values: [[true, false], [false, true]], hfDefault: true },
    { hf: 'layer_scale_init_value', d2v: 'model.layerScale', hfDefault: 0.1 },
    { hf: 'image_size', d2v: 'vision.imageSize', hfDefault: 224 },
    { hf: 'patch_size', d2v: 'vision.patchSize', hfDefault: 16 },
    { hf: 'num_channels', d2v: 'vision.channels', hfDefault: 3 },
    { hf: 'use_absolute_position_embeddings', d2v: 'vision.positions', values: [['learned', true], ['relative', false]], hfDefault: false },
    { hf: 'use_shared_relative_position_bias', d2v: 'vision.positions', values: [['learned', false], ['relative', true]], hfDefault: false },
    { hf: 'use_relative_position_bias', value: false, hfDefault: false, why: 'd2v shares one relative position bias across all blocks (no per-block tables)' },
    { hf: 'use_mask_token', value: true, lenient: true },
    { hf: 'hidden_dropout_prob', d2v: 'model.dropout', training: true },
    { hf: 'attention_probs_dropout_prob', d2v: 'model.attentionDropout', training: true },
    // d2v's layer drop skips whole blocks per batch, not HF's per-sample drop path.
    { hf: 'drop_path_rate', value: 0, training: true },
  ],
  weights: (c) => {
    const v = c.vision;
    return [
      { d2v: 'encoder.patch_embed.weight', hf: 'embeddings.patch_embeddings.projection.weight', layout: { kind: 'conv', kernel: [v.patchSize, v.patchSize] } },
      { d2v: 'encoder.patch_embed.bias', hf: 'embeddings.patch_embeddings.projection.bias' },
      { d2v: 'encoder.mask_emb', hf: 'embeddings.mask_token', layout: { kind: 'copy', hfRank: 3 }, optional: true },
      { d2v: 'encoder.cls_token', hf: 'embeddings.cls_token' },
      v.positions === 'learned'
        ? { d2v: 'encoder.pos_embed', hf: 'embeddings.position_embeddings' }
        : { d2v: 'encoder.rel_pos_bias', hf: 'encoder.relative_position_bias.relative_position_bias_table' },
      ...hfTransformerWeights(c.model, BLOCK),
      ...(c.model.finalNorm ? hfLayerNorm('transformer.norm', 'layernorm') : []),
    ];
  },
  /** pixel_values [B, C, H, W] (already normalised) -> patches, as the data pipeline cuts them. */
  batchFromInput: (input, c) => {
    const v = c.vision;
    const [b, ch, h, w] = input.shape;
    if (input.rank !== 4 || ch !== v.channels || h !== v.imageSize || w !== v.imageSize) {
      throw new ShapeError(`pixel_values must be [B, ${v.channels}, ${v.imageSize}, ${v.imageSize}] for this config, got [${input.shape}]`);
    }
    const s = v.imageSize;
    const p = v.patchSize;
    const n = (s / p) ** 2;
    const dim = p * p * ch;
    const chw = input.dataSync();
    const data = new Float32Array(b! * n * dim);
    const hwc = new Float32Array(s * s * ch);
    for (let i = 0; i < b!; i++) {
      for (let k = 0; k < ch; k++) for (let px = 0; px < s * s; px++) hwc[px * ch + k] = chw[(i * ch + k) * s * s + px]!;
      patchify(hwc, s, ch, p, data, i * n * dim);
    }
    const patches = tf.tensor3d(data, [b!, n, dim]);
    const labels = tf.zeros([b!], 'int32') as tf.Tensor1D;
    const batch: VisionBatch = { size: b!, patches, labels, labelIds: new Int32Array(b!), dispose: () => tf.dispose([patches, labels]) };
    return batch;
  },
};
