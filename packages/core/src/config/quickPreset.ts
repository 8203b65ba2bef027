/**
 * `quick` presets: a modality's default run shortened for a first look in about three minutes on
 * 2 CPU cores. The schedule keeps its shape: warm-up and the EMA's anneal shrink with the run, one
 * checkpoint is written at the end. The collapse guard keeps its start (a short run ends before it).
 */
import { ConfigError } from '../errors.js';

/** A preset section: quickPreset reads a few of its options and keeps the others. */
type Section<K extends string> = { readonly [option: string]: unknown } & { readonly [k in K]?: number };

/** The options of a preset that quickPreset reads (any modality's preset may set these). */
interface QuickBase {
  readonly train?: Section<'steps'>;
  readonly optim?: Section<'warmupSteps'>;
  readonly objective?: Section<'emaAnnealSteps'>;
}

export function quickPreset<P extends QuickBase>(base: P, steps: number): P {
  const baseSteps = base.train?.steps;
  if (baseSteps === undefined || !(steps >= 1 && steps <= baseSteps)) {
    throw new ConfigError(`quickPreset: ${steps} updates must be between 1 and the base preset's train.steps (${String(baseSteps)})`, 'train.steps');
  }
  const scale = (v: number) => Math.max(1, Math.round((v * steps) / baseSteps));
  const { optim, objective } = base;
  return {
    ...base,
    train: { ...base.train, steps, checkpointEvery: steps },
    ...(optim?.warmupSteps !== undefined ? { optim: { ...optim, warmupSteps: scale(optim.warmupSteps) } } : {}),
    ...(objective?.emaAnnealSteps !== undefined ? { objective: { ...objective, emaAnnealSteps: scale(objective.emaAnnealSteps) } } : {}),
  };
}
