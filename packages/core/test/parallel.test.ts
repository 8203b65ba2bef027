import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { initBackend, pretrain, finetune, trainTask, resolveConfig, readMetrics, ConfigError, type TaskFactory } from '../src/index.js';
import { tempDir, quietRun, tensorCountIsFlat } from '../src/testing.js';
import { buildPretrainTask } from '../src/run/commands.js';
import { GradientWorkers } from '../src/train/parallel.js';
import { modality as toy } from './fixtures/toy-modality.js';
import { buildMetricTask } from './fixtures/metric-task.js';

const TOY = resolve(__dirname, 'fixtures/toy-modality.ts');
const quiet = { log: () => {}, plots: false, progressStream: { write: () => true, isTTY: false } as never };
/** How a worker thread builds fixtures/metric-task.ts's task. */
const METRIC_TASK: TaskFactory = { module: pathToFileURL(resolve(__dirname, 'fixtures/metric-task.ts')).href, export: 'buildMetricTask' };

beforeAll(async () => {
  await initBackend('wasm');
});

function toyConfig(overrides: Record<string, unknown>) {
  return resolveConfig({ modality: 'toy', modalitySchema: toy.schema, presets: toy.presets, preset: 'tiny', overrides: new Map(Object.entries(overrides)) });
}

/** 4 updates of 2 micro-batches of the metric task; what metrics.jsonl holds and the tensor count after each update. */
async function trainMetricTask(workers: number) {
  const config = toyConfig({ out: tempDir('metric'), 'train.steps': 4, 'train.logEvery': 1, 'optim.accumulate': 2, 'train.workers': workers, 'optim.schedule': 'constant', 'optim.warmupSteps': 0, 'optim.lr': 0.1 });
  const task = buildMetricTask({ config, args: undefined, log: () => {} });
  const counts: number[] = [];
  try {
    const r = await trainTask(task, { config, ...quietRun, replica: METRIC_TASK, onStep: () => counts.push(tf.memory().numTensors) });
    return { losses: r.losses, logged: readMetrics(join(r.runDir, 'metrics.jsonl')), counts };
  } finally {
    task.dispose();
  }
}

describe('data-parallel gradient workers', () => {
  it('a run with a worker thread equals sequential gradient accumulation', async () => {
    const base = { 'train.steps': 8, 'optim.accumulate': 2, 'train.batchSize': 8 };
    const seq = await pretrain({ modality: TOY, ...quiet, overrides: { ...base, out: tempDir('par') } });
    const par = await pretrain({ modality: TOY, ...quiet, overrides: { ...base, out: tempDir('par'), 'train.workers': 1 } });
    expect(par.losses).toHaveLength(8);
    for (let i = 0; i < 8; i++) expect(par.losses[i]).toBeCloseTo(seq.losses[i]!, 4);
  });

  it('data2vec 2.0 (multi-mask, conv decoder) with a worker thread equals sequential gradient accumulation', async () => {
    const base = { 'train.steps': 4, 'optim.accumulate': 2, 'train.batchSize': 4 };
    const seq = await pretrain({ modality: TOY, preset: 'tiny-v2', ...quiet, overrides: { ...base, out: tempDir('par-v2') } });
    const par = await pretrain({ modality: TOY, preset: 'tiny-v2', ...quiet, overrides: { ...base, out: tempDir('par-v2'), 'train.workers': 1 } });
    expect(par.config.objective.version).toBe(2);
    expect(par.losses).toHaveLength(4);
    for (let i = 0; i < 4; i++) expect(par.losses[i]).toBeCloseTo(seq.losses[i]!, 4);
  });

  it("run any task: a metric of the task's own reaches metrics.jsonl averaged over the update's micro-batches, as without workers", async () => {
    const seq = await trainMetricTask(0);
    const par = await trainMetricTask(1);
    // Update n runs micro-batches 2n-2 (main thread) and 2n-1 (worker): micro_index averages to 2n - 1.5.
    expect(seq.logged.map((m) => m['micro_index'])).toEqual([0.5, 2.5, 4.5, 6.5]);
    expect(par.logged.map((m) => m['micro_index'])).toEqual([0.5, 2.5, 4.5, 6.5]);
    for (let i = 0; i < 4; i++) expect(par.losses[i]).toBeCloseTo(seq.losses[i]!, 5);
    expect(tensorCountIsFlat(par.counts)).toBe(true);
  });

  it('a worker keeps its tensor count flat from update to update (the data2vec replica, teacher synced), as does the main thread', async () => {
    const config = toyConfig({ out: tempDir('worker-tensors'), 'train.batchSize': 4 });
    const task = await buildPretrainTask(toy, config, () => {});
    const factory: TaskFactory = { module: pathToFileURL(resolve(__dirname, '../src/run/commands.ts')).href, export: 'pretrainReplica', args: { modality: TOY } };
    const workers = new GradientWorkers(factory, config, task, 1);
    try {
      await workers.ready();
      const inWorker: number[] = [];
      const inMain: number[] = [];
      for (let i = 0; i < 4; i++) {
        workers.start([{ start: i, count: 1 }]);
        const share = workers.collect(0);
        tf.dispose(share.grads);
        expect(Object.keys(share.metrics).sort()).toEqual(['pred_var', 'target_var']);
        inWorker.push(share.workerTensors);
        inMain.push(tf.memory().numTensors);
      }
      expect(tensorCountIsFlat(inWorker)).toBe(true);
      expect(tensorCountIsFlat(inMain)).toBe(true);
    } finally {
      await workers.dispose();
      task.dispose();
    }
  });

  it('fine-tuning honours train.workers and equals sequential fine-tuning', async () => {
    const base = { 'finetune.steps': 6, 'finetune.batchSize': 8, 'optim.accumulate': 2 };
    const seq = await finetune({ modality: TOY, ...quiet, overrides: { ...base, out: tempDir('ft-seq') } });
    const said: string[] = [];
    const par = await finetune({ modality: TOY, ...quiet, log: (m) => said.push(m), overrides: { ...base, out: tempDir('ft-par'), 'train.workers': 1 } });
    expect(said).toContain('d2v: 1 gradient worker thread(s); 2 micro-batches of 8 per update');
    expect(par.losses).toHaveLength(6);
    for (let i = 0; i < 6; i++) expect(par.losses[i]).toBeCloseTo(seq.losses[i]!, 4);
    expect(par.metrics['accuracy']).toBeCloseTo(seq.metrics['accuracy']!, 2);
  });

  it('refuses workers for a task without a replica, names a misspelt replica export with the closest one, and a replica that differs from the task', async () => {
    const config = toyConfig({ out: tempDir('metric-bad'), 'train.steps': 1, 'optim.accumulate': 2, 'train.workers': 1 });
    const task = buildMetricTask({ config, args: undefined, log: () => {} });
    try {
      await expect(trainTask(task, { config, ...quietRun })).rejects.toThrow(ConfigError);
      await expect(trainTask(task, { config, ...quietRun, replica: { ...METRIC_TASK, export: 'buildMetricTsk' } })).rejects.toThrow(
        /gradient worker 0 failed to start: .*metric-task\.ts exports no function 'buildMetricTsk' to build a worker's replica of the task \(did you mean 'buildMetricTask'\?\)/,
      );
      await expect(trainTask(task, { config, ...quietRun, replica: { ...METRIC_TASK, args: { size: 3 } } })).rejects.toThrow(
        /gradient worker 0 failed to start: the replica built by buildMetricTask \(.*metric-task\.ts\) is not the main thread's task: trainable parameter 0 is w \(3 values\), not w \(2 values\)/,
      );
    } finally {
      task.dispose();
    }
  });
});
