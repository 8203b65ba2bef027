import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataError, Trainer, buildStudent, evaluate, finetune, finetuneConfig, initBackend, pretrain, resolveConfig } from '@d2v/core';
import { lossEnds, quietRun, tensorCountIsFlat } from '@d2v/core/testing';
import { modality, loadModel, createClassifyTask, classNames, readLabelFile, openSpeechDataset, subsetDataset, SpeechDataSource, buildCorpus, CORPUS_SPLITS } from '../src/index.js';
import { readManifest } from '../src/data/manifest.js';
import { splitUtterancesByVoice } from '../src/data/corpus.js';
import { Rng } from '@d2v/core';
import { small as smallSpeech } from './setup.js';

const tmp = mkdtempSync(join(tmpdir(), 'd2v-classify-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const dir = (name: string) => join(tmp, name);

// The small model of the other tests, with a small classifier projection.
const small = { ...smallSpeech, 'classify.projDim': 32 };

const config = (overrides: Record<string, unknown>) =>
  finetuneConfig(resolveConfig({ modality: 'speech', modalitySchema: modality.schema, presets: modality.presets, preset: 'tiny', overrides: new Map(Object.entries(overrides)) }));

// A toy voice-ID corpus, synthesised for real: a whispering and a speaking espeak-ng voice, 16
// sentences each, 5 of each voice's sentences held out. (Timbres as close as two speaking voices
// need a trained conv front end: from a random init they take hundreds of updates; the evidence
// script measures that, pretrained vs scratch.)
let corpus: string;
beforeAll(async () => {
  await initBackend('wasm');
  corpus = dir('voices');
  buildCorpus({ out: corpus, utterances: 32, voices: 2, variants: ['whisper', 'm3'], seed: 3, splitBy: 'utterance', validFraction: 0, testFraction: 0.3, maxSeconds: 2, maxWords: 4 });
}, 60_000);

describe('a corpus split by utterance, with label files', () => {
  it('holds every voice in train and test, unseen sentences in test, and labels matching the audio folders', () => {
    const voices: Record<string, string[]> = {};
    const sentences: Record<string, Set<string>> = {};
    for (const split of ['train', 'test']) {
      const tsv = join(corpus, `${split}.tsv`);
      const m = readManifest(tsv);
      const labels = readLabelFile(tsv, 'voice', m.entries.length);
      // The label names the voice whose folder holds the file; accent and variant are parts of it.
      m.entries.forEach((e, i) => expect(dirname(e.path)).toBe(`wav/${labels[i]}`));
      const accents = readLabelFile(tsv, 'accent', m.entries.length);
      const variants = readLabelFile(tsv, 'variant', m.entries.length);
      labels.forEach((v, i) => expect(v).toBe(variants[i] === 'default' ? accents[i] : `${accents[i]}_${variants[i]}`));
      voices[split] = [...new Set(labels)].sort();
      sentences[split] = new Set(m.words);
    }
    expect(voices['train']!.length).toBe(2);
    expect(voices['train']!.some((v) => v.endsWith('_whisper'))).toBe(true);
    expect(voices['test']).toEqual(voices['train']);
    expect(readManifest(join(corpus, 'test.tsv')).entries.length).toBe(10);
    expect([...sentences['test']!].filter((s) => sentences['train']!.has(s))).toEqual([]);
    expect(JSON.parse(readFileSync(join(corpus, 'corpus.json'), 'utf8')).splitBy).toBe('utterance');
    // No valid share asked for: no valid manifest, and opening it says what is there.
    expect(existsSync(join(corpus, 'valid.tsv'))).toBe(false);
    expect(() => openSpeechDataset(corpus, { split: 'valid' })).toThrow(/no valid.tsv here \(found .*train.tsv/);
  });

  it('splitUtterancesByVoice holds out a seeded share of each voice', () => {
    const voices = [...Array(10).fill('a'), ...Array(5).fill('b')];
    const split = splitUtterancesByVoice(voices, new Rng(1), 0.1, 0.3);
    const count = (v: string, s: string) => voices.filter((x, i) => x === v && split[i] === s).length;
    expect([count('a', 'train'), count('a', 'valid'), count('a', 'test')]).toEqual([6, 1, 3]);
    expect([count('b', 'train'), count('b', 'valid'), count('b', 'test')]).toEqual([2, 1, 2]);
    expect(splitUtterancesByVoice(voices, new Rng(1), 0.1, 0.3)).toEqual(split);
    expect(CORPUS_SPLITS).toEqual(['train', 'valid', 'test']);
  });
});

describe('utterance labels: bad input names the file and the line', () => {
  // A copy of the toy corpus' manifests with broken label files.
  const broken = (name: string, edit: (trainLabels: string[], testLabels: string[]) => void) => {
    const d = dir(name);
    mkdirSync(d, { recursive: true });
    for (const split of ['train', 'test']) {
      const m = readFileSync(join(corpus, `${split}.tsv`), 'utf8').split('\n');
      m[0] = corpus; // absolute root: the audio stays where it is
      writeFileSync(join(d, `${split}.tsv`), m.join('\n'));
    }
    const tr = readFileSync(join(corpus, 'train.voice'), 'utf8').trimEnd().split('\n');
    const te = readFileSync(join(corpus, 'test.voice'), 'utf8').trimEnd().split('\n');
    edit(tr, te);
    writeFileSync(join(d, 'train.voice'), tr.join('\n') + '\n');
    writeFileSync(join(d, 'test.voice'), te.join('\n') + '\n');
    return d;
  };

  it('an empty label, a label file of the wrong length, a missing label file', () => {
    const d = broken('empty-label', (tr) => (tr[2] = '  '));
    expect(() => openSpeechDataset(join(d, 'train.tsv'), { labels: 'voice' })).toThrow(DataError);
    expect(() => openSpeechDataset(join(d, 'train.tsv'), { labels: 'voice' })).toThrow(`${join(d, 'train.voice')}: line 3: empty label`);
    const short = broken('short', (tr) => tr.pop());
    expect(() => openSpeechDataset(join(short, 'train.tsv'), { labels: 'voice' })).toThrow(new RegExp(`${join(short, 'train.voice')}: 21 lines but .*train.tsv lists 22 files`));
    expect(() => openSpeechDataset(join(short, 'train.tsv'), { labels: 'speaker' })).toThrow(`${join(short, 'train.speaker')}: no such label file`);
    // A folder of WAVs has no label files.
    expect(() => openSpeechDataset(join(corpus, 'wav'), { labels: 'voice' })).toThrow(/utterance labels come from a manifest/);
  });

  it('a test class never seen in training, with the line and a suggestion', () => {
    let line = 0;
    const d = broken('typo', (tr, te) => {
      line = 5;
      te[line - 1] = te[line - 1]! + 'x';
    });
    const wrong = readFileSync(join(d, 'test.voice'), 'utf8').split('\n')[line - 1]!;
    const c = config({ ...small, 'classify.path': d, out: dir('typo-run') });
    const train = openSpeechDataset(join(d, 'train.tsv'), { labels: 'voice' });
    const test = openSpeechDataset(join(d, 'test.tsv'), { labels: 'voice' });
    const err = (() => {
      try {
        classNames(c, train, test);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(DataError);
    expect(err!.message).toContain(`${join(d, 'test.voice')}: line ${line}: class '${wrong}' is not among the training labels (${join(d, 'train.voice')}) (did you mean '${wrong.slice(0, -1)}'?)`);
    // An explicit class list is checked against both splits.
    const c2 = config({ ...small, 'classify.classes': 'a,b', out: dir('typo-run2') });
    expect(() => classNames(c2, train, test)).toThrow(new RegExp(`train.voice: line 1: class '.*' is not among classify.classes`));
    const one = broken('one-class', (tr, te) => tr.fill(tr[0]!) && te.fill(tr[0]!));
    const oneTrain = openSpeechDataset(join(one, 'train.tsv'), { labels: 'voice' });
    expect(() => classNames(c, oneTrain)).toThrow(`${join(one, 'train.voice')}: 1 class (${oneTrain.labels![0]}): classification needs at least two`);
  });

  it('labels survive subsets and reach the batch', () => {
    const ds = openSpeechDataset(join(corpus, 'train.tsv'), { labels: 'voice' });
    const sub = subsetDataset(ds, [3, 1]);
    expect(sub.labels).toEqual([ds.labels![3], ds.labels![1]]);
    const batch = new SpeechDataSource(sub, { seed: 0, shuffle: false, pad: true }).collate([0, 1]);
    expect(batch.labels).toEqual([ds.labels![3], ds.labels![1]]);
    expect(sub.get(0).label).toBe(ds.labels![3]);
    batch.dispose();
  });
});

describe('utterance classification head (finetune.task classify)', () => {
  const ft = { ...small, 'finetune.task': 'classify', 'classify.path': '', 'finetune.batchSize': 8, 'finetune.lr': 3e-3, 'finetune.warmupSteps': 3, 'masking.finetuneStartProb': 0, 'masking.channelRatio': 0 };

  it('learns voice ID on held-out sentences from scratch: accuracy well above chance, flat tensor count', async () => {
    // The tiny preset's fine-tuning masks (time spans and channels) stay on.
    const c = config({ ...ft, 'masking.finetuneStartProb': 0.05, 'masking.channelRatio': 0.1, 'classify.path': corpus, 'finetune.steps': 40, out: dir('learn') });
    const parts = buildStudent(modality, c);
    const task = await createClassifyTask({ config: c, encoder: parts.encoder, transformer: parts.transformer, log: () => {} });
    const before = await task.evaluate();
    const counts: number[] = [];
    try {
      // The evaluation above wrote its confusion matrix into the run folder: this run replaces it.
      const r = await new Trainer(task, { config: { ...c, overwrite: true }, ...quietRun, onStep: () => counts.push(tf.memory().numTensors) }).run();
      const { head, tail } = lossEnds(r.losses, 5);
      expect(tail).toBeLessThan(head * 0.7);
      expect(tensorCountIsFlat(counts)).toBe(true);
      const beforeEval = tf.memory().numTensors;
      const m = await task.evaluate();
      expect(tf.memory().numTensors).toBe(beforeEval);
      // 2 voices: chance is 50%; 10 test sentences never heard in training.
      expect(m['testUtterances']).toBe(10);
      expect(m['classes']).toBe(2);
      expect(m['accuracy']).toBeGreaterThanOrEqual(0.9);
      expect(m['accuracy']).toBeGreaterThan(before['accuracy']!);
      expect(m['macroF1']).toBeGreaterThanOrEqual(0.9);
      expect(existsSync(join(c.out, 'confusion.png'))).toBe(true);
      // The feature encoder stays frozen, as for CTC.
      expect(task.trainableParams().some(([n]) => n.includes('extractor'))).toBe(false);
      expect(task.trainableParams().map(([n]) => n)).toEqual(expect.arrayContaining(['classifier.projector.weight', 'classifier.classifier.weight']));
    } finally {
      task.dispose();
      parts.encoder.dispose();
      parts.transformer.dispose();
    }
  }, 120_000);

  it('d2v finetune records the task and classes in the run config; d2v eval --task classify reproduces the metrics', async () => {
    const pre = dir('pre');
    await pretrain({ modality, ...quietRun, overrides: { ...small, out: pre, 'train.steps': 2 } });
    const out = dir('ft');
    const r = await finetune({ modality, ...quietRun, overrides: { ...ft, 'finetune.init': pre, 'finetune.steps': 3, out } });
    expect(Object.keys(r.metrics).sort()).toEqual(['accuracy', 'classes', 'macroF1', 'testUtterances']);
    // The bundled espeak-voices: 8 voices espeak-small holds out of pretraining, 4 test sentences each.
    expect(r.metrics['testUtterances']).toBe(32);
    const saved = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(saved.finetune.task).toBe('classify');
    expect(saved.classify.classes).toHaveLength(8);
    expect(saved.classify.classes).toEqual([...saved.classify.classes].sort());
    expect(JSON.parse(readFileSync(join(r.lastCheckpoint!, 'config.json'), 'utf8')).classify.classes).toEqual(saved.classify.classes);
    const ev = await evaluate({ modality, ...quietRun, task: 'classify', overrides: { ...small, out: dir('ev'), 'finetune.init': out } });
    expect(ev['accuracy']).toBeCloseTo(r.metrics['accuracy']!, 6);
    expect(ev['macroF1']).toBeCloseTo(r.metrics['macroF1']!, 6);
    expect(existsSync(join(dir('ev'), 'confusion.png'))).toBe(true);
    // d2v predict / loadModel dispatch on the run's finetune.task: the same test accuracy, utterance by utterance.
    const manifest = fileURLToPath(new URL('../data/espeak-voices/test.tsv', import.meta.url));
    const truth = readLabelFile(manifest, 'voice', 32);
    const model = await loadModel(out, { log: () => {} });
    try {
      const before = tf.memory().numTensors;
      const p = await model.predict(model.inputsFrom([manifest]).inputs);
      expect(p.task).toBe('classify');
      expect(p.records).toHaveLength(32);
      const right = p.records.filter((rec, i) => rec['label'] === truth[i]).length;
      expect(right / 32).toBeCloseTo(r.metrics['accuracy']!, 6);
      const probs = Object.values(p.records[0]!['probabilities'] as Record<string, number>);
      expect(probs).toHaveLength(8);
      expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      await model.predict(model.inputsFrom([manifest]).inputs);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
    }
    // A pretraining checkpoint has no classifier: eval says what to pass instead.
    await expect(evaluate({ modality, ...quietRun, task: 'classify', overrides: { ...small, out: dir('ev2'), 'finetune.init': pre } })).rejects.toThrow(/no utterance classifier/);
  }, 120_000);
});

describe('the linear probe (d2v eval --task probe, the end of d2v pretrain)', () => {
  it('probes the bundled espeak-voices on every block or the last one; deterministic, flat tensor count over calls', async () => {
    const probe = (topBlocks: number) => evaluate({ modality, ...quietRun, task: 'probe', overrides: { ...small, 'probe.topBlocks': topBlocks, 'probe.epochs': 20, out: dir('probe') } });
    const first = await probe(0);
    const before = tf.memory().numTensors;
    const again = await probe(0);
    const last = await probe(1);
    expect(tf.memory().numTensors).toBe(before);
    expect(again).toEqual(first);
    expect(first).toMatchObject({ trainUtterances: 48, testUtterances: 32, classes: 8 });
    expect(last['accuracy']).not.toBe(undefined);
    expect(JSON.parse(readFileSync(join(dir('probe'), 'eval-probe.json'), 'utf8')).task).toBe('probe');
  }, 120_000);
});

describe('the bundled voice-ID set data/espeak-voices', () => {
  const root = join(import.meta.dirname, '..', 'data', 'espeak-voices');
  it('re-splits the 8 voices espeak-small holds out of pretraining: 6 + 4 sentences each, no audio of its own', () => {
    const pretrainVoices = new Set(readManifest(join(import.meta.dirname, '..', 'data', 'espeak-small', 'train.tsv')).entries.map((e) => dirname(e.path)));
    const files: string[][] = [];
    for (const [split, per] of [['train', 6], ['test', 4]] as const) {
      const tsv = join(root, `${split}.tsv`);
      const m = readManifest(tsv);
      const labels = readLabelFile(tsv, 'voice', m.entries.length);
      const counts = new Map<string, number>();
      labels.forEach((l) => counts.set(l, (counts.get(l) ?? 0) + 1));
      expect([...counts.values()]).toEqual(Array(8).fill(per));
      m.entries.forEach((e, i) => {
        expect(dirname(e.path)).toBe(`wav/${labels[i]}`);
        expect(pretrainVoices.has(dirname(e.path))).toBe(false);
        expect(existsSync(join(m.rootDir, e.path))).toBe(true);
      });
      files.push(m.entries.map((e) => e.path));
    }
    expect(files[0]!.filter((f) => files[1]!.includes(f))).toEqual([]);
  });
});
