/**
 * The training loop shared by pretraining and fine-tuning: AdamW, lr
 * schedule, gradient accumulation and clipping, the non-finite guard (an
 * update whose loss or gradient norm is NaN/Inf is skipped and counted; too
 * many in a row stop the run), progress bar, JSONL metrics, atomic
 * checkpoints with resume, plots at the end.
 */
import * as tf from '@tensorflow/tfjs-core';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdamW } from '../optim/adamw.js';
import { learningRate } from '../optim/schedule.js';
import { microStep, type MicroStepResult } from './microStep.js';
import type { TrainTask } from './task.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { DivergenceError, CheckpointError } from '../errors.js';
import { CheckpointManager } from '../io/checkpoint.js';
import { MetricsLog } from '../report/metrics.js';
import { writeSkippedFiles } from '../report/skipped.js';
import { ProgressBar } from '../report/progress.js';
import { plotTrainingCurves } from '../report/plot.js';
import type { GradientWorkers } from './parallel.js';
import { applyGuardedUpdate, type UpdateOutcome } from './update.js';
import { planRun, startRun } from './runFolder.js';

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
  /** Config section whose lr and warmupSteps a divergence message advises changing (fine-tuning: 'finetune'). Default 'optim'. */
  optimSection?: 'optim' | 'finetune';
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
  /** Updates this process skipped because their loss or gradient norm was NaN/Infinity. */
  skippedUpdates: number;
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
    // Nothing is written before the folder is known to be this run's (and a resume's config to match).
    const plan = planRun(config, runDir);
    for (const note of plan.notes) this.log(`d2v: ${note}`);
    startRun(plan, config);
    const unreadable = task.skippedFiles?.() ?? [];
    if (unreadable.length) this.log(`d2v: ${unreadable.length} unreadable input file(s) were left out; all of them, with reasons: ${writeSkippedFiles(runDir, unreadable)}`);

    const optimizer = new AdamW(task.trainableParams(), optim);
    const variables = optimizer.variables;
    const ckpt = new CheckpointManager(runDir, { keepLast: train.keepLast });
    const metrics = new MetricsLog(runDir);
    let start = 0;
    /** The newest checkpoint written or resumed from: never holds a non-finite value (CheckpointManager refuses those). */
    let lastGood: { dir: string; step: number } | undefined;
    // A resumed run starts a fresh count: resuming (often with a lower lr) is the intervention the stop asked for.
    let skippedInARow = 0;
    let skippedUpdates = 0;

    if (config.resume) {
      const from = plan.resumeFrom;
      if (from) {
        const loaded = await ckpt.load(from.dir);
        try {
          task.restore(loaded.groups, from.dir);
          const optState = loaded.groups['optimizer'];
          if (!optState) throw new CheckpointError(from.dir, 'has no optimizer state');
          optimizer.loadState(optState, Number(loaded.state['optimizerSteps'] ?? loaded.step), from.dir);
        } finally {
          loaded.dispose();
        }
        start = loaded.step;
        lastGood = from;
        this.log(`d2v: resumed from ${from.dir} at step ${start}${start === train.steps ? ' (already complete: nothing to do)' : ''}`);
      }
      // Records after the resumed step (all of them without a checkpoint) are logged again below.
      metrics.truncateAfter(start);
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
      const dir = await ckpt.save({
        step,
        groups: { ...task.checkpointGroups(), optimizer: optimizer.state() },
        state: { step, optimizerSteps: optimizer.t, rng: { kind: 'counter', seed: config.seed, nextMicroBatch: step * k } },
        config,
      });
      lastGood = { dir, step };
    };

    try {
      for (let step = start; step < stopAt; step++) {
        const t0 = performance.now();
        // `step` updates are done; this is update number `n`, the step that metrics and checkpoints name.
        const n = step + 1;
        const lr = learningRate(step, { ...optim, totalSteps: total });
        const { grads, loss, extra } = this.accumulate(step, k, variables);
        let update: UpdateOutcome;
        try {
          update = applyGuardedUpdate(optimizer, grads, lr, optim.clipNorm, loss);
        } finally {
          tf.dispose(grads);
        }
        const record: StepRecord = { step: n, loss, lr, grad_norm: update.gradNorm, ...extra };
        if (update.nonFiniteParam) {
          metrics.log(record);
          throw new DivergenceError(
            n,
            `parameter ${update.nonFiniteParam} holds NaN/Infinity after update ${n} (loss ${loss}, gradient norm ${update.gradNorm}), so the run stops. ${this.recovery(lastGood)}`,
          );
        }
        if (update.applied) {
          skippedInARow = 0;
          Object.assign(record, task.afterUpdate?.(step) ?? {});
          task.check?.(n, record);
        } else {
          skippedInARow++;
          skippedUpdates++;
          record['skipped'] = 1;
          metrics.log(record);
          const what = Number.isFinite(loss) ? `gradient norm is ${update.gradNorm}` : `loss is ${loss}`;
          if (skippedInARow > optim.maxNonFiniteSkips) {
            throw new DivergenceError(
              n,
              `${what} at step ${n}: ${skippedInARow} update(s) in a row could not be applied (optim.maxNonFiniteSkips is ${optim.maxNonFiniteSkips}), so the run stops. ${this.recovery(lastGood, skippedInARow === n - start ? plan.resumeFrom : undefined)}`,
            );
          }
          this.log(`d2v: step ${n}: ${what}; update skipped, weights unchanged (${skippedInARow} in a row; the run stops after ${optim.maxNonFiniteSkips})`);
        }
        losses.push(loss);
        const dt = (performance.now() - t0) / 1000;
        stepTimes.push(dt);
        record['sec'] = dt;
        if (update.applied && (n % train.logEvery === 0 || n === total || step === start)) metrics.log(record);
        bar.update(n, { loss, lr }, items.count * k);
        this.opts.onStep?.(record);
        if (n % train.checkpointEvery === 0 || n === total) await save(n);
      }
    } finally {
      bar.finish();
      metrics.close();
      optimizer.dispose();
    }
    if (skippedUpdates) this.log(`d2v: ${skippedUpdates} update(s) skipped (NaN/Infinity loss or gradients); see "skipped" in ${metrics.file}`);
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
      lastCheckpoint: lastGood?.dir,
      secondsPerStep: med,
      itemsPerSecond: med > 0 ? (items.count * k) / med : 0,
      skippedUpdates,
    };
    writeFileSync(join(runDir, 'train-summary.json'), JSON.stringify({ ...result, losses: undefined, lastLoss: losses.at(-1) }, null, 2) + '\n');
    return result;
  }

  /**
   * What to do after a divergence: the last good checkpoint and the options to change.
   * `resumedInVain`: the checkpoint this run resumed from, when not one update could be applied since.
   */
  private recovery(lastGood: { dir: string; step: number } | undefined, resumedInVain?: { dir: string; step: number }): string {
    const section = this.opts.optimSection ?? 'optim';
    const cfg = this.config[section];
    const change = `a lower --${section}.lr (now ${cfg.lr}) or a longer --${section}.warmupSteps (now ${cfg.warmupSteps})`;
    if (!lastGood) return `No checkpoint was written yet: start again with --overwrite and ${change}.`;
    // Finite weights can still be past saving (huge but finite updates before the gradients overflowed).
    if (resumedInVain) {
      return `No update could be applied since resuming from ${resumedInVain.dir} (step ${resumedInVain.step}): its weights are finite but already diverged; start again with --overwrite and ${change}.`;
    }
    return `The last good checkpoint is ${lastGood.dir} (step ${lastGood.step}): continue from it with --resume and ${change}.`;
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
    // Sums of loss, of each metric by name and of the gradients; averaged over the k micro-batches below.
    const add = (r: MicroStepResult) => {
      loss += r.loss;
      for (const [name, v] of Object.entries(r.metrics)) extra[name] = (extra[name] ?? 0) + v;
      if (!grads) grads = r.grads;
      else {
        const sum: tf.Tensor[] = grads.map((g, i) => tf.add(g, r.grads[i]!));
        tf.dispose(grads);
        tf.dispose(r.grads);
        grads = sum;
      }
    };
    for (let j = 0; j < Math.min(per, k); j++) add(microStep(task, variables, config.seed, step * k + j));
    jobs.forEach((_, w) => add(workers!.collect(w)));
    for (const name of Object.keys(extra)) extra[name]! /= k;
    const averaged = k === 1 ? grads! : grads!.map((g) => tf.div(g, k));
    if (k > 1) tf.dispose(grads!);
    return { grads: averaged, loss: loss / k, extra };
  }
}
