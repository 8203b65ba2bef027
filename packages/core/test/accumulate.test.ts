import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, Module, Trainer, resolveConfig, type TrainTask } from '../src/index.js';
import { modality as toy } from './fixtures/toy-modality.js';
import { tempDir } from '../src/testing.js';

class W extends Module {
  readonly w = this.param('w', () => tf.tensor1d([0, 0]));
}

/** loss(index) = w . c[index % 2]: gradients are known exactly. */
function task(w: W): TrainTask<undefined> {
  const c = [tf.tensor1d([1, -3]), tf.tensor1d([-2, 1])];
  return {
    trainableParams: () => w.namedParams(),
    loss: (index) => ({ loss: tf.sum(tf.mul(w.w, c[index % 2]!)) as tf.Scalar }),
    itemsPerMicroBatch: () => ({ count: 1, unit: 'x' }),
    checkpointGroups: () => ({ w: w.state() }),
    restore: () => {},
    describe: () => 'linear',
    dispose: () => tf.dispose(c),
  };
}

beforeAll(async () => {
  await initBackend('wasm');
});

describe('gradient accumulation', () => {
  for (const accumulate of [1, 2]) {
    it(`averages gradients over ${accumulate} micro-batch(es)`, async () => {
      const config = resolveConfig({
        modality: 'toy',
        modalitySchema: toy.schema,
        presets: toy.presets,
        preset: 'tiny',
        overrides: new Map<string, unknown>(Object.entries({ out: tempDir('acc'), 'train.steps': 1, 'optim.accumulate': accumulate, 'optim.weightDecay': 0, 'optim.schedule': 'constant', 'optim.warmupSteps': 0, 'optim.lr': 0.1 })),
      });
      const w = new W();
      const t = task(w);
      await new Trainer(t, { config, log: () => {}, plots: false, progressStream: { write: () => true, isTTY: false } as never }).run();
      // Adam's first step moves each weight by lr against the sign of its (averaged) gradient.
      // accumulate 1: g = [1, -3]; accumulate 2: g = ([1, -3] + [-2, 1]) / 2 = [-0.5, -1].
      const want = accumulate === 1 ? [-0.1, 0.1] : [0.1, 0.1];
      const got = w.w.dataSync();
      expect(got[0]).toBeCloseTo(want[0]!, 4);
      expect(got[1]).toBeCloseTo(want[1]!, 4);
      t.dispose();
      w.dispose();
    });
  }
});
