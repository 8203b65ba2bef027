import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { initBackend, pretrain, buildStudent, resolveConfig, summarizePretraining, quickPreset, trainLinearProbe, Rng, classificationMetrics, crossEntropy, confusionMatrixPng, CheckpointManager, PluginError, ConfigError, type DownstreamContext } from '../src/index.js';
import { formatSummary, summaryProbeOf } from '../src/eval/summary.js';
import { main as cliMain } from '../src/cli/main.js';
import { quietRun } from '../src/testing.js';
import { modality as toy } from './fixtures/toy-modality.js';

const TOY = resolve(__dirname, 'fixtures/toy-modality.ts');
const tmp = mkdtempSync(join(tmpdir(), 'd2v-summary-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let runs = 0;
const fresh = () => join(tmp, `run${runs++}`);

/** Sum of the Transformer's weights: tells which weights an evaluation saw. */
const weightSum = (ctx: DownstreamContext) => tf.tidy(() => ctx.transformer.namedParams().reduce((s, [, p]) => s + tf.sum(p.variable).dataSync()[0]!, 0));

/** The toy modality with a probe that reports what it was given (weights and the bounding override). */
const spy: typeof toy = {
  ...toy,
  name: 'toy',
  evaluations: {
    ...toy.evaluations,
    probe: async (ctx) => ({ accuracy: ctx.weights ? 0.75 : 0.5, weightSum: weightSum(ctx), classes: ctx.config.toy.classes }),
  },
  summaryProbe: { overrides: { 'toy.classes': 3 } },
};

const config = (out: string) => resolveConfig({ modality: 'toy', modalitySchema: toy.schema, presets: toy.presets, preset: 'tiny', overrides: new Map<string, unknown>([['out', out], ['train.steps', 3]]) });

beforeAll(async () => {
  await initBackend('wasm');
});

describe('end-of-pretraining summary', () => {
  it('probes the last checkpoint and exactly the initial weights, with the modality overrides; writes summary.json and probe.png', async () => {
    const out = fresh();
    const r = await pretrain({ modality: spy, ...quietRun, overrides: { out, 'train.steps': 3 } });
    const logs: string[] = [];
    const before = tf.memory().numTensors;
    const s = (await summarizePretraining({ modality: spy, config: r.config, runDir: out, log: (m) => logs.push(m) }))!;
    // A repeated call path: nothing left behind.
    await summarizePretraining({ modality: spy, config: r.config, runDir: out, log: () => {}, plots: false });
    expect(tf.memory().numTensors).toBe(before);

    const ckpt = await new CheckpointManager(out, { keepLast: 1 }).load(s.checkpoint);
    const stored = tf.tidy(() => Object.entries(ckpt.groups['student']!).filter(([k]) => k.startsWith('transformer.')).reduce((a, [, t]) => a + tf.sum(t).dataSync()[0]!, 0));
    ckpt.dispose();
    const init = buildStudent(spy, r.config);
    const initial = weightSum({ transformer: init.transformer } as DownstreamContext);
    init.encoder.dispose();
    init.transformer.dispose();
    expect(stored).not.toBeCloseTo(initial, 3);
    expect(s.pretrained['weightSum']).toBeCloseTo(stored, 3);
    expect(s.randomInit['weightSum']).toBeCloseTo(initial, 3);
    expect(s.pretrained['classes']).toBe(3);
    expect(s.step).toBe(3);
    expect(s.metric).toBe('accuracy');

    const saved = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(saved.pretrained.accuracy).toBe(0.75);
    expect(saved.randomInit.accuracy).toBe(0.5);
    expect(saved.overrides).toEqual({ 'toy.classes': 3 });
    expect((await sharp(join(out, 'probe.png')).metadata()).format).toBe('png');
    // quietRun draws no training curves: the probe chart is the only plot.
    expect(s.plots).toEqual([join(out, 'probe.png')]);
    const text = formatSummary(s);
    expect(text).toContain('pretrained 75.0%, random init 50.0%');
    expect(text).toContain(`summary: ${join(out, 'summary.json')}`);
    expect(text).toContain(join(out, 'probe.png'));
  });

  it('a modality without a probe has no summary; a misspelt summaryProbe.evaluation is an error naming it', async () => {
    const none: typeof toy = { ...toy, evaluations: {}, summaryProbe: undefined };
    expect(summaryProbeOf(none)).toBeUndefined();
    const logs: string[] = [];
    expect(await summarizePretraining({ modality: none, config: config(fresh()), runDir: fresh(), log: (m) => logs.push(m) })).toBeUndefined();
    expect(logs.join('\n')).toMatch(/has no probe evaluation/);
    expect(() => summaryProbeOf({ ...toy, summaryProbe: { evaluation: 'prob' } })).toThrow(PluginError);
    expect(() => summaryProbeOf({ ...toy, summaryProbe: { evaluation: 'prob' } })).toThrow(/summaryProbe.evaluation 'prob' is not one of its evaluations \(probe\)/);
    // A bad override key is a config error naming it.
    const out = fresh();
    const r = await pretrain({ modality: toy, ...quietRun, overrides: { out, 'train.steps': 1 } });
    await expect(summarizePretraining({ modality: { ...toy, summaryProbe: { overrides: { 'toy.clases': 3 } } }, config: r.config, runDir: out, log: () => {} })).rejects.toThrow(/unknown option 'toy.clases' \(did you mean 'toy.classes'\?\)/);
  });

  it('d2v pretrain ends with the summary; --no-summary and --stop-after skip it', async () => {
    const lines: string[] = [];
    const log = console.log;
    const err = console.error;
    console.log = (...a: unknown[]) => lines.push(a.join(' '));
    console.error = () => {};
    try {
      const out = fresh();
      expect(await cliMain(['pretrain', '--modality', TOY, '--out', out, '--steps', '3'])).toBe(0);
      expect(lines.join('\n')).toMatch(/probe \(accuracy on held-out data, frozen features\): pretrained \d+\.\d%, random init \d+\.\d%/);
      expect(lines.join('\n')).toContain(`summary: ${join(out, 'summary.json')}`);
      expect(lines.join('\n')).toContain(`plots: ${join(out, 'loss.png')}, ${join(out, 'lr.png')}, ${join(out, 'probe.png')}, ${join(out, 'variance.png')}`);
      expect(existsSync(join(out, 'summary.json'))).toBe(true);
      const skipped = fresh();
      lines.length = 0;
      expect(await cliMain(['pretrain', '--modality', TOY, '--out', skipped, '--steps', '3', '--no-summary'])).toBe(0);
      expect(lines.join('\n')).not.toContain('summary:');
      expect(existsSync(join(skipped, 'summary.json'))).toBe(false);
      const stopped = fresh();
      expect(await cliMain(['pretrain', '--modality', TOY, '--out', stopped, '--steps', '3', '--stop-after', '1'])).toBe(0);
      expect(existsSync(join(stopped, 'summary.json'))).toBe(false);
    } finally {
      console.log = log;
      console.error = err;
    }
  });
});

describe('linear probe', () => {
  it('learns separable classes and leaves no tensor behind (the summary runs it twice per run)', () => {
    const rng = new Rng(4);
    const make = (n: number) => {
      const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
      const features = new Float32Array(n * 5).map((_, j) => rng.normal() + (j % 5 === labels[Math.floor(j / 5)]! ? 3 : 0));
      return { features, labels };
    };
    const train = make(60);
    const test = make(30);
    const before = tf.memory().numTensors;
    const r = trainLinearProbe(train, test, { dim: 5, classes: 3, epochs: 30, lr: 1e-2, batchSize: 16, weightDecay: 1e-4, seed: 1 });
    trainLinearProbe(train, test, { dim: 5, classes: 3, epochs: 2, lr: 1e-2, batchSize: 16, weightDecay: 1e-4, seed: 1 });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.testAccuracy).toBeGreaterThan(0.9);
  });
});

describe('quick presets', () => {
  it('shorten a preset, scaling warm-up and the EMA anneal with it', () => {
    const base = toy.presets['tiny']!;
    const q = quickPreset(base, 15);
    expect(q['train']).toMatchObject({ steps: 15, checkpointEvery: 15, batchSize: 16 });
    expect((q['optim'] as { warmupSteps: number }).warmupSteps).toBe(1); // 5 of 60 -> 1.25
    expect((q['objective'] as { emaAnnealSteps: number }).emaAnnealSteps).toBe(25); // 100 of 60 steps -> 25 of 15
    expect(q['model']).toEqual(base['model']);
    expect(() => quickPreset(base, 600)).toThrow(ConfigError);
  });
});

describe('classification metrics and the confusion matrix chart', () => {
  it('accuracy, macro F1 and the confusion matrix', () => {
    // class 0: tp 2, fp 1, fn 1 -> F1 2/3; class 1: tp 1, fp 1, fn 1 -> 1/2; class 2 absent and never predicted.
    const m = classificationMetrics([0, 0, 1, 1, 0], [0, 0, 1, 0, 1], 3);
    expect(m.accuracy).toBeCloseTo(3 / 5);
    expect(m.f1[0]).toBeCloseTo(2 / 3);
    expect(m.macroF1).toBeCloseTo((2 / 3 + 1 / 2) / 2);
    expect(m.confusion).toEqual([
      [2, 1, 0],
      [1, 1, 0],
      [0, 0, 0],
    ]);
    expect(() => classificationMetrics([3], [0], 3)).toThrow(RangeError);
  });

  it('cross entropy of logits against integer labels', () => {
    const before = tf.memory().numTensors;
    const logits = tf.tensor2d([[2, 0], [0, 1]]);
    const labels = tf.tensor1d([0, 1], 'int32');
    const ce = crossEntropy(logits, labels);
    const want = (-Math.log(Math.exp(2) / (Math.exp(2) + 1)) - Math.log(Math.exp(1) / (1 + Math.exp(1)))) / 2;
    expect(ce.dataSync()[0]).toBeCloseTo(want, 5);
    tf.dispose([logits, labels, ce]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('draws a confusion matrix with the class names and counts', async () => {
    const file = join(fresh(), 'confusion.png');
    const out = await confusionMatrixPng(file, { title: 'Voice ID test', classes: ['alice', 'bob', 'carol'], matrix: [[3, 1, 0], [0, 4, 0], [1, 0, 2]] });
    expect((await sharp(file).metadata()).format).toBe('png');
    const svg = readFileSync(out.svg, 'utf8');
    expect(svg).toContain('Voice ID test');
    expect(svg).toContain('carol');
    await expect(confusionMatrixPng(file, { title: 't', classes: ['a', 'b'], matrix: [[1, 2]] })).rejects.toThrow(ConfigError);
  });
});
