import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, evaluate, finetune } from '@d2v/core';
import { pretrainSteps, lossEnds, tensorCountIsFlat, quietRun } from '@d2v/core/testing';
import { modality } from '../src/index.js';

const quiet = quietRun;
const tmp = () => mkdtempSync(join(tmpdir(), 'd2v-vision-run-'));
// A small model on the real bundled images: the same code path as the tiny preset, fewer FLOPs.
const small = { 'model.dim': 48, 'model.depth': 3, 'model.heads': 2, 'model.ffnDim': 96, 'objective.topK': 2, 'objective.lossScale': 1 / 48, 'train.batchSize': 16 };

beforeAll(async () => {
  await initBackend('wasm');
});

describe('vision pretraining on the bundled Fashion-MNIST subset', () => {
  it('loss falls over a few steps and the tensor count stays flat', async () => {
    const r = await pretrainSteps(modality, { ...small, 'optim.warmupSteps': 3, 'optim.lr': 2e-3 }, 25);
    const { head, tail } = lossEnds(r.losses);
    expect(tail).toBeLessThan(head * 0.9);
    expect(tensorCountIsFlat(r.tensorCounts)).toBe(true);
  });

  it('fine-tunes and probes through the CLI commands', async () => {
    const pre = tmp();
    const ov = { ...small, out: pre, 'train.steps': 2 };
    const { pretrain } = await import('@d2v/core');
    await pretrain({ modality, ...quiet, overrides: ov });
    const ft = await finetune({ modality, ...quiet, overrides: { ...small, out: tmp(), 'finetune.init': pre, 'finetune.steps': 40, 'finetune.batchSize': 32, 'finetune.lr': 3e-3, 'finetune.warmupSteps': 3, 'finetune.layerDecay': 1, 'finetune.labelsPerClass': 50 } });
    // 10 classes: chance is 0.1. Forty small steps on 500 labels already clear it by far.
    expect(ft.metrics['accuracy']).toBeGreaterThan(0.3);
    const probe = await evaluate({ modality, ...quiet, task: 'pixels', overrides: { ...small, out: tmp(), 'probe.epochs': 5, 'probe.trainImages': 1000 } });
    expect(probe['accuracy']).toBeGreaterThan(0.5);
  });
});
