import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  initBackend,
  pretrain,
  resolveConfig,
  readMetrics,
  decodeSafetensors,
  countNonFinite,
  Data2VecPretrainTask,
  Trainer,
  CheckpointManager,
  CheckpointError,
  DivergenceError,
  type TrainTask,
} from '../src/index.js';
import { quietRun, tempDir, tensorCountIsFlat } from '../src/testing.js';
import { modality as toy } from './fixtures/toy-modality.js';

beforeAll(async () => {
  await initBackend('wasm');
});

/** Identity forward, Infinity backward: the loss stays finite while every gradient becomes NaN/Infinity. */
const infiniteGradient = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => ({ value: tf.add(inputs[0] as tf.Tensor, 0), gradFunc: (dy: tf.Tensor) => tf.mul(dy, Infinity) }));

/** The toy pretraining task whose gradients are Infinity for the micro-batches `poisoned` picks. */
async function toyRun(overrides: Record<string, unknown>, poisoned: (index: number) => boolean, out = tempDir('guard')) {
  const config = resolveConfig({
    modality: 'toy',
    modalitySchema: toy.schema,
    presets: toy.presets,
    preset: 'tiny',
    overrides: new Map<string, unknown>(Object.entries({ out, 'train.checkpointEvery': 1, 'train.keepLast': 50, 'train.logEvery': 1, ...overrides })),
  });
  const inner = new Data2VecPretrainTask(toy, config, await toy.createData(config, 'train'), toy.createMasker(config));
  const task: TrainTask<unknown> = Object.create(inner);
  task.loss = (i, rng, p) => {
    const r = inner.loss(i, rng, p as never);
    return poisoned(i) ? { ...r, loss: infiniteGradient(r.loss) as tf.Scalar } : r;
  };
  return { out, config, inner, task };
}

/** Every float of every safetensors file of every checkpoint under `out`, checked for NaN/Infinity. */
function nonFiniteInCheckpoints(out: string): { dir: string; bad: number }[] {
  const ck = join(out, 'checkpoints');
  return readdirSync(ck)
    .filter((d) => d.startsWith('step-'))
    .map((d) => {
      let bad = 0;
      for (const f of readdirSync(join(ck, d)).filter((f) => f.endsWith('.safetensors'))) {
        for (const t of Object.values(decodeSafetensors(readFileSync(join(ck, d, f))).tensors)) if (t.dtype === 'F32') bad += countNonFinite(t.data as Float32Array);
      }
      return { dir: d, bad };
    });
}

describe('non-finite guard on gradients and parameters', () => {
  it('skips and counts an update whose gradient is Infinity: weights unchanged, every checkpoint finite, tensor count flat', async () => {
    const { out, config, inner, task } = await toyRun({ 'train.steps': 8 }, (i) => i === 3);
    const counts: number[] = [];
    const logs: string[] = [];
    const r = await new Trainer(task, { config, ...quietRun, log: (m) => logs.push(m), onStep: () => counts.push(tf.memory().numTensors) }).run();
    inner.dispose();
    expect(r.step).toBe(8);
    expect(r.skippedUpdates).toBe(1);
    expect(tensorCountIsFlat(counts)).toBe(true);
    const rec = readMetrics(join(out, 'metrics.jsonl')).find((m) => m.step === 4)!;
    expect(rec['skipped']).toBe(1);
    expect(Number.isFinite(rec['grad_norm'])).toBe(false);
    expect(Number.isFinite(rec.loss)).toBe(true);
    expect(logs.join('\n')).toMatch(/step 4: gradient norm is (NaN|Infinity); update skipped/);
    expect(nonFiniteInCheckpoints(out).every((c) => c.bad === 0)).toBe(true);
    // The skipped update changed nothing: step 4 holds step 3's weights.
    const ckpt = new CheckpointManager(out, { keepLast: 50 });
    const [a, b] = [await ckpt.load(join(out, 'checkpoints', 'step-00000003')), await ckpt.load(join(out, 'checkpoints', 'step-00000004'))];
    for (const group of ['student', 'teacher']) {
      for (const [name, t] of Object.entries(a.groups[group]!)) expect(tf.util.arraysEqual(t.dataSync(), b.groups[group]![name]!.dataSync())).toBe(true);
    }
    a.dispose();
    b.dispose();
  });

  it('stops after optim.maxNonFiniteSkips in a row, naming the real last good checkpoint, which --resume with a lower lr continues', async () => {
    // keepLast 1: the one checkpoint kept must be a good one.
    const { out, config, inner, task } = await toyRun({ 'train.steps': 10, 'train.keepLast': 1, 'optim.maxNonFiniteSkips': 2 }, (i) => i >= 3);
    const err = await new Trainer(task, { config, ...quietRun }).run().catch((e) => e);
    inner.dispose();
    expect(err).toBeInstanceOf(DivergenceError);
    // Updates 4, 5 and 6 are non-finite: the third in a row stops the run; updates 4 and 5 were skipped and checkpointed unchanged.
    expect(err.step).toBe(6);
    expect(err.message).toMatch(/at step 6: 3 update\(s\) in a row could not be applied \(optim\.maxNonFiniteSkips is 2\)/);
    expect(err.message).toContain(`${join(out, 'checkpoints', 'step-00000005')} (step 5)`);
    expect(err.message).toMatch(/--resume and a lower --optim\.lr \(now 0\.01\)/);
    expect(nonFiniteInCheckpoints(out)).toEqual([{ dir: 'step-00000005', bad: 0 }]);
    // The advice works: --resume may lower the learning rate.
    const logs: string[] = [];
    const r = await pretrain({ modality: toy, ...quietRun, log: (m) => logs.push(m), overrides: { out, 'train.steps': 10, 'train.checkpointEvery': 1, 'train.keepLast': 1, 'train.logEvery': 1, resume: true, 'optim.lr': 1e-3 } });
    expect(r.losses).toHaveLength(5);
    expect(r.losses.every(Number.isFinite)).toBe(true);
    expect(logs.join('\n')).toMatch(/--resume with a changed option: optim\.lr is 0\.01 in the checkpoint but 0\.001 in this run/);
    const steps = readMetrics(join(out, 'metrics.jsonl')).map((m) => m.step);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('a resume that cannot apply a single update says the checkpoint is past saving, and counts skips afresh', async () => {
    const first = await toyRun({ 'train.steps': 10, 'optim.maxNonFiniteSkips': 1 }, (i) => i >= 3);
    const stop = await new Trainer(first.task, { config: first.config, ...quietRun }).run().catch((e) => e);
    first.inner.dispose();
    expect(stop.message).toContain('The last good checkpoint is');
    expect(stop.step).toBe(5);
    const again = await toyRun({ 'train.steps': 10, 'optim.maxNonFiniteSkips': 1, resume: true, 'optim.lr': 1e-3 }, (i) => i >= 3, first.out);
    const logs: string[] = [];
    const err = await new Trainer(again.task, { config: again.config, ...quietRun, log: (m) => logs.push(m) }).run().catch((e) => e);
    again.inner.dispose();
    expect(err).toBeInstanceOf(DivergenceError);
    // Resumed at step 4 (saved after the first skip): a fresh count stops at step 6, the second skip in a row, not at step 5.
    expect(err.step).toBe(6);
    expect(err.message).toContain(
      `No update could be applied since resuming from ${join(first.out, 'checkpoints', 'step-00000004')} (step 4): its weights are finite but already diverged; start again with --overwrite and a lower --optim.lr (now 0.001)`,
    );
  });

  it('stops when an applied update leaves a parameter non-finite, and writes no checkpoint of it', async () => {
    // Finite gradients, but lr 1e39 is Infinity in float32: the first update makes the weights infinite.
    const { out, config, inner, task } = await toyRun({ 'train.steps': 3, 'optim.lr': 1e39, 'optim.schedule': 'constant', 'optim.warmupSteps': 0 }, () => false);
    const err = await new Trainer(task, { config, ...quietRun }).run().catch((e) => e);
    inner.dispose();
    expect(err).toBeInstanceOf(DivergenceError);
    expect(err.message).toMatch(/^parameter \S+ holds NaN\/Infinity after update 1 .*No checkpoint was written yet: start again with --overwrite and a lower --optim\.lr \(now 1e\+39\)/);
    expect(existsSync(join(out, 'checkpoints'))).toBe(false);
  });

  it('CheckpointManager never writes a checkpoint holding NaN or Infinity', async () => {
    const out = tempDir('guard-save');
    const ckpt = new CheckpointManager(out, { keepLast: 3 });
    const good = tf.tensor1d([1, 2]);
    const bad = tf.tensor1d([1, NaN, Infinity]);
    await ckpt.save({ step: 1, groups: { student: { w: good } }, state: {}, config: {} });
    await expect(ckpt.save({ step: 2, groups: { student: { w: bad } }, state: {}, config: {} })).rejects.toThrow(CheckpointError);
    await expect(ckpt.save({ step: 2, groups: { student: { w: bad } }, state: {}, config: {} })).rejects.toThrow(/tensor w holds 2 NaN\/Infinity value\(s\)/);
    tf.dispose([good, bad]);
    expect(ckpt.list().map((c) => c.step)).toEqual([1]);
    expect(ckpt.latestDir()).toBe(join(out, 'checkpoints', 'step-00000001'));
    expect(readdirSync(join(out, 'checkpoints')).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  });
});
