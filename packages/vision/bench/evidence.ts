/**
 * Evidence for @d2v/vision (a benchmark, not a test): pretrain the tiny preset for a time budget
 * on Fashion-MNIST, then compare
 *   - linear probe: pretrained encoder vs randomly initialised encoder vs raw pixels;
 *   - fine-tuning with 1000 labels (100 per class): from the pretrained encoder vs from scratch.
 * Writes results.json, accuracy.png and the pretraining loss curve into --out.
 *   npx tsx packages/vision/bench/evidence.ts [--minutes 15] [--data DIR] [--out runs/vision-evidence]
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initBackend, pretrain, finetune, evaluate, barChartPng, activeBackend, calibrateUpdateSeconds } from '@d2v/core';
import { modality, debianFashionMnistDir, bundledFashionMnistDir } from '../src/index.js';

const arg = (k: string, d: string) => {
  const i = process.argv.indexOf(`--${k}`);
  return i >= 0 ? process.argv[i + 1]! : d;
};
const minutes = Number(arg('minutes', '15'));
const data = arg('data', existsSync(debianFashionMnistDir()) ? debianFashionMnistDir() : bundledFashionMnistDir());
const out = resolve(arg('out', 'runs/vision-evidence'));
const probeTrain = Number(arg('probe-train', '10000'));
const probeTest = Number(arg('probe-test', '5000'));
const ftSteps = Number(arg('finetune-steps', '100'));
mkdirSync(out, { recursive: true });
const log = (m: string) => console.error(m);
await initBackend(arg('backend', 'wasm'));

// Pretraining uses both cores: 2 micro-batches of 32 per update, one on a worker thread.
const workers = Number(arg('workers', '1'));
const base = { 'data.path': data };
const par = workers > 0 ? { 'train.workers': workers, 'optim.accumulate': workers + 1, 'train.batchSize': Math.round(64 / (workers + 1)) } : {};
// Calibrate the update time so the run fits the budget with a schedule that completes.
const stepSec = (await calibrateUpdateSeconds({ modality: 'vision', out: join(out, 'calibration'), overrides: { ...base, ...par } })) * 1.03;
const steps = Math.max(20, Math.floor((minutes * 60) / stepSec));
log(`evidence: ${stepSec.toFixed(2)} s/update (64 images, ${workers} worker thread(s)) on ${activeBackend()} -> ${steps} pretraining steps for ${minutes} min on ${data}`);

const pre = join(out, 'pretrain');
const t0 = performance.now();
const pr = await pretrain({
  modality: 'vision',
  log,
  overrides: {
    ...base,
    ...par,
    out: pre,
    'train.steps': steps,
    'train.checkpointEvery': Math.max(50, Math.floor(steps / 4)),
    'optim.lr': 2e-3,
    'optim.warmupSteps': Math.max(5, Math.floor(steps * 0.1)),
    'objective.emaStart': 0.99,
    'objective.emaEnd': 0.999,
    'objective.emaAnnealSteps': steps,
  },
});
const pretrainSec = (performance.now() - t0) / 1000;

const probeOv = { ...base, 'probe.trainImages': probeTrain, 'probe.testImages': probeTest };
const probePre = await evaluate({ modality, log, task: 'probe', overrides: { ...probeOv, out: join(out, 'probe-pretrained'), 'finetune.init': pre } });
const probeRand = await evaluate({ modality, log, task: 'probe', overrides: { ...probeOv, out: join(out, 'probe-random') } });
const probePix = await evaluate({ modality, log, task: 'pixels', overrides: { ...probeOv, out: join(out, 'probe-pixels') } });

const ftOv = { ...base, 'finetune.labelsPerClass': 100, 'finetune.steps': ftSteps, 'finetune.warmupSteps': 10, 'finetune.lr': 1e-3, 'probe.testImages': probeTest };
const ftPre = await finetune({ modality, log, overrides: { ...ftOv, out: join(out, 'finetune-pretrained'), 'finetune.init': pre } });
const ftScratch = await finetune({ modality, log, overrides: { ...ftOv, out: join(out, 'finetune-scratch') } });

const results = {
  machine: { backend: activeBackend(), cores: (await import('node:os')).cpus().length },
  data,
  pretrain: {
    minutes: pretrainSec / 60,
    steps,
    batchSize: pr.config.train.batchSize * pr.config.optim.accumulate,
    workers,
    imagesPerSecond: pr.itemsPerSecond,
    hyperparameters: { lr: pr.config.optim.lr, ema: [pr.config.objective.emaStart, pr.config.objective.emaEnd], topK: pr.config.objective.topK },
    secondsPerStep: pr.secondsPerStep,
    firstLoss: pr.losses[0],
    lastLoss: pr.losses.at(-1),
  },
  linearProbe: { pretrained: probePre, random: probeRand, pixels: probePix },
  finetune1000Labels: { pretrained: ftPre.metrics, scratch: ftScratch.metrics, steps: ftSteps },
};
writeFileSync(join(out, 'results.json'), JSON.stringify(results, null, 2) + '\n');
await barChartPng(join(out, 'accuracy.png'), {
  title: `Fashion-MNIST test accuracy (tiny ViT, ${(pretrainSec / 60).toFixed(0)} min data2vec pretraining)`,
  yLabel: 'accuracy',
  bars: [
    { label: 'pretrained', value: probePre['accuracy']!, group: 'linear probe' },
    { label: 'random init', value: probeRand['accuracy']!, group: 'linear probe' },
    { label: 'raw pixels', value: probePix['accuracy']!, group: 'linear probe' },
    { label: 'pretrained', value: ftPre.metrics['accuracy']!, group: 'fine-tune, 1000 labels' },
    { label: 'from scratch', value: ftScratch.metrics['accuracy']!, group: 'fine-tune, 1000 labels' },
  ],
});
console.log(JSON.stringify(results, null, 2));
console.log(`plots: ${join(out, 'accuracy.png')}, ${join(pre, 'loss.png')}`);
