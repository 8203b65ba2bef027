/**
 * What several text test files set up alike. `small`: the tiny preset's code path on the bundled
 * corpus and spam data with few FLOPs.
 */
export const small = {
  'model.dim': 64,
  'model.depth': 2,
  'model.heads': 2,
  'model.ffnDim': 128,
  'objective.topK': 2,
  'text.blockSize': 48,
  'finetune.maxTokens': 48,
  'train.batchSize': 8,
};
