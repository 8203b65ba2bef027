/**
 * createDownstreamTask: what every modality's fine-tuning shares, from a head, a loss and metrics.
 * The modalities' own fine-tuning tests (vision, text, speech CTC and classify, the generated
 * package) check their figures through it; here the contract: a flat tensor count over updates,
 * the head checkpointed and restored under its name, metrics in eval mode.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Linear, Trainer, buildStudent, createDownstreamTask, crossEntropy, initBackend, maskedMeanOverTime, resolveConfig, type DownstreamContext, type Rng } from '../src/index.js';
import { quietRun, tempDir, tensorCountIsFlat } from '../src/testing.js';
import { modality as toy, type ToyBatch, type ToyConfig } from './fixtures/toy-modality.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const config = () =>
  resolveConfig({ modality: 'toy', modalitySchema: toy.schema, presets: toy.presets, preset: 'tiny', overrides: new Map<string, unknown>([['out', tempDir('downstream')], ['train.steps', 6], ['train.batchSize', 8]]) });

/** A linear classifier on mean-pooled outputs, as a modality declares it; `training` records the mode metrics() ran in. */
async function probeTask(ctx: DownstreamContext<ToyConfig>, seen: { training?: boolean } = {}) {
  const c = ctx.config;
  const head = new Linear(c.model.dim, c.toy.classes, c.seed + 5);
  const pooled = (batch: ToyBatch, training: boolean, rng?: Rng) => {
    const e = ctx.encoder.embed(ctx.encoder.features(batch, { training, rng }), { training, rng });
    return maskedMeanOverTime(ctx.transformer.forward(e.x, { rng, collect: false }).output);
  };
  const data = await toy.createData(c, 'train');
  const task = createDownstreamTask({
    ctx,
    head: { name: 'probe_head', module: head, label: 'toy probe head' },
    data,
    loss: (batch, rng) => crossEntropy(head.apply(pooled(batch, true, rng)) as tf.Tensor2D, batch.labels),
    metrics() {
      seen.training = ctx.transformer.training;
      return { accuracy: 0.5 };
    },
    unit: 'seq',
    describe: () => 'toy probe head',
  });
  return { task, head };
}

describe('createDownstreamTask', () => {
  it('trains encoder, Transformer and head with a flat tensor count', async () => {
    const c = config();
    const parts = buildStudent(toy, c);
    const { task, head } = await probeTask({ config: c, ...parts, log: () => {} });
    const before = Array.from(head.weight.dataSync());
    const counts: number[] = [];
    try {
      expect(task.restoredHead).toBe(false);
      expect(task.itemsPerMicroBatch()).toEqual({ count: 8, unit: 'seq' });
      const names = task.trainableParams().map(([n]) => n);
      expect(names.some((n) => n.startsWith('encoder.'))).toBe(true);
      expect(names.some((n) => n.startsWith('transformer.'))).toBe(true);
      expect(names).toEqual(expect.arrayContaining(['probe_head.weight', 'probe_head.bias']));
      const r = await new Trainer(task, { config: c, ...quietRun, onStep: () => counts.push(tf.memory().numTensors) }).run();
      expect(r.losses).toHaveLength(6);
      expect(r.losses.every(Number.isFinite)).toBe(true);
      expect(tensorCountIsFlat(counts)).toBe(true);
      expect(Array.from(head.weight.dataSync())).not.toEqual(before);
    } finally {
      task.dispose();
      parts.encoder.dispose();
      parts.transformer.dispose();
    }
  });

  it('checkpoints the head under its name and restores it from a fine-tuned checkpoint; metrics run in eval mode', async () => {
    const c = config();
    const parts = buildStudent(toy, c);
    const seen: { training?: boolean } = {};
    const first = await probeTask({ config: c, ...parts, log: () => {} }, seen);
    // A fine-tuned head (weights unlike a fresh head's), in the checkpoint's student group (the task's own variables: read, not disposed, here).
    tf.tidy(() => first.head.weight.assign(tf.fill(first.head.weight.shape, 0.25)));
    const student = first.task.checkpointGroups()['student']!;
    expect(Object.keys(student).filter((k) => k.startsWith('probe_head.')).sort()).toEqual(['probe_head.bias', 'probe_head.weight']);
    const again = await probeTask({ config: c, ...parts, log: () => {}, weights: student });
    try {
      expect(again.task.restoredHead).toBe(true);
      expect(new Set(again.head.weight.dataSync())).toEqual(new Set([0.25]));
      expect(await first.task.evaluate()).toEqual({ accuracy: 0.5 });
      expect(seen.training).toBe(false);
      expect(parts.transformer.training).toBe(true);
    } finally {
      first.task.dispose();
      again.task.dispose();
      parts.encoder.dispose();
      parts.transformer.dispose();
    }
  });
});
