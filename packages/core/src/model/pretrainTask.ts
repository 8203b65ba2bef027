/** The pretraining task a config asks for: data2vec 1.0 or 2.0 (`objective.version`). */
import { Data2VecPretrainTask } from './data2vec.js';
import { Data2Vec2PretrainTask } from './data2vec2.js';
import type { Data2VecTaskBase } from './base.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { DataSource, AnyModality } from '../registry/modality.js';

/** Either version, seen through what they share (prepare's result is opaque to callers). */
export type PretrainTask = Data2VecTaskBase<unknown>;

/** Builds the modality's data2vec task for `config` on `data`, with the modality's masker for that version. */
export function createPretrainTask(modality: AnyModality, config: ResolvedConfig, data: DataSource): PretrainTask {
  const masker = modality.createMasker(config);
  return config.objective.version === 2 ? new Data2Vec2PretrainTask(modality, config, data, masker) : new Data2VecPretrainTask(modality, config, data, masker);
}
