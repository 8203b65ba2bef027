import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { initBackend, resolveConfig, Trainer, evaluate, trainTask, readMetrics } from '@d2v/core';
import { lossEnds, tensorCountIsFlat, quietRun, tempDir } from '@d2v/core/testing';
import { modality, MlmPretrainTask, createMlmTask, MLM_REPLICA } from '../src/index.js';
import { small } from './setup.js';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('MLM baseline task', () => {
  it('predicts masked tokens of the bundled corpus better with training, keeps the tensor count flat, and saves a student finetune.init can load', async () => {
    const out = tempDir('text-mlm');
    const overrides = { ...small, out, 'train.steps': 40, 'optim.warmupSteps': 3, 'optim.lr': 2e-3 };
    const config = resolveConfig({ modality: 'text', modalitySchema: modality.schema, presets: modality.presets, preset: 'tiny', overrides: new Map(Object.entries(overrides)) });
    const task = new MlmPretrainTask(modality, config, await modality.createData(config, 'train'), modality.createMasker(config));
    const counts: number[] = [];
    const r = await new Trainer(task, { config, ...quietRun, onStep: () => counts.push(tf.memory().numTensors) }).run();
    task.dispose();
    // Cross-entropy over 8000 pieces starts near ln(8000) = 9.0; unigram statistics alone take it well below.
    const { head, tail } = lossEnds(r.losses);
    expect(head).toBeGreaterThan(8);
    expect(tail).toBeLessThan(head - 1);
    expect(tensorCountIsFlat(counts)).toBe(true);
    // Same checkpoint layout as data2vec pretraining: the probe loads its encoder + Transformer.
    const probe = await evaluate({ modality, ...quietRun, task: 'probe', overrides: { ...small, out: tempDir('text-mlm-probe'), 'finetune.init': out, 'probe.epochs': 20 } });
    expect(probe['accuracy']).toBeGreaterThan(0.6);
  });

  it('trains with a worker thread (train.workers 1) exactly as on one thread: same losses, same mlm_acc, flat tensor count', async () => {
    const run = async (workers: number) => {
      const overrides = { ...small, out: tempDir('text-mlm-workers'), 'train.steps': 6, 'train.batchSize': 4, 'optim.accumulate': 2, 'train.workers': workers, 'train.logEvery': 1 };
      const config = resolveConfig({ modality: 'text', modalitySchema: modality.schema, presets: modality.presets, preset: 'tiny', overrides: new Map(Object.entries(overrides)) });
      const task = await createMlmTask({ config });
      const counts: number[] = [];
      try {
        const r = await trainTask(task, { config, ...quietRun, replica: MLM_REPLICA, onStep: () => counts.push(tf.memory().numTensors) });
        return { losses: r.losses, accuracy: readMetrics(join(r.runDir, 'metrics.jsonl')).map((m) => m['mlm_acc'] as number), counts };
      } finally {
        task.dispose();
      }
    };
    const seq = await run(0);
    const par = await run(1);
    expect(par.losses).toHaveLength(6);
    for (let i = 0; i < 6; i++) expect(par.losses[i]).toBeCloseTo(seq.losses[i]!, 4);
    // The worker's micro-batch counts in each update's masked-token accuracy, as on one thread.
    expect(par.accuracy).toHaveLength(6);
    par.accuracy.forEach((a, i) => expect(a).toBeCloseTo(seq.accuracy[i]!, 5));
    expect(tensorCountIsFlat(par.counts)).toBe(true);
  });
});
