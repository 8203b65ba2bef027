/**
 * predict / embed / loadModel for speech on real audio: WAV files of the bundled espeak-ng corpus
 * with an unreadable file in the middle; pretraining and CTC fine-tuned runs made here in a few
 * steps of a small model.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { copyFileSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend, pretrain, finetune, cliMain, decodeSafetensors, loadStudentWeights, buildStudent, weightsUnder } from '@d2v/core';
import { quietRun, tempDir, removeTempDirs, captureConsole } from '@d2v/core/testing';
import {
  loadModel,
  modality,
  bundledCorpusDir,
  readManifest,
  readWav,
  collateAudio,
  ctcLogits,
  CtcHead,
  CTC_HEAD,
  VOCAB_SIZE,
  decodeDataset,
  openWavFolder,
  subsetDataset,
  type SpeechEncoder,
} from '../src/index.js';
import { small } from './setup.js';

const N = 5;
const BROKEN = 2;

let pre: string;
let ft: string;
let folder: string;
const files: string[] = [];
const readable = () => files.filter((_, i) => i !== BROKEN);
/** The corpus' own reading of a file (16 kHz, normalised as data.normalize). */
const audioOf = (file: string) => readWav(file, { targetRate: 16000, normalize: true });

beforeAll(async () => {
  await initBackend('wasm');
  pre = tempDir('speech-pre');
  await pretrain({ modality, ...quietRun, overrides: { ...small, out: pre, 'train.steps': 2 } });
  ft = tempDir('speech-ft');
  await finetune({ modality, ...quietRun, overrides: { ...small, out: ft, 'finetune.init': pre, 'finetune.steps': 2, 'finetune.batchSize': 4, 'finetune.labelledUtterances': 8 } });
  // Test-split utterances of the bundled corpus, and a .wav that is no WAV in the middle.
  const m = readManifest(join(bundledCorpusDir(), 'test.tsv'));
  folder = join(tempDir('speech-in'), 'wavs');
  mkdirSync(folder);
  for (let i = 0; i < N; i++) {
    const file = join(folder, `u${i}.wav`);
    files.push(file);
    if (i === BROKEN) writeFileSync(file, 'RIFF but not really');
    else {
      copyFileSync(join(m.rootDir, m.entries[i]!.path), file);
      // The words beside the WAV, as a corpus folder has them (the CTC evaluation needs references).
      writeFileSync(file.replace(/\.wav$/, '.txt'), m.words![i]!);
    }
  }
});

afterAll(removeTempDirs);

describe('speech loadModel on a pretraining run', () => {
  it('embeds WAV files, WAV bytes and samples alike; the bad and the too-short input are named', async () => {
    const model = await loadModel(pre);
    try {
      const e = await model.embed(model.inputsFrom([folder]).inputs);
      expect(e.names).toEqual(readable());
      expect(e.skipped.map((s) => s.input)).toEqual([files[BROKEN]]);
      expect(e.skipped[0]!.reason).toMatch(/not a WAV file|truncated/);
      const first = readable()[0]!;
      const mem = await model.embed([readFileSync(first), audioOf(first), { name: 'blip', value: new Float32Array(300) }]);
      expect(mem.names).toEqual(['input[0]', 'input[1]']);
      expect(mem.skipped).toEqual([{ input: 'blip', reason: 'too short: 300 samples; the feature encoder needs at least 400 (25 ms)' }]);
      for (let d = 0; d < e.dim; d++) {
        expect(mem.features[d]).toBeCloseTo(e.features[d]!, 4);
        expect(mem.features[e.dim + d]).toBeCloseTo(e.features[d]!, 4);
      }
      await expect(model.predict([first])).rejects.toThrow(/no fine-tuned head to predict with .*speech predicts with: ctc/);
    } finally {
      model.dispose();
    }
  });
});

describe('speech loadModel on a CTC fine-tuned run', () => {
  it('per-step features are what the CTC evaluation feeds its head; transcripts are its greedy decoding', async () => {
    const model = await loadModel(ft);
    expect(model.task).toBe('ctc');
    const parts = buildStudent(modality, model.config);
    const weights = await loadStudentWeights(model.checkpoint, parts, () => {});
    const head = new CtcHead(model.config.model.dim, VOCAB_SIZE, 0);
    const saved = weightsUnder(weights, `${CTC_HEAD}.`);
    if (saved) head.loadState(saved, 'CTC head');
    tf.dispose(Object.values(weights));
    parts.encoder.setTraining(false);
    parts.transformer.setTraining(false);
    try {
      expect(saved).toBeDefined();
      const e = await model.embed(readable(), { pool: 'none' });
      // The CTC evaluation's forward pass on the same padded batch.
      const batch = collateAudio(readable().map((f) => ({ audio: audioOf(f) })), { pad: true });
      const { logits, frames } = ctcLogits(parts.encoder as SpeechEncoder, parts.transformer, head, batch, { training: false });
      const T = logits.shape[1];
      const V = logits.shape[2];
      const want = logits.dataSync();
      logits.dispose();
      batch.dispose();
      readable().forEach((_, i) => {
        const [from, to] = [e.offsets![i]!, e.offsets![i + 1]!];
        expect(to - from).toBe(frames[i]);
        const got = tf.tidy(() => head.apply(tf.tensor3d(e.features.subarray(from * e.dim, to * e.dim), [1, to - from, e.dim])).dataSync());
        for (let t = 0; t < to - from; t += 5) for (let v = 0; v < V; v++) expect(got[t * V + v]).toBeCloseTo(want[(i * T + t) * V + v]!, 3);
      });
      // Transcripts: predict equals the evaluation's decoding of each utterance.
      const p = await model.predict(model.inputsFrom([folder]).inputs, { batchSize: 1 });
      expect(p.records.map((r) => r.input)).toEqual(readable());
      expect(p.skipped.map((s) => s.input)).toEqual([files[BROKEN]]);
      const ds = openWavFolder(folder, { sampleRate: 16000, normalize: true, skipBad: true });
      p.records.forEach((r, i) => {
        expect(typeof r['transcript']).toBe('string');
        expect(r['transcript']).toBe(decodeDataset(parts.encoder as SpeechEncoder, parts.transformer, head, subsetDataset(ds, [i]), 1).hyps[0]);
      });
      const counts: number[] = [];
      for (let i = 0; i < 3; i++) {
        await model.predict(readable(), { batchSize: 2 });
        await model.embed(readable(), { layers: 'topk' });
        counts.push(tf.memory().numTensors);
      }
      expect(new Set(counts).size).toBe(1);
    } finally {
      head.dispose();
      parts.encoder.dispose();
      parts.transformer.dispose();
      model.dispose();
    }
  });

  it('d2v predict and d2v embed write files that parse', async () => {
    const dir = tempDir('speech-cli');
    const csv = join(dir, 'p.csv');
    const r = await captureConsole(() => cliMain(['predict', '--init', ft, '--input', folder, '--output', csv]));
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`d2v: skipped ${files[BROKEN]}:`);
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    expect(rows[0]).toBe('input,transcript,skipped');
    expect(rows.slice(1).map((row) => row.split(',')[0])).toEqual([...readable(), files[BROKEN]]);
    const out = join(dir, 'e.safetensors');
    const e = await captureConsole(() => cliMain(['embed', '--init', pre, '--input', join(bundledCorpusDir(), 'test.tsv'), '--out', out, '--pool', 'none']));
    expect(e.code, e.err).toBe(0);
    const st = decodeSafetensors(readFileSync(out));
    const names = JSON.parse(st.metadata['inputs']!) as string[];
    expect(names).toHaveLength(40);
    const offsets = st.tensors['offsets']!.data as Int32Array;
    expect(offsets).toHaveLength(41);
    expect(st.tensors['features']!.shape).toEqual([offsets[40], 48]);
  });
});
