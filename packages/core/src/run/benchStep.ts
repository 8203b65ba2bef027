/**
 * Throughput of a modality's pretraining step (student forward + backward,
 * teacher forward, optimiser and EMA update): samples/s, tokens/s, achieved
 * GFLOP/s from an analytic FLOP count of the Transformer, that rate as a
 * fraction of a plain matMul measured in the same process, peak RSS and tfjs
 * memory. Used by `npm run bench`; not a test. Also calibrateUpdateSeconds: the update time of a
 * config, for evidence scripts that plan their runs to a time budget.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pretrain, prepareRun, buildPretrainTask, toMap, type RunOptions } from './commands.js';
import { ConfigError } from '../errors.js';
import { readMetrics } from '../report/metrics.js';
import { stepRng } from '../train/stepRng.js';
import type { AnyModality } from '../registry/modality.js';
import type { ResolvedConfig } from '../config/resolve.js';

export interface StepBenchOptions {
  modality: string | AnyModality;
  preset?: string;
  overrides?: Record<string, unknown>;
  /** Measured updates after warm-up. */
  steps: number;
  warmup: number;
}

export interface StepBenchResult {
  modality: string;
  /** 'data2vec 1.0' or 'data2vec 2.0 x M copies'. */
  objective: string;
  backend: string;
  workers: number;
  samplesPerUpdate: number;
  tokensPerSample: number;
  secondsPerUpdate: { median: number; min: number; max: number };
  samplesPerSecond: number;
  tokensPerSecond: number;
  /** Steps the loss is computed on per sample (masked steps x masked copies) and per second. */
  maskedPerSample: number;
  maskedPerSecond: number;
  /** The teacher's share of the update's FLOPs. */
  teacherShare: number;
  gflopPerUpdate: number;
  gflopsAchieved: number;
  matmulGflops: number;
  fractionOfMatmul: number;
  /** The achieved rate over (matMul rate x threads): the share of the machine's matmul peak used. */
  fractionPerThread: number;
  peakRssMiB: number;
  tfjsMiB: number;
}

/** FLOPs of one Transformer forward over `tokens` tokens (matmuls only; 2 per multiply-add). */
export function transformerForwardFlops(depth: number, dim: number, ffn: number, tokensPerSample: number, samples: number): number {
  const n = tokensPerSample * samples;
  const dense = 2 * n * (4 * dim * dim + 2 * dim * ffn);
  const attention = 2 * 2 * samples * tokensPerSample * tokensPerSample * dim;
  return depth * (dense + attention);
}

/**
 * FLOPs of one pretraining update, and the teacher's part. data2vec 1.0: the student's Transformer
 * forward + backward (3x) and the teacher's forward (1x) over every token. data2vec 2.0: the
 * teacher's forward over every token once per sample; the student's 3x over the extra tokens and
 * the visible steps of each masked copy; the decoder's 3x over every step of each copy. The feature
 * encoder counts 3x (student) and 1x more when the teacher has its own EMA copy; a shared encoder's
 * features are computed once and reused by the teacher.
 */
export function pretrainFlops(
  config: ResolvedConfig,
  s: { tokens: number; steps: number; maskedPerCopy: number; samples: number; encoderForward: number },
): { total: number; teacher: number } {
  const m = config.model;
  const o = config.objective;
  const encoder = s.encoderForward * s.samples;
  const teacher = transformerForwardFlops(m.depth, m.dim, m.ffnDim, s.tokens, s.samples) + (o.emaEncoder ? encoder : 0);
  if (o.version !== 2) return { total: 3 * transformerForwardFlops(m.depth, m.dim, m.ffnDim, s.tokens, s.samples) + 3 * encoder + teacher, teacher };
  const copies = s.samples * o.clones;
  const student = transformerForwardFlops(m.depth, m.dim, m.ffnDim, s.tokens - s.maskedPerCopy, copies);
  const d = o.decoder;
  const taps = d.conv === '2d' ? d.kernel * d.kernel : d.kernel;
  let decoder = 0;
  for (let i = 0; i < d.layers; i++) decoder += 2 * copies * s.steps * taps * ((i === 0 ? m.dim : d.dim) * d.dim) / d.groups;
  decoder += 2 * copies * s.steps * (o.headLayers === 1 ? d.dim * m.dim : 2 * d.dim * d.dim + 2 * d.dim * m.dim);
  return { total: 3 * (student + decoder) + 3 * encoder + teacher, teacher };
}

/** Plain 2-D matMul rate on the active backend, GFLOP/s (median of 7). */
export function matmulRate(): number {
  const a = tf.randomNormal([2048, 256]);
  const b = tf.randomNormal([256, 1024]);
  const run = () => tf.tidy(() => tf.slice(tf.reshape(tf.matMul(a, b), [-1]), 0, 1).dataSync());
  run();
  const ts: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    run();
    ts.push(performance.now() - t0);
  }
  tf.dispose([a, b]);
  ts.sort((x, y) => x - y);
  return (2 * 2048 * 256 * 1024) / ts[3]! / 1e6;
}

export async function benchPretrainStep(o: StepBenchOptions): Promise<StepBenchResult> {
  const out = mkdtempSync(join(tmpdir(), 'd2v-bench-'));
  const overrides = { ...o.overrides, out, 'train.steps': o.warmup + o.steps, 'train.checkpointEvery': 1e9, 'train.logEvery': 1 };
  const { modality, config } = await prepareRun({ modality: o.modality, preset: o.preset, overrides });
  // Tokens per sample (the Transformer input length of one real batch, extra tokens included) and
  // masked steps per sample (what the loss is computed on, per masked copy).
  const probe = await buildPretrainTask(modality, config, () => {});
  const batch = (await modality.createData(config, 'train')).batch(0, 2, stepRng(config.seed, 0));
  const tokens = tf.tidy(() => probe.encoder.embed(probe.encoder.features(batch, { training: false }), { training: false }).x.shape[1]!);
  const mask = probe.masker.mask(batch, stepRng(config.seed, 1));
  const maskedPerCopy = mask.lossIndices.length / batch.size;
  const steps = mask.length;
  mask.studentBatch?.dispose();
  batch.dispose();
  probe.dispose();
  const matmul = matmulRate();
  const times: number[] = [];
  let peakRss = process.memoryUsage().rss;
  let tfBytes = 0;
  const r = await pretrain({
    modality: o.modality,
    preset: o.preset,
    overrides,
    plots: false,
    log: () => {},
    progressStream: { write: () => true, isTTY: false } as never,
  });
  // Per-update wall times come from the trainer's own metrics records.
  for (const rec of readMetrics(join(out, 'metrics.jsonl'))) if (rec.step > o.warmup && typeof rec['sec'] === 'number') times.push(rec['sec']);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  tfBytes = tf.memory().numBytes;
  rmSync(out, { recursive: true, force: true });
  if (!times.length) times.push(r.secondsPerStep);
  times.sort((a, b) => a - b);
  const med = times[Math.floor(times.length / 2)]!;
  const samples = config.train.batchSize * config.optim.accumulate;
  const flops = pretrainFlops(config, { tokens, steps, maskedPerCopy, samples, encoderForward: modality.encoderForwardFlops?.(config, tokens) ?? 0 });
  const gflop = flops.total / 1e9;
  const clones = config.objective.version === 2 ? config.objective.clones : 1;
  return {
    modality: modality.name,
    objective: config.objective.version === 2 ? `data2vec 2.0 x ${clones}` : 'data2vec 1.0',
    backend: config.backend,
    workers: config.train.workers,
    samplesPerUpdate: samples,
    tokensPerSample: tokens,
    secondsPerUpdate: { median: med, min: times[0]!, max: times.at(-1)! },
    samplesPerSecond: samples / med,
    tokensPerSecond: (samples * tokens) / med,
    maskedPerSample: maskedPerCopy * clones,
    maskedPerSecond: (samples * maskedPerCopy * clones) / med,
    teacherShare: flops.teacher / flops.total,
    gflopPerUpdate: gflop,
    gflopsAchieved: gflop / med,
    matmulGflops: matmul,
    fractionOfMatmul: gflop / med / matmul,
    fractionPerThread: gflop / med / matmul / (1 + config.train.workers),
    peakRssMiB: peakRss / 2 ** 20,
    tfjsMiB: tfBytes / 2 ** 20,
  };
}

export function benchTable(rows: StepBenchResult[]): string {
  const lines = [
    '| modality | objective | backend | workers | samples/update | s/update (median, min-max) | samples/s | tokens/s | masked steps/s | teacher share | GFLOP/s | matMul GFLOP/s (1 thread) | of matMul | per thread | peak RSS MiB | tfjs MiB |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.modality} | ${r.objective} | ${r.backend} | ${r.workers} | ${r.samplesPerUpdate} | ${r.secondsPerUpdate.median.toFixed(2)} (${r.secondsPerUpdate.min.toFixed(2)}-${r.secondsPerUpdate.max.toFixed(2)}) | ${r.samplesPerSecond.toFixed(1)} | ${r.tokensPerSecond.toFixed(0)} | ${r.maskedPerSecond.toFixed(0)} | ${(100 * r.teacherShare).toFixed(0)}% | ${r.gflopsAchieved.toFixed(1)} | ${r.matmulGflops.toFixed(1)} | ${(100 * r.fractionOfMatmul).toFixed(0)}% | ${(100 * r.fractionPerThread).toFixed(0)}% | ${r.peakRssMiB.toFixed(0)} | ${r.tfjsMiB.toFixed(0)} |`,
    );
  }
  return lines.join('\n');
}

/**
 * Seconds per pretraining update of a config, from a short silent run into `out`: the median over
 * the updates after the first `warmup` (slower while worker threads start and kernels warm up;
 * counting them made the evidence scripts plan 40% fewer updates than their budget allowed).
 */
export async function calibrateUpdateSeconds(o: RunOptions & { out: string; steps?: number; warmup?: number }): Promise<number> {
  const steps = o.steps ?? 6;
  const warmup = o.warmup ?? 2;
  if (steps <= warmup) throw new ConfigError(`calibration needs more steps (${steps}) than warm-up updates (${warmup})`, 'train.steps');
  // A calibration folder holds nothing worth keeping: each calibration replaces the last.
  const overrides = { ...Object.fromEntries(toMap(o.overrides)), out: o.out, overwrite: true, 'train.steps': steps, 'train.logEvery': 1, 'train.checkpointEvery': steps };
  const r = await pretrain({ ...o, overrides, plots: false, log: () => {}, progressStream: { write: () => true, isTTY: false } as never });
  const secs = readMetrics(join(r.runDir, 'metrics.jsonl'))
    .filter((m) => m.step > warmup && typeof m['sec'] === 'number')
    .map((m) => m['sec'] as number)
    .sort((a, b) => a - b);
  return secs.length ? secs[Math.floor(secs.length / 2)]! : r.secondsPerStep;
}
