/** Learning-rate schedules as pure functions of the update number. */
import { ConfigError } from '../errors.js';

/** The learning-rate schedules (the choices of optim.schedule and finetune.schedule). */
export const SCHEDULE_NAMES = ['cosine', 'tri-stage', 'constant', 'linear'] as const;
export type ScheduleName = (typeof SCHEDULE_NAMES)[number];

export interface ScheduleConfig {
  schedule: ScheduleName;
  lr: number;
  /** Total updates of the run. */
  totalSteps: number;
  /** Linear warm-up updates (cosine, constant, linear). */
  warmupSteps: number;
  /** cosine: final lr as a fraction of lr. tri-stage: lr at the end of decay. */
  finalLrScale: number;
  /** tri-stage: lr at the start of warm-up as a fraction of lr. */
  initLrScale: number;
  /** tri-stage: fractions of totalSteps for warm-up, hold and decay (fairseq's phase_ratio). */
  phaseRatios: readonly number[];
}

export function learningRate(step: number, c: ScheduleConfig): number {
  const total = Math.max(1, c.totalSteps);
  switch (c.schedule) {
    case 'constant':
      return step < c.warmupSteps ? (c.lr * (step + 1)) / c.warmupSteps : c.lr;
    case 'linear': {
      if (step < c.warmupSteps) return (c.lr * (step + 1)) / c.warmupSteps;
      const p = (step - c.warmupSteps) / Math.max(1, total - c.warmupSteps);
      return c.lr * Math.max(0, 1 - p);
    }
    case 'cosine': {
      if (step < c.warmupSteps) return (c.lr * (step + 1)) / c.warmupSteps;
      const p = Math.min(1, (step - c.warmupSteps) / Math.max(1, total - c.warmupSteps));
      const floor = c.lr * c.finalLrScale;
      return floor + (c.lr - floor) * 0.5 * (1 + Math.cos(Math.PI * p));
    }
    case 'tri-stage': {
      checkPhaseRatios(c.phaseRatios);
      const [wr, hr] = c.phaseRatios;
      const w = Math.round(wr * total);
      const h = Math.round(hr * total);
      const d = Math.max(1, total - w - h);
      const init = c.lr * c.initLrScale;
      if (step < w) return init + ((c.lr - init) * step) / Math.max(1, w);
      if (step < w + h) return c.lr;
      // Exponential decay from lr to finalLrScale * lr over the decay phase (as fairseq's tri-stage).
      const p = Math.min(1, (step - w - h) / d);
      // At p = 0 the decay has not started (and log(0) * 0 would be NaN for finalLrScale 0).
      return p === 0 ? c.lr : c.lr * Math.exp(Math.log(c.finalLrScale) * p);
    }
    default:
      throw new ConfigError(`unknown optim.schedule '${c.schedule as string}': use cosine, tri-stage, constant or linear`, 'optim.schedule');
  }
}

/** Tri-stage phases: three fractions (warm-up, hold, decay) summing to 1. */
export function checkPhaseRatios(ratios: readonly number[]): void {
  if (ratios.length !== 3 || Math.abs(ratios.reduce((a, b) => a + b, 0) - 1) > 1e-6) {
    throw new ConfigError(`optim.phaseRatios must be three fractions (warm-up, hold, decay) summing to 1 (got ${ratios.join(', ')})`, 'optim.phaseRatios');
  }
}
