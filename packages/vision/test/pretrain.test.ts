import { describe, it, expect, beforeAll } from 'vitest';
import { initBackend, evaluate, finetune } from '@d2v/core';
import { pretrainSteps, lossEnds, tensorCountIsFlat, quietRun, tempDir } from '@d2v/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { modality, loadSplit, makeVisionBatch, batchingOptions, probeFeatures, pooledFeatures } from '../src/index.js';
import { small } from './setup.js';

const quiet = quietRun;
const tmp = () => tempDir('vision-run');

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

  it('data2vec 2.0 (tiny-v2): loss falls over a few steps and the tensor count stays flat', async () => {
    const v2 = { ...small, 'objective.lossScale': null, 'objective.decoder.dim': 48, 'objective.decoder.groups': 4, 'optim.warmupSteps': 3, 'optim.lr': 2e-3 };
    const r = await pretrainSteps(modality, v2, 25, 'tiny-v2');
    const { head, tail } = lossEnds(r.losses);
    expect(tail).toBeLessThan(head * 0.9);
    expect(tensorCountIsFlat(r.tensorCounts)).toBe(true);
  });

  it('data2vec 2.0 with a CLS token: the CLS loss adds to the loss; relative positions are refused with the option named', async () => {
    const v2 = { ...small, 'objective.lossScale': null, 'objective.decoder.dim': 48, 'objective.decoder.groups': 4, 'vision.cls': true };
    const plain = await pretrainSteps(modality, v2, 2, 'tiny-v2');
    const cls = await pretrainSteps(modality, { ...v2, 'objective.clsLoss': 0.01 }, 2, 'tiny-v2');
    expect(cls.losses[0]!).toBeGreaterThan(plain.losses[0]!);
    await expect(pretrainSteps(modality, { ...v2, 'vision.positions': 'relative' }, 1, 'tiny-v2')).rejects.toThrow(/learned positions/);
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
    // The encoder probe on the average of the top blocks (data2vec's target representation).
    const top = await evaluate({ modality, ...quiet, task: 'probe', overrides: { ...small, out: tmp(), 'finetune.init': pre, 'probe.epochs': 20, 'probe.trainImages': 1000, 'probe.testImages': 500, 'probe.topBlocks': 2 } });
    expect(top['accuracy']).toBeGreaterThan(0.3);
  });

  it('probe features: topBlocks 1 is the pooled last block; more blocks average layer-normed outputs without leaking', async () => {
    const { resolveConfig, buildStudent, layerNormNoParams, maskedMeanOverTime, disposeOutput } = await import('@d2v/core');
    const config = resolveConfig({ modality: 'vision', modalitySchema: modality.schema, presets: modality.presets, preset: modality.defaultPreset, overrides: new Map(Object.entries({ ...small, out: tmp() })) });
    const { encoder, transformer } = buildStudent(modality, config);
    const ds = await loadSplit(config, 'test');
    const batch = makeVisionBatch(ds, [0, 1, 2, 3], batchingOptions(config));
    probeFeatures(encoder, transformer, batch, 2).dispose(); // first call builds cached constants
    const before = tf.memory().numTensors;
    const one = probeFeatures(encoder, transformer, batch, 1);
    const pooled = pooledFeatures(encoder, transformer, batch, false);
    expect(Array.from(one.dataSync())).toEqual(Array.from(pooled.dataSync()));
    const two = probeFeatures(encoder, transformer, batch, 2);
    const expected = tf.tidy(() => {
      const e = encoder.embed(encoder.features(batch, { training: false }), { training: false });
      const o = transformer.forward(e.x, { attnBias: e.attnBias, collect: true });
      const avg = tf.div(tf.add(layerNormNoParams(o.blocks.at(-1)!), layerNormNoParams(o.blocks.at(-2)!)), 2);
      disposeOutput(o); // collected block outputs are kept past tidy
      return maskedMeanOverTime(avg as tf.Tensor3D);
    });
    expect(two.shape).toEqual([4, config.model.dim]);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(two, expected))).dataSync()[0]!);
    expect(diff).toBeLessThan(1e-5);
    tf.dispose([one, pooled, two, expected]);
    expect(tf.memory().numTensors).toBe(before);
    batch.dispose();
  });
});
