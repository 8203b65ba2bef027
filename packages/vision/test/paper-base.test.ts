/**
 * The `paper-base` path, which no other test trains: 224-pixel RGB images cut into 16-pixel
 * patches (a 14 x 14 grid), a CLS token, and BEiT's relative position bias shared by every block.
 * The Transformer is narrowed and shallowed (model.dim, model.depth) so that a CPU test runs it;
 * every shape that CLS and the bias touch is the paper's.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, createPretrainTask, initBackend, stepRng } from '@d2v/core';
import { presetConfig, tempDir } from '@d2v/core/testing';
import { modality, PatchEncoder } from '../src/index.js';

const narrow = { 'model.dim': 48, 'model.depth': 2, 'model.ffnDim': 96, 'objective.topK': 2, 'train.batchSize': 2 };

beforeAll(async () => {
  await initBackend('wasm');
});

describe('paper-base: CLS token + relative position bias on the 14 x 14 patch grid', () => {
  it('forward and backward: the loss and the bias table gradients are finite, every table row gets one, the tensor count stays flat', async () => {
    const config = presetConfig(modality, { ...narrow, out: tempDir('vision-paper-base') }, 'paper-base');
    expect(config.vision).toMatchObject({ imageSize: 224, patchSize: 16, channels: 3, positions: 'relative', cls: true });
    expect(config.model.heads).toBe(12);
    const data = await modality.createData(config, 'train');
    const task = createPretrainTask(modality, config, data);
    try {
      const encoder = task.encoder as PatchEncoder;
      const table = encoder.relTable!;
      // (2 * 14 - 1)^2 relative offsets between patches, then cls->patch, patch->cls, cls->cls; one column per head.
      expect(table.shape).toEqual([27 * 27 + 3, 12]);
      expect(encoder.length).toBe(14 * 14 + 1);

      const step = (index: number) => {
        const rng = stepRng(config.seed, index);
        const prepared = task.prepare(index, rng);
        const vars = task.trainableParams().map(([, p]) => p.variable);
        const { value, grads } = tf.variableGrads(() => task.loss(index, rng, prepared).loss, vars);
        task.release(prepared);
        const loss = value.dataSync()[0]!;
        const g = grads[table.name]!;
        const rowNorms = tf.tidy(() => tf.sum(tf.abs(g), 1).dataSync());
        const finite = tf.tidy(() => tf.all(tf.isFinite(g)).dataSync()[0]);
        tf.dispose([value, ...Object.values(grads)]);
        return { loss, rowNorms, finite, tensors: tf.memory().numTensors };
      };

      const steps = [0, 1, 2].map(step);
      for (const s of steps) {
        expect(Number.isFinite(s.loss)).toBe(true);
        expect(s.loss).toBeGreaterThan(0);
        expect(s.finite).toBe(1);
        // Every row is used: all 729 patch offsets of a 14 x 14 grid and the three CLS rows.
        expect(Array.from(s.rowNorms).filter((n) => !(n > 0))).toEqual([]);
      }
      // The first step builds the cached relative-position index; after that nothing accumulates.
      expect(steps[2]!.tensors).toBe(steps[1]!.tensors);

      // The bias the blocks get: [heads, 197, 197], one per head, with the CLS row and column.
      const batch = data.batch(0, 2, stepRng(config.seed, 0));
      const before = tf.memory().numTensors;
      const features = encoder.features(batch, { training: false });
      const embedded = encoder.embed(features, { training: false });
      expect(features.features.shape).toEqual([2, 196, 48]);
      expect(embedded.x.shape).toEqual([2, 197, 48]);
      expect(embedded.attnBias!.shape).toEqual([12, 197, 197]);
      tf.dispose([features.features, embedded.x, embedded.attnBias!]);
      batch.dispose();
      expect(tf.memory().numTensors).toBe(before - 2);
    } finally {
      task.dispose();
    }
  });
});

describe('PatchEncoder', () => {
  it('a patch size that does not divide the image size is a ConfigError naming vision.patchSize, also when the encoder is built directly', () => {
    const build = () => new PatchEncoder({ imageSize: 28, patchSize: 5, channels: 1, dim: 8, heads: 2, positions: 'learned', cls: false }, 1);
    expect(build).toThrow(ConfigError);
    expect(build).toThrow('vision.patchSize (5) must divide vision.imageSize (28) into whole patches');
    const err = (() => {
      try {
        build();
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err!.key).toBe('vision.patchSize');
  });
});
