/**
 * `quick` presets: a modality's default run shortened for a first look in about three minutes on
 * 2 CPU cores. The schedule keeps its shape: warm-up and the EMA's anneal shrink with the run, one
 * checkpoint is written at the end. The collapse guard keeps its start (a short run ends before it).
 */
import { ConfigError } from '../errors.js';
import type { ConfigTree } from './schema.js';

type Section = Record<string, unknown>;

export function quickPreset(base: ConfigTree, steps: number): ConfigTree {
  const train = (base['train'] ?? {}) as Section;
  const baseSteps = train['steps'];
  if (typeof baseSteps !== 'number' || !(steps >= 1 && steps <= baseSteps)) {
    throw new ConfigError(`quickPreset: ${steps} updates must be between 1 and the base preset's train.steps (${String(baseSteps)})`, 'train.steps');
  }
  const scale = (v: unknown) => (typeof v === 'number' ? Math.max(1, Math.round((v * steps) / baseSteps)) : v);
  const optim = (base['optim'] ?? {}) as Section;
  const objective = (base['objective'] ?? {}) as Section;
  return {
    ...base,
    train: { ...train, steps, checkpointEvery: steps },
    ...(optim['warmupSteps'] !== undefined ? { optim: { ...optim, warmupSteps: scale(optim['warmupSteps']) } } : {}),
    ...(objective['emaAnnealSteps'] !== undefined ? { objective: { ...objective, emaAnnealSteps: scale(objective['emaAnnealSteps']) } } : {}),
  } as ConfigTree;
}
