import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  initBackend,
  pretrain,
  finetune,
  evaluate,
  resolveConfig,
  Data2VecPretrainTask,
  Trainer,
  CheckpointError,
  DivergenceError,
  type TrainTask,
} from '../src/index.js';
import { modality as toy } from './fixtures/toy-modality.js';
import { tempDir } from '../src/testing.js';

const quiet = { log: () => {}, plots: false, progressStream: { write: () => true, isTTY: false } as never };
const tmp = () => tempDir('core');

beforeAll(async () => {
  await initBackend('wasm');
});

describe('pretraining the toy modality end to end', () => {
  it('loss falls and the tensor count stays flat over 50 steps', async () => {
    const out = tmp();
    const counts: number[] = [];
    const config = resolveConfig({
      modality: 'toy',
      modalitySchema: toy.schema,
      presets: toy.presets,
      preset: 'tiny',
      overrides: new Map<string, unknown>([['out', out], ['train.steps', 50], ['train.checkpointEvery', 25]]),
    });
    const task = new Data2VecPretrainTask(toy, config, await toy.createData(config, 'train'), toy.createMasker(config));
    const r = await new Trainer(task, { config, ...quiet, onStep: () => counts.push(tf.memory().numTensors) }).run();
    task.dispose();
    expect(r.losses).toHaveLength(50);
    const head = r.losses.slice(0, 5).reduce((a, b) => a + b) / 5;
    const tail = r.losses.slice(-5).reduce((a, b) => a + b) / 5;
    expect(tail).toBeLessThan(head * 0.85);
    // After the first step (optimiser slots created) the count never moves.
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(existsSync(join(out, 'config.json'))).toBe(true);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8')).toContain('target_var');
  });

  it('resume after a crash reproduces the uninterrupted loss curve exactly', async () => {
    const base = { modality: toy, ...quiet };
    const a = await pretrain({ ...base, overrides: { out: tmp(), 'train.steps': 30, 'train.checkpointEvery': 10 } });
    const outB = tmp();
    // "Crash" after 17 updates: the last checkpoint is at step 10.
    const b1 = await pretrain({ ...base, overrides: { out: outB, 'train.steps': 30, 'train.checkpointEvery': 10 }, stopAfter: 17 });
    expect(b1.losses).toHaveLength(17);
    const b2 = await pretrain({ ...base, overrides: { out: outB, 'train.steps': 30, 'train.checkpointEvery': 10, resume: true } });
    expect(b2.losses).toHaveLength(20);
    for (let i = 0; i < 20; i++) expect(b2.losses[i]).toBeCloseTo(a.losses[10 + i]!, 6);
    const steps = readFileSync(join(outB, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step as number);
    expect(new Set(steps).size).toBe(steps.length);
  });

  it('refuses a corrupted checkpoint and a mismatched config with clear errors', async () => {
    const base = { modality: toy, ...quiet };
    const out = tmp();
    await pretrain({ ...base, overrides: { out, 'train.steps': 4, 'train.checkpointEvery': 2 } });
    await expect(pretrain({ ...base, overrides: { out, 'train.steps': 6, resume: true, 'model.depth': 2, 'objective.topK': 1 } })).rejects.toThrow(
      /model\.depth/,
    );
    const ckdir = join(out, 'checkpoints');
    const latest = readdirSync(ckdir).filter((d) => d.startsWith('step-')).sort().at(-1)!;
    const file = join(ckdir, latest, 'student.safetensors');
    const bytes = readFileSync(file);
    bytes[bytes.length - 3] ^= 0xff;
    writeFileSync(file, bytes);
    const err = await pretrain({ ...base, overrides: { out, 'train.steps': 6, resume: true } }).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(String(err.message)).toContain('student.safetensors');
  });

  it('stops on a NaN loss (optim.maxNonFiniteSkips 0) without touching the last good checkpoint', async () => {
    const out = tmp();
    const config = resolveConfig({
      modality: 'toy',
      modalitySchema: toy.schema,
      presets: toy.presets,
      preset: 'tiny',
      overrides: new Map<string, unknown>([['out', out], ['train.steps', 10], ['train.checkpointEvery', 4], ['optim.maxNonFiniteSkips', 0]]),
    });
    const inner = new Data2VecPretrainTask(toy, config, await toy.createData(config, 'train'), toy.createMasker(config));
    const poisoned: TrainTask<unknown> = Object.create(inner);
    poisoned.loss = (i, rng, p) => {
      const r = inner.loss(i, rng, p as never);
      return i === 6 ? { ...r, loss: tf.mul(r.loss, NaN) as tf.Scalar } : r;
    };
    const err = await new Trainer(poisoned, { config, ...quiet }).run().catch((e) => e);
    inner.dispose();
    expect(err).toBeInstanceOf(DivergenceError);
    // Micro-batch 6 is the 7th update.
    expect(err.message).toMatch(/loss is NaN at step 7/);
    expect(err.message).toContain('step-00000004');
    // The checkpoint still loads: resuming runs on from step 4.
    const r = await pretrain({ modality: toy, ...quiet, overrides: { out, 'train.steps': 6, 'train.checkpointEvery': 4, resume: true } });
    expect(r.losses).toHaveLength(2);
  });
});

describe('fine-tuning and evaluation through the registry contract', () => {
  it('fine-tunes from a pretrained run and evaluates; weights load by name', async () => {
    const pre = tmp();
    await pretrain({ modality: toy, ...quiet, overrides: { out: pre, 'train.steps': 10 } });
    const ft = await finetune({ modality: toy, ...quiet, overrides: { out: tmp(), 'finetune.init': pre, 'finetune.steps': 40 } });
    expect(ft.metrics['accuracy']).toBeGreaterThan(0.5); // 4 classes: chance is 0.25
    const probe = await evaluate({ modality: toy, ...quiet, task: 'probe', overrides: { out: tmp(), 'finetune.init': pre } });
    expect(probe['accuracy']).toBeGreaterThanOrEqual(0);
    await expect(finetune({ modality: toy, ...quiet, overrides: { out: tmp(), 'finetune.init': tmp() } })).rejects.toThrow(CheckpointError);
  });
});
