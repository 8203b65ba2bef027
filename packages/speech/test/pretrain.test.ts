import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  initBackend,
  pretrain,
  finetune,
  evaluate,
  loadModality,
  getModality,
  discoverModalities,
  resolveConfig,
  buildStudent,
  finetuneConfig,
  loadStudentWeights,
  resolveCheckpointDir,
  Trainer,
} from '@d2v/core';
import { pretrainSteps, lossEnds, tensorCountIsFlat, quietRun, tempDir } from '@d2v/core/testing';
import { modality, createCtcTask } from '../src/index.js';
import { small } from './setup.js';

const quiet = quietRun;
const tmp = () => tempDir('speech-run');

beforeAll(async () => {
  await initBackend('wasm');
});

describe('registry', () => {
  it('--modality speech loads @d2v/speech by name and the package is discoverable', async () => {
    const m = await loadModality('speech');
    expect(m.name).toBe('speech');
    expect(getModality('speech')).toBe(m);
    expect(Object.keys(m.presets)).toEqual(expect.arrayContaining(['tiny', 'paper-base']));
    expect(m.defaultPreset).toBe('tiny');
    expect(m.createFinetuneTask).toBeTypeOf('function');
    expect(Object.keys(m.evaluations ?? {})).toEqual(['ctc', 'classify', 'probe']);
    expect(Object.keys(m.presets)).toContain('quick');
    expect(discoverModalities()).toContain('speech');
  });

  it('paper-base resolves to the data2vec speech recipe (Base, LibriSpeech 960 h)', () => {
    const c = resolveConfig({ modality: 'speech', modalitySchema: modality.schema, presets: modality.presets, preset: 'paper-base' });
    expect(c.model).toMatchObject({ dim: 768, depth: 12, heads: 12, ffnDim: 3072, norm: 'post', layerDrop: 0.05 });
    expect(c.objective).toMatchObject({
      topK: 8,
      targetSource: 'ffn',
      instanceNormTargetLayer: true,
      layerNormTargetLayer: false,
      lossBeta: 0,
      emaStart: 0.999,
      emaEnd: 0.9999,
      emaAnnealSteps: 30000,
      emaEncoder: false,
    });
    expect(c['speech']).toMatchObject({ convChannels: Array(7).fill(512), convKernels: [10, 3, 3, 3, 3, 2, 2], convStrides: [5, 2, 2, 2, 2, 2, 2], posConvLayers: 5, posConvGroups: 16 });
    expect(c['masking']).toMatchObject({ startProb: 0.065, spanLength: 10 });
    expect(c['finetune']).toMatchObject({ freezeFeatureEncoder: true });
    expect(c.optim).toMatchObject({ lr: 5e-4, beta2: 0.98, schedule: 'tri-stage' });
  });

  it('tiny keeps the paper objective and masking but a smaller encoder at 50 frames/s', () => {
    const c = resolveConfig({ modality: 'speech', modalitySchema: modality.schema, presets: modality.presets, preset: 'tiny' });
    const s = c['speech'] as { convStrides: number[]; convKernels: number[] };
    expect(s.convStrides.reduce((a, b) => a * b, 1)).toBe(320);
    expect(s.convKernels).toEqual([10, 3, 3, 3, 3, 2, 2]);
    expect(c.objective).toMatchObject({ targetSource: 'ffn', instanceNormTargetLayer: true, emaEncoder: false });
    expect(c['masking']).toMatchObject({ startProb: 0.065, spanLength: 10 });
  });
});

describe('speech pretraining on the bundled espeak-small corpus', () => {
  it('loss falls over a few steps and the tensor count stays flat', async () => {
    const r = await pretrainSteps(modality, { ...small, 'train.batchSize': 8, 'optim.warmupSteps': 3, 'optim.lr': 2e-3 }, 20);
    const { head, tail } = lossEnds(r.losses);
    expect(r.losses.every(Number.isFinite)).toBe(true);
    expect(tail).toBeLessThan(head * 0.9);
    expect(tensorCountIsFlat(r.tensorCounts)).toBe(true);
  });

  it('data2vec 2.0 (tiny-v2): loss falls over a few steps and the tensor count stays flat', async () => {
    const v2 = { ...small, 'objective.decoder.dim': 32, 'train.batchSize': 8, 'optim.warmupSteps': 3, 'optim.lr': 2e-3 };
    const r = await pretrainSteps(modality, v2, 20, 'tiny-v2');
    const { head, tail } = lossEnds(r.losses);
    expect(r.losses.every(Number.isFinite)).toBe(true);
    expect(tail).toBeLessThan(head * 0.9);
    expect(tensorCountIsFlat(r.tensorCounts)).toBe(true);
  });
});

describe('CTC fine-tuning from a pretraining checkpoint', () => {
  it('loss falls with a flat tensor count; finetune and eval report the same WER/CER', async () => {
    const pre = tmp();
    await pretrain({ modality, ...quiet, overrides: { ...small, out: pre, 'train.steps': 2 } });
    const ftOv = { ...small, 'finetune.init': pre, 'finetune.steps': 15, 'finetune.batchSize': 4, 'finetune.lr': 2e-3, 'finetune.warmupSteps': 2, 'finetune.labelledUtterances': 40 };

    // The training loop itself, with the tensor count after every update.
    const config = finetuneConfig(resolveConfig({ modality: 'speech', modalitySchema: modality.schema, presets: modality.presets, preset: 'tiny', overrides: new Map(Object.entries({ ...ftOv, out: tmp() })) }));
    const parts = buildStudent(modality, config);
    const weights = await loadStudentWeights(resolveCheckpointDir(pre), parts, () => {});
    const task = await createCtcTask({ config, encoder: parts.encoder, transformer: parts.transformer, log: () => {}, weights });
    tf.dispose(Object.values(weights));
    const counts: number[] = [];
    try {
      const r = await new Trainer(task, { config, ...quiet, onStep: () => counts.push(tf.memory().numTensors) }).run();
      const { head, tail } = lossEnds(r.losses);
      expect(tail).toBeLessThan(head * 0.8);
      expect(tensorCountIsFlat(counts)).toBe(true);
      // The feature encoder stays frozen: none of its weights are trained.
      expect(task.trainableParams().some(([n]) => n.includes('extractor'))).toBe(false);
      const m = await task.evaluate!();
      expect(m['testUtterances']).toBe(40);
      expect(m['wer']).toBeGreaterThan(0);
      expect(m['cer']).toBeGreaterThan(0);
      expect(Number.isFinite(m['cer'])).toBe(true);
      // The test CTC loss per letter is reported next to WER/CER (finite, positive).
      expect(m['ctcLossPerLetter']).toBeGreaterThan(0);
    } finally {
      task.dispose();
      parts.encoder.dispose();
      parts.transformer.dispose();
    }

    // The CLI path: `d2v finetune` writes eval.json, and `d2v eval --task ctc` on its checkpoint reproduces it.
    const ftOut = tmp();
    const ft = await finetune({ modality, ...quiet, overrides: { ...ftOv, 'finetune.steps': 3, out: ftOut } });
    expect(Object.keys(ft.metrics).sort()).toEqual(['cer', 'ctcLossPerLetter', 'testUtterances', 'wer']);
    expect(JSON.parse(readFileSync(join(ftOut, 'eval.json'), 'utf8')).cer).toBe(ft.metrics['cer']);
    const ev = await evaluate({ modality, ...quiet, task: 'ctc', overrides: { ...small, out: tmp(), 'finetune.init': ftOut } });
    expect(ev['wer']).toBeCloseTo(ft.metrics['wer']!, 6);
    expect(ev['cer']).toBeCloseTo(ft.metrics['cer']!, 6);
    expect(ev['ctcLossPerLetter']).toBeCloseTo(ft.metrics['ctcLossPerLetter']!, 4);
    // A pretraining checkpoint has no CTC head: eval says what to do instead.
    await expect(evaluate({ modality, ...quiet, task: 'ctc', overrides: { ...small, out: tmp(), 'finetune.init': pre } })).rejects.toThrow(/no CTC head/);
  });
});
