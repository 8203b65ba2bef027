/**
 * What several vision test files set up alike. `small`: the tiny preset's code path on the real
 * bundled images with fewer FLOPs.
 */
export const small = { 'model.dim': 48, 'model.depth': 3, 'model.heads': 2, 'model.ffnDim': 96, 'objective.topK': 2, 'objective.lossScale': 1 / 48, 'train.batchSize': 16 };
