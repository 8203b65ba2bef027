/**
 * What several speech test files set up alike. `small`: the tiny preset's code path on the
 * bundled espeak-small corpus (7 convs, 50 frames/s, span masking, post-LN blocks, EMA teacher)
 * with few FLOPs and 1 s crops.
 */
export const small = {
  'speech.convChannels': [32, 32, 32, 32, 32, 32, 32],
  'speech.posConvLayers': 1,
  'model.dim': 48,
  'model.depth': 2,
  'model.heads': 2,
  'model.ffnDim': 96,
  'objective.topK': 2,
  'data.maxSampleLength': 16000,
  'train.batchSize': 4,
};
