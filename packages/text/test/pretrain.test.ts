import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend, pretrain, finetune, evaluate } from '@d2v/core';
import { pretrainSteps, lossEnds, tensorCountIsFlat, quietRun, tempDir } from '@d2v/core/testing';
import { modality } from '../src/index.js';
import { small } from './setup.js';

const quiet = quietRun;
const tmp = () => tempDir('text-run');

beforeAll(async () => {
  await initBackend('wasm');
});

describe('text pretraining on the bundled corpus', () => {
  it('loss falls over a few steps and the tensor count stays flat', async () => {
    const r = await pretrainSteps(modality, { ...small, 'optim.warmupSteps': 3, 'optim.lr': 2e-3 }, 25);
    const { head, tail } = lossEnds(r.losses);
    expect(tail).toBeLessThan(head * 0.9);
    expect(tensorCountIsFlat(r.tensorCounts)).toBe(true);
  });

  it('data2vec 2.0 (tiny-v2): loss falls over a few steps and the tensor count stays flat', async () => {
    // One target layer: instance-normed, its variance is fixed, so a falling loss is learning (an
    // average of K layers grows in variance as the teacher's layers grow alike, and the loss with it).
    const v2 = { ...small, 'objective.topK': 1, 'objective.decoder.dim': 32, 'objective.decoder.groups': 2, 'optim.warmupSteps': 3, 'optim.lr': 2e-3 };
    const r = await pretrainSteps(modality, v2, 40, 'tiny-v2');
    const { head, tail } = lossEnds(r.losses);
    expect(tail).toBeLessThan(head * 0.95);
    expect(tensorCountIsFlat(r.tensorCounts)).toBe(true);
  });
});

describe('text downstream through the CLI commands', () => {
  it('fine-tunes spam vs ham above chance, then evaluates the fine-tuned run and probes the pretrained one', async () => {
    const pre = tmp();
    await pretrain({ modality, ...quiet, overrides: { ...small, out: pre, 'train.steps': 2 } });
    const ftOut = tmp();
    const ft = await finetune({
      modality,
      ...quiet,
      overrides: { ...small, out: ftOut, 'finetune.init': pre, 'finetune.labels': 200, 'finetune.steps': 80, 'finetune.batchSize': 16, 'finetune.lr': 2e-3, 'finetune.warmupSteps': 4 },
    });
    // Balanced test split: chance is 0.5. Eighty small steps on 200 labels clear it by far.
    expect(ft.metrics['accuracy']).toBeGreaterThan(0.7);
    expect(ft.metrics['macroF1']).toBeGreaterThan(0.65);
    expect(ft.metrics['testExamples']).toBe(500);
    expect(JSON.parse(readFileSync(join(ftOut, 'eval.json'), 'utf8')).accuracy).toBe(ft.metrics['accuracy']);

    // The fine-tuned checkpoint carries its head: `d2v eval --task classify` reproduces the metrics.
    const again = await evaluate({ modality, ...quiet, task: 'classify', overrides: { ...small, out: tmp(), 'finetune.init': ftOut } });
    expect(again['accuracy']).toBeCloseTo(ft.metrics['accuracy']!, 6);
    // A pre-training checkpoint has no classifier: classify says so, probe works.
    await expect(evaluate({ modality, ...quiet, task: 'classify', overrides: { ...small, out: tmp(), 'finetune.init': pre } })).rejects.toThrow(/--task probe/);
    const probe = await evaluate({ modality, ...quiet, task: 'probe', overrides: { ...small, out: tmp(), 'finetune.init': pre, 'probe.epochs': 30 } });
    expect(probe['accuracy']).toBeGreaterThan(0.6);

    // finetune.pool mean: the head reads the mean over tokens; eval of that run uses the same pooling.
    const meanOut = tmp();
    const mean = await finetune({
      modality,
      ...quiet,
      overrides: { ...small, out: meanOut, 'finetune.pool': 'mean', 'finetune.labels': 200, 'finetune.steps': 40, 'finetune.batchSize': 16, 'finetune.lr': 2e-3, 'finetune.warmupSteps': 4 },
    });
    expect(mean.metrics['accuracy']).toBeGreaterThan(0.7);
    const meanAgain = await evaluate({ modality, ...quiet, task: 'classify', overrides: { ...small, out: tmp(), 'finetune.init': meanOut, 'finetune.pool': 'mean' } });
    expect(meanAgain['accuracy']).toBeCloseTo(mean.metrics['accuracy']!, 6);
  });
});
