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
import { initBackend, pretrain, finetune, evaluate, resolveConfig, Data2VecPretrainTask, stepRng, barChartPng, activeBackend } from '@d2v/core';
import * as tf from '@tensorflow/tfjs-core';
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
const ftSteps = Number(arg('finetune-steps', '120'));
mkdirSync(out, { recursive: true });
const log = (m: string) => console.error(m);
await initBackend(arg('backend', 'wasm'));

// Measure the step time first so the run fits the budget with a schedule that completes.
const base = { 'data.path': data };
const probeCfg = resolveConfig({ modality: 'vision', modalitySchema: modality.schema, presets: modality.presets, preset: 'tiny', overrides: new Map(Object.entries(base)) });
const probeTask = new Data2VecPretrainTask(modality, probeCfg, await modality.createData(probeCfg, 'train'), modality.createMasker(probeCfg));
const vars = probeTask.trainableParams().map(([, p]) => p.variable);
const times: number[] = [];
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  const rng = stepRng(1, i);
  const p = probeTask.prepare(i, rng);
  const { value, grads } = tf.variableGrads(() => probeTask.loss(i, rng, p).loss, vars);
  value.dataSync();
  tf.dispose([value, ...Object.values(grads)]);
  probeTask.release(p);
  times.push((performance.now() - t0) / 1000);
}
probeTask.dispose();
const stepSec = Math.min(...times.slice(1)) * 1.08; // + optimiser and EMA update
const steps = Math.max(20, Math.floor((minutes * 60) / stepSec));
log(`evidence: ${stepSec.toFixed(2)} s/step on ${activeBackend()} -> ${steps} pretraining steps for ${minutes} min on ${data}`);

const pre = join(out, 'pretrain');
const t0 = performance.now();
const pr = await pretrain({
  modality,
  log,
  overrides: {
    ...base,
    out: pre,
    'train.steps': steps,
    'train.checkpointEvery': Math.max(50, Math.floor(steps / 4)),
    'optim.lr': 2e-3,
    'optim.warmupSteps': Math.max(5, Math.floor(steps * 0.1)),
    'objective.emaStart': 0.98,
    'objective.emaEnd': 0.995,
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
    batchSize: pr.config.train.batchSize,
    imagesPerSecond: pr.itemsPerSecond,
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
