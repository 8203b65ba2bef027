/**
 * predict / embed / loadModel for text on real texts: lines of the bundled SpamAssassin test
 * split as a text file and as a TSV (with a malformed line), a missing file among the inputs;
 * pretraining and fine-tuned runs made here in a few steps of a small model.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend, pretrain, finetune, cliMain, decodeSafetensors, accuracyOf, type DownstreamContext } from '@d2v/core';
import { quietRun, tempDir, removeTempDirs, captureConsole } from '@d2v/core/testing';
import { loadModel, modality, bundledSpamFiles, readLabelledTsv, loadTokenizer, encodeLabelled, extractSentenceFeatures } from '../src/index.js';
import { small } from './setup.js';

let pre: string;
let ft: string;
let ftAccuracy: number;
let dir: string;
let linesFile: string;
let tsvFile: string;
let missing: string;
const spam = readLabelledTsv(bundledSpamFiles().test);
const texts = spam.texts.slice(0, 5);

beforeAll(async () => {
  await initBackend('wasm');
  pre = tempDir('text-pre');
  await pretrain({ modality, ...quietRun, overrides: { ...small, out: pre, 'train.steps': 2 } });
  ft = tempDir('text-ft');
  const r = await finetune({ modality, ...quietRun, overrides: { ...small, out: ft, 'finetune.init': pre, 'finetune.labels': 64, 'finetune.steps': 6, 'finetune.batchSize': 16, 'finetune.warmupSteps': 1 } });
  ftAccuracy = r.metrics['accuracy']!;
  dir = tempDir('text-in');
  linesFile = join(dir, 'texts.txt');
  writeFileSync(linesFile, `${texts.slice(0, 3).join('\n')}\n\n`);
  tsvFile = join(dir, 'more.tsv');
  writeFileSync(tsvFile, `label\ttext\nspam\t${texts[3]}\nno tab on this line\nham\t${texts[4]}\n`);
  missing = join(dir, 'missing.txt');
});

afterAll(removeTempDirs);

describe('text loadModel on a pretraining run', () => {
  it('embeds lines of text files and TSVs as the linear probe extracts features; bad lines and files are named', async () => {
    const model = await loadModel(pre);
    try {
      const listed = model.inputsFrom([linesFile, missing, tsvFile]);
      expect(listed.inputs.map((i) => i.name)).toEqual([`${linesFile}:1`, `${linesFile}:2`, `${linesFile}:3`, `${tsvFile}:2`, `${tsvFile}:4`]);
      expect(listed.inputs.map((i) => i.value)).toEqual(texts);
      expect(listed.skipped).toEqual([
        { input: missing, reason: 'no such file or folder' },
        { input: `${tsvFile}:3`, reason: 'expected "label<TAB>text" but the line has no tab' },
      ]);
      const e = await model.embed(listed.inputs, { batchSize: 2 });
      expect(e.names).toEqual(listed.inputs.map((i) => i.name));
      // The probe's sentence features (mean over tokens of the last block) of the same texts.
      const ctx: DownstreamContext = { config: model.config, encoder: model.encoder, transformer: model.transformer, log: () => {} };
      const data = encodeLabelled(await loadTokenizer(model.config), { texts, labels: new Int32Array(texts.length), labelNames: ['x'] }, 48, 'texts');
      const probe = extractSentenceFeatures(ctx, data, 'mean');
      for (let i = 0; i < probe.features.length; i++) expect(e.features[i]).toBeCloseTo(probe.features[i]!, 4);
      // Strings in memory, and per-step features: one row per token, <s> and </s> included.
      const mem = await model.embed(texts.slice(0, 2), { pool: 'none' });
      expect(Array.from(mem.offsets!)).toEqual([0, data.sequences[0]!.length, data.sequences[0]!.length + data.sequences[1]!.length]);
      await expect(model.predict(texts)).rejects.toThrow(/no fine-tuned head/);
    } finally {
      model.dispose();
    }
  });
});

describe('text loadModel on a fine-tuned run', () => {
  it('predicts the test split with the accuracy its fine-tuning evaluation reported', async () => {
    const model = await loadModel(ft);
    try {
      expect(model.task).toBe('classify');
      const p = await model.predict(model.inputsFrom([bundledSpamFiles().test]).inputs);
      expect(p.skipped).toEqual([]);
      expect(p.records).toHaveLength(spam.labels.length);
      const predicted = p.records.map((r) => spam.labelNames.indexOf(r['label'] as string));
      expect(accuracyOf(predicted, spam.labels)).toBeCloseTo(ftAccuracy, 10);
      for (const r of p.records.slice(0, 5)) {
        const probs = r['probabilities'] as Record<string, number>;
        expect(Object.keys(probs)).toEqual(['ham', 'spam']);
        expect(probs['ham']! + probs['spam']!).toBeCloseTo(1, 5);
      }
      const counts: number[] = [];
      for (let i = 0; i < 3; i++) {
        await model.predict(texts, { batchSize: 2 });
        await model.embed(texts, { pool: 'none', layers: 'topk' });
        counts.push(tf.memory().numTensors);
      }
      expect(new Set(counts).size).toBe(1);
    } finally {
      model.dispose();
    }
  });

  it('d2v predict and d2v embed write files that parse', async () => {
    const out = tempDir('text-cli');
    const jsonl = join(out, 'p.jsonl');
    const r = await captureConsole(() => cliMain(['predict', '--init', ft, '--input', linesFile, missing, tsvFile, '--output', jsonl]));
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`d2v: skipped ${missing}: no such file or folder`);
    const lines = readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(7);
    expect(lines.slice(0, 5).map((l) => l.label).every((l: string) => l === 'ham' || l === 'spam')).toBe(true);
    expect(lines.slice(5).map((l) => l.input)).toEqual([missing, `${tsvFile}:3`]);
    const st = join(out, 'e.safetensors');
    const e = await captureConsole(() => cliMain(['embed', '--init', pre, '--input', linesFile, '--out', st, '--layers', 'topk', '--top-k', '1']));
    expect(e.code, e.err).toBe(0);
    expect(e.out).toContain('mean-pooled features of the top 1 blocks (data2vec targets), [3, 64]');
    const decoded = decodeSafetensors(readFileSync(st));
    expect(decoded.metadata).toMatchObject({ layers: 'topk', topK: '1', pool: 'mean', modality: 'text' });
    expect(JSON.parse(decoded.metadata['inputs']!)).toEqual([`${linesFile}:1`, `${linesFile}:2`, `${linesFile}:3`]);
  });
});
