import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend, exportCheckpoint, hfConfigFor, readHfTensors, resolveConfig, type ResolvedConfig } from '@d2v/core';
import { hfFixtureDiffs } from '@d2v/core/testing';
import { modality, speechHf } from '../src/index.js';

/** Made by tools/hf/verify.py fixtures: a random tiny Data2VecAudioModel saved by transformers, with its hidden states. */
const FIXTURE = resolve(__dirname, 'fixtures/hf/audio');
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'd2v-speech-hf-'));
  dirs.push(d);
  return d;
};
const config = (preset: string, overrides: Record<string, unknown> = {}): ResolvedConfig =>
  resolveConfig({ modality: 'speech', modalitySchema: modality.schema, presets: modality.presets, preset, overrides: new Map(Object.entries(overrides)) });

beforeAll(async () => {
  await initBackend('wasm');
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('Hugging Face Data2VecAudioModel checkpoints', () => {
  it("imports transformers' model (conv feature encoder, even-kernel positional convs) and reproduces its hidden states", async () => {
    const d = await hfFixtureDiffs(FIXTURE, modality);
    expect(d.hidden).toHaveLength(3);
    const before = tf.memory().numTensors; // importing again leaves nothing allocated
    await hfFixtureDiffs(FIXTURE, modality);
    expect(tf.memory().numTensors).toBe(before);
    expect(Math.max(...d.hidden, d.last)).toBeLessThan(1e-4); // measured: 2.6e-6
  });

  it('exports exactly the tensors transformers wrote (HF -> d2v -> HF); exporting the export is byte-identical', async () => {
    const a = join(tmp(), 'a');
    const b = join(tmp(), 'b');
    await exportCheckpoint({ format: 'hf', init: FIXTURE, out: a, log: () => {} });
    await exportCheckpoint({ format: 'hf', init: a, out: b, log: () => {} });
    const original = readHfTensors(FIXTURE);
    const exported = readHfTensors(a);
    expect(Object.keys(exported).sort()).toEqual(Object.keys(original).sort());
    for (const [k, t] of Object.entries(original)) expect(Array.from(exported[k]!.dataSync())).toEqual(Array.from(t.dataSync()));
    tf.dispose([...Object.values(original), ...Object.values(exported)]);
    for (const f of ['config.json', 'model.safetensors']) expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f)))).toBe(true);
    const cfg = JSON.parse(readFileSync(join(a, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(cfg).toMatchObject({ model_type: 'data2vec-audio', conv_dim: [8, 12], conv_kernel: [10, 3], conv_stride: [5, 2], num_conv_pos_embeddings: 2, conv_pos_kernel_size: 4, conv_bias: false });
  });

  it('tiny and paper-base convert; pre-LN blocks and a missing positional convolution are refused, naming the option', () => {
    expect(hfConfigFor(speechHf, config('tiny'))).toMatchObject({ hidden_size: 192, conv_dim: Array(7).fill(128), num_conv_pos_embeddings: 2, mask_time_prob: 0.65, mask_time_length: 10 });
    expect(hfConfigFor(speechHf, config('paper-base'))).toMatchObject({ hidden_size: 768, conv_dim: Array(7).fill(512), num_conv_pos_embeddings: 5, layerdrop: 0.05 });
    expect(() => hfConfigFor(speechHf, config('tiny', { 'model.norm': 'pre' }))).toThrow(/Data2VecAudioModel cannot express model.norm = "pre" \(it needs "post"\)/);
    expect(() => hfConfigFor(speechHf, config('tiny', { 'speech.posConvLayers': 0 }))).toThrow(/cannot express speech.posConvLayers = 0 .*doubles them/);
  });

  it('refuses convolutions with a bias on import, naming the key', async () => {
    const dir = join(tmp(), 'hf');
    cpSync(FIXTURE, dir, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, conv_bias: true }));
    await expect(hfFixtureDiffs(dir, modality)).rejects.toThrow(/conv_bias = true cannot be expressed in d2v \(it needs false\): d2v's feature encoder convolutions have no bias/);
  });
});
