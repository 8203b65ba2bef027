/**
 * predict / embed / loadModel for vision on real images: PNG files written from the bundled
 * Fashion-MNIST test images, with an unreadable file in the middle; pretraining and fine-tuned
 * runs made here in a few steps of a small model.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { initBackend, pretrain, finetune, cliMain, decodeSafetensors, loadStudentWeights, buildStudent, weightsUnder } from '@d2v/core';
import { quietRun, tempDir, removeTempDirs, captureConsole } from '@d2v/core/testing';
import {
  loadModel,
  loadImageDataset,
  bundledFashionMnistDir,
  InMemoryImageDataset,
  extractFeatures,
  makeVisionBatch,
  batchingOptions,
  pooledFeatures,
  ClassifierHead,
  FASHION_MNIST_CLASSES,
  modality,
} from '../src/index.js';
import { small } from './setup.js';

const N = 6;
const BROKEN = 2;

let pre: string;
let ft: string;
let folder: string;
let images: InMemoryImageDataset;
const files: string[] = [];

beforeAll(async () => {
  await initBackend('wasm');
  pre = tempDir('vision-pre');
  await pretrain({ modality, ...quietRun, overrides: { ...small, out: pre, 'train.steps': 2 } });
  ft = tempDir('vision-ft');
  await finetune({ modality, ...quietRun, overrides: { ...small, out: ft, 'finetune.init': pre, 'finetune.steps': 3, 'finetune.labelsPerClass': 5, 'finetune.layerDecay': 1 } });
  // The first N test images as PNG files, and a file that is no image in the middle.
  const test = await loadImageDataset(bundledFashionMnistDir(), 'test', { channels: 1 });
  folder = join(tempDir('vision-in'), 'images');
  mkdirSync(folder);
  const kept: Uint8Array[] = [];
  for (let i = 0; i < N; i++) {
    const file = join(folder, `img-${i}.png`);
    files.push(file);
    if (i === BROKEN) {
      writeFileSync(file, 'not a PNG at all');
      continue;
    }
    const { pixels } = test.get(i);
    kept.push(pixels.slice());
    await sharp(Buffer.from(pixels), { raw: { width: 28, height: 28, channels: 1 } }).png().toFile(file);
  }
  const pixels = new Uint8Array(kept.length * 28 * 28);
  kept.forEach((p, i) => pixels.set(p, i * 28 * 28));
  images = new InMemoryImageDataset(pixels, new Int32Array(kept.length), 28, 28, 1, FASHION_MNIST_CLASSES, 'kept test images');
});

afterAll(removeTempDirs);

const readable = () => files.filter((_, i) => i !== BROKEN);

describe('vision loadModel on a pretraining run', () => {
  it('embeds image files, bytes and tensors exactly as the linear probe extracts features; the bad file is named', async () => {
    const model = await loadModel(pre);
    try {
      expect(model.task).toBeUndefined();
      const e = await model.embed(model.inputsFrom([folder]).inputs, { batchSize: 4 });
      expect(e.names).toEqual(readable());
      expect(e.skipped).toHaveLength(1);
      expect(e.skipped[0]!.input).toBe(files[BROKEN]);
      expect(e.skipped[0]!.reason).toMatch(/unreadable or corrupt image/);
      // The probe's features of the same images (probe.topBlocks 1: mean over patches of the last block).
      const ctx = { config: model.config, encoder: model.encoder, transformer: model.transformer, log: () => {} };
      const probe = extractFeatures(ctx, images);
      expect(e.features.length).toBe(probe.features.length);
      for (let i = 0; i < probe.features.length; i++) expect(e.features[i]).toBeCloseTo(probe.features[i]!, 4);
      // The same images in memory: encoded bytes and pixel tensors.
      const tensors = [0, 1].map((i) => tf.tensor3d(images.get(i).pixels, [28, 28, 1], 'int32'));
      const mem = await model.embed([readFileSync(readable()[0]!), ...tensors]);
      tf.dispose(tensors);
      expect(mem.names).toEqual(['input[0]', 'input[1]', 'input[2]']);
      for (let d = 0; d < e.dim; d++) {
        expect(mem.features[d]).toBeCloseTo(probe.features[d]!, 4);
        expect(mem.features[e.dim + d]).toBeCloseTo(probe.features[d]!, 4);
        expect(mem.features[2 * e.dim + d]).toBeCloseTo(probe.features[e.dim + d]!, 4);
      }
      // Per-step: one row per patch (7 x 7).
      const steps = await model.embed(readable().slice(0, 2), { pool: 'none', layers: 'topk' });
      expect(Array.from(steps.offsets!)).toEqual([0, 49, 98]);
      await expect(model.predict(readable())).rejects.toThrow(/no fine-tuned head/);
    } finally {
      model.dispose();
    }
  });
});

describe('vision loadModel on a fine-tuned run', () => {
  it('predicts Fashion-MNIST labels as the fine-tuned classifier does, with a flat tensor count', async () => {
    const model = await loadModel(ft);
    try {
      expect(model.task).toBe('classify');
      const p = await model.predict(model.inputsFrom([folder]).inputs);
      expect(p.records.map((r) => r.input)).toEqual(readable());
      expect(p.skipped.map((s) => s.input)).toEqual([files[BROKEN]]);
      // The classifier head of the checkpoint on the eval path's batch.
      const parts = buildStudent(modality, model.config);
      const weights = await loadStudentWeights(model.checkpoint, parts, () => {});
      const head = new ClassifierHead(48, 10, 0);
      head.loadState(weightsUnder(weights, 'classifier.')!);
      tf.dispose(Object.values(weights));
      const batch = makeVisionBatch(images, [...Array(images.length).keys()], batchingOptions(model.config));
      const probs = tf.tidy(() => tf.softmax(head.apply(pooledFeatures(parts.encoder, parts.transformer, batch, false)))).arraySync() as number[][];
      batch.dispose();
      head.dispose();
      parts.encoder.dispose();
      parts.transformer.dispose();
      p.records.forEach((r, i) => {
        expect(r['label']).toBe(FASHION_MNIST_CLASSES[probs[i]!.indexOf(Math.max(...probs[i]!))]);
        const got = r['probabilities'] as Record<string, number>;
        expect(Object.keys(got)).toEqual(FASHION_MNIST_CLASSES);
        FASHION_MNIST_CLASSES.forEach((name, k) => expect(got[name]).toBeCloseTo(probs[i]![k]!, 4));
      });
      const counts: number[] = [];
      for (let i = 0; i < 3; i++) {
        await model.predict(readable(), { batchSize: 2 });
        await model.embed(readable(), { pool: 'none' });
        counts.push(tf.memory().numTensors);
      }
      expect(new Set(counts).size).toBe(1);
    } finally {
      model.dispose();
    }
  });

  it('d2v predict and d2v embed write files that parse', async () => {
    const dir = tempDir('vision-cli');
    const jsonl = join(dir, 'p.jsonl');
    const r = await captureConsole(() => cliMain(['predict', '--init', ft, '--input', folder, '--output', jsonl]));
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`d2v: skipped ${files[BROKEN]}: unreadable or corrupt image`);
    const lines = readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.input)).toEqual([...readable(), files[BROKEN]]);
    for (const l of lines.slice(0, -1)) expect(FASHION_MNIST_CLASSES).toContain(l.label);
    const out = join(dir, 'e.safetensors');
    const e = await captureConsole(() => cliMain(['embed', '--init', pre, '--input', ...files, '--out', out]));
    expect(e.code, e.err).toBe(0);
    const st = decodeSafetensors(readFileSync(out));
    expect(st.tensors['features']!.shape).toEqual([N - 1, 48]);
    expect(JSON.parse(st.metadata['inputs']!)).toEqual(readable());
    expect(st.metadata['modality']).toBe('vision');
  });
});
