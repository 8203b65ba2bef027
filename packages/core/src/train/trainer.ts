/**
 * The training loop shared by pretraining and fine-tuning: AdamW, lr
 * schedule, gradient accumulation and clipping, NaN/Inf stop, progress bar,
 * JSONL metrics, atomic checkpoints with resume, plots at the end.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdamW, clipByGlobalNorm } from '../optim/adamw.js';
import { learningRate } from '../optim/schedule.js';
import { stepRng } from './stepRng.js';
import type { TrainTask } from './task.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { DivergenceError, CheckpointError } from '../errors.js';
import { CheckpointManager } from '../io/checkpoint.js';
import { writeFileAtomic } from '../io/atomic.js';
import { MetricsLog } from '../report/metrics.js';
import { ProgressBar } from '../report/progress.js';
import { plotTrainingCurves } from '../report/plot.js';
import type { GradientWorkers } from './parallel.js';

/** Keys that may differ between a checkpoint and the run resuming it. */
export const RESUME_IGNORED_KEYS = ['train.steps', 'out', 'resume', 'backend', 'train.logEvery', 'train.checkpointEvery', 'train.keepLast', 'train.workers'];

export interface TrainerOptions {
  config: ResolvedConfig;
  /** Where checkpoints, metrics and plots go (default config.out). */
  runDir?: string;
  /** Label on the progress bar. */
  label?: string;
  log?: (msg: string) => void;
  /** Stop after this many updates in this process (tests of crash + resume). */
  stopAfter?: number;
  /** Draw loss/variance plots when the run ends (default true). */
  plots?: boolean;
  /** Progress stream (default stderr). */
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Data-parallel replicas that compute part of each update's micro-batches. */
  workers?: GradientWorkers;
  /** Called after every update with its record (tests watch tensor counts here). */
  onStep?: (record: StepRecord) => void;
}

export interface StepRecord {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  [metric: string]: number;
}

export interface TrainResult {
  /** Updates completed in total (including before a resume). */
  step: number;
  /** Loss of every update run by this process, in order. */
  losses: number[];
  runDir: string;
  lastCheckpoint?: string;
  /** Seconds per update (median) in this process. */
  secondsPerStep: number;
  itemsPerSecond: number;
}

export class Trainer {
  private readonly config: ResolvedConfig;
  private readonly runDir: string;
  private readonly log: (msg: string) => void;

  constructor(
    private readonly task: TrainTask<any>,
    private readonly opts: TrainerOptions,
  ) {
    this.config = opts.config;
    this.runDir = opts.runDir ?? opts.config.out;
    this.log = opts.log ?? ((m) => console.error(m));
  }

  async run(): Promise<TrainResult> {
    const { config, task, runDir } = this;
    const { train, optim } = config;
    mkdirSync(runDir, { recursive: true });
    writeFileAtomic(join(runDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');

    const optimizer = new AdamW(task.trainableParams(), optim);
    const variables = optimizer.variables;
    const ckpt = new CheckpointManager(runDir, { keepLast: train.keepLast });
    const metrics = new MetricsLog(runDir);
    let start = 0;
    let lastCheckpoint: string | undefined;

    if (config.resume) {
      const dir = ckpt.latestDir();
      if (!dir) {
        this.log(`d2v: --resume given but ${runDir} has no checkpoint yet; starting from step 0`);
      } else {
        const loaded = await ckpt.load(dir, { expectConfig: config, ignoreKeys: RESUME_IGNORED_KEYS });
        try {
          task.restore(loaded.groups, dir);
          const optState = loaded.groups['optimizer'];
          if (!optState) throw new CheckpointError(dir, 'has no optimizer state');
          optimizer.loadState(optState, Number(loaded.state['optimizerSteps'] ?? loaded.step), dir);
        } finally {
          loaded.dispose();
        }
        start = loaded.step;
        lastCheckpoint = dir;
        metrics.truncateAfter(start);
        this.log(`d2v: resumed from ${dir} at step ${start}`);
      }
    }

    this.log(`d2v: ${task.describe()}`);
    const total = train.steps;
    const k = optim.accumulate;
    const items = task.itemsPerMicroBatch();
    const bar = new ProgressBar({ total, label: this.opts.label ?? config.modality, stream: this.opts.progressStream, unit: items.unit, plainEvery: train.logEvery, startStep: start });
    const losses: number[] = [];
    const stepTimes: number[] = [];
    const stopAt = this.opts.stopAfter !== undefined ? Math.min(total, start + this.opts.stopAfter) : total;

    const save = async (step: number) => {
      lastCheckpoint = await ckpt.save({
        step,
        groups: { ...task.checkpointGroups(), optimizer: optimizer.state() },
        state: { step, optimizerSteps: optimizer.t, rng: { kind: 'counter', seed: config.seed, nextMicroBatch: step * k } },
        config: config as unknown as Record<string, unknown>,
      });
    };

    try {
      for (let step = start; step < stopAt; step++) {
        const t0 = performance.now();
        const lr = learningRate(step, { ...optim, totalSteps: total });
        const { grads, loss, extra } = this.accumulate(step, k, variables);
        if (!Number.isFinite(loss)) {
          tf.dispose(grads);
          throw new DivergenceError(
            step,
            `loss is ${loss} at step ${step}; stopping without applying the update. ` +
              (lastCheckpoint ? `The last good checkpoint is ${lastCheckpoint}.` : 'No checkpoint was written yet.') +
              ' Lower optim.lr or raise optim.warmupSteps.',
          );
        }
        const clipped = clipByGlobalNorm(grads, optim.clipNorm);
        tf.dispose(grads);
        optimizer.apply(clipped.grads, lr);
        tf.dispose(clipped.grads);
        const after = task.afterUpdate?.(step) ?? {};
        const record: StepRecord = { step: step + 1, loss, lr, grad_norm: clipped.norm, ...extra, ...after };
        task.check?.(step + 1, record);
        losses.push(loss);
        const dt = (performance.now() - t0) / 1000;
        stepTimes.push(dt);
        record['sec'] = dt;
        if ((step + 1) % train.logEvery === 0 || step + 1 === total || step === start) metrics.log(record);
        bar.update(step + 1, { loss, lr }, items.count * k);
        this.opts.onStep?.(record);
        if ((step + 1) % train.checkpointEvery === 0 || step + 1 === total) await save(step + 1);
      }
    } finally {
      bar.finish();
      optimizer.dispose();
    }
    if (this.opts.plots ?? true) {
      try {
        await plotTrainingCurves(runDir);
      } catch (err) {
        this.log(`d2v: could not draw plots: ${(err as Error).message}`);
      }
    }
    const sorted = [...stepTimes].sort((a, b) => a - b);
    const med = sorted.length ? sorted[Math.floor(sorted.length / 2)]! : 0;
    const result: TrainResult = {
      step: stopAt,
      losses,
      runDir,
      lastCheckpoint,
      secondsPerStep: med,
      itemsPerSecond: med > 0 ? (items.count * k) / med : 0,
    };
    writeFileSync(join(runDir, 'train-summary.json'), JSON.stringify({ ...result, losses: undefined, lastLoss: losses.at(-1) }, null, 2) + '\n');
    return result;
  }

  /** Averages loss, metrics and gradients over `k` micro-batches (spread over worker threads if any). */
  private accumulate(step: number, k: number, variables: tf.Variable[]) {
    const { task, config } = this;
    const workers = this.opts.workers;
    const threads = 1 + (workers?.count ?? 0);
    const per = Math.ceil(k / threads);
    const jobs: { start: number; count: number }[] = [];
    for (let s = per; s < k; s += per) jobs.push({ start: step * k + s, count: Math.min(per, k - s) });
    if (jobs.length) workers!.start(jobs);

    let grads: tf.Tensor[] | undefined;
    let loss = 0;
    const extra: Record<string, number> = {};
    const add = (list: tf.Tensor[]) => {
      if (!grads) grads = list;
      else {
        const sum: tf.Tensor[] = grads.map((g, i) => tf.add(g, list[i]!));
        tf.dispose(grads);
        tf.dispose(list);
        grads = sum;
      }
    };
    for (let j = 0; j < Math.min(per, k); j++) {
      const index = step * k + j;
      const rng = stepRng(config.seed, index);
      const prepared = task.prepare?.(index, rng);
      let kept: Record<string, tf.Scalar> = {};
      try {
        const { value, grads: named } = tf.variableGrads(() => {
          const r = task.loss(index, rng, prepared);
          kept = r.metrics ?? {};
          for (const m of Object.values(kept)) tf.keep(m);
          return r.loss;
        }, variables);
        loss += value.dataSync()[0]!;
        value.dispose();
        for (const [name, t] of Object.entries(kept)) extra[name] = (extra[name] ?? 0) + t.dataSync()[0]!;
        // A variable the loss did not reach this step (e.g. a block skipped by layer drop) gets a zero gradient.
        add(variables.map((v) => named[v.name] ?? tf.zerosLike(v)));
      } finally {
        tf.dispose(Object.values(kept));
        if (prepared !== undefined) task.release?.(prepared);
      }
    }
    jobs.forEach((_, w) => {
      const r = workers!.collect(w);
      loss += r.loss;
      for (const [name, v] of Object.entries(r.metrics)) extra[name] = (extra[name] ?? 0) + v;
      add(r.grads);
    });
    for (const name of Object.keys(extra)) extra[name]! /= k;
    const averaged = k === 1 ? grads! : grads!.map((g) => tf.div(g, k));
    if (k > 1) tf.dispose(grads!);
    return { grads: averaged, loss: loss / k, extra };
  }
}
