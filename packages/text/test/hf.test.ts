import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend, exportCheckpoint, hfConfigFor, readHfTensors, resolveConfig } from '@d2v/core';
import { hfFixtureDiffs } from '@d2v/core/testing';
import { modality, textHf, PAD_ID } from '../src/index.js';

/**
 * Made by tools/hf/verify.py fixtures: a random tiny Data2VecTextModel over the bundled tokenizer's 8000 ids, saved
 * by transformers in float16, with a non-zero token type embedding, and its hidden states.
 */
const FIXTURE = resolve(__dirname, 'fixtures/hf/text');
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'd2v-text-hf-'));
  dirs.push(d);
  return d;
};
const config = (preset: string, overrides: Record<string, unknown> = {}) =>
  resolveConfig({ modality: 'text', modalitySchema: modality.schema, presets: modality.presets, preset, overrides: new Map(Object.entries(overrides)) });
const copyWith = (change: Record<string, unknown>) => {
  const dir = join(tmp(), 'hf');
  cpSync(FIXTURE, dir, { recursive: true });
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, ...change }));
  return dir;
};

beforeAll(async () => {
  await initBackend('wasm');
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('Hugging Face Data2VecTextModel checkpoints', () => {
  it("imports transformers' float16 model and reproduces its hidden states (positions after the padding id, token type folded in)", async () => {
    const d = await hfFixtureDiffs(FIXTURE, modality);
    expect(d.hidden).toHaveLength(3);
    const before = tf.memory().numTensors; // importing again leaves nothing allocated
    await hfFixtureDiffs(FIXTURE, modality);
    expect(tf.memory().numTensors).toBe(before);
    expect(Math.max(...d.hidden, d.last)).toBeLessThan(1e-4); // measured: 1.3e-6
  });

  it('exports what transformers wrote, with token type 0 folded into the positions; exporting the export is byte-identical', async () => {
    const a = join(tmp(), 'a');
    const b = join(tmp(), 'b');
    await exportCheckpoint({ format: 'hf', init: FIXTURE, out: a, log: () => {} });
    await exportCheckpoint({ format: 'hf', init: a, out: b, log: () => {} });
    for (const f of ['config.json', 'model.safetensors']) expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f)))).toBe(true);
    const original = readHfTensors(FIXTURE);
    const exported = readHfTensors(a);
    expect(Object.keys(exported).sort()).toEqual(Object.keys(original).sort());
    const pos = 'embeddings.position_embeddings.weight';
    const type = 'embeddings.token_type_embeddings.weight';
    for (const [k, t] of Object.entries(original)) if (k !== pos && k !== type) expect(Array.from(exported[k]!.dataSync())).toEqual(Array.from(t.dataSync()));
    expect(Array.from(exported[type]!.dataSync()).every((v) => v === 0)).toBe(true);
    const rows = PAD_ID + 1;
    const folded = tf.tidy(() => tf.add(tf.slice(original[pos]!, [rows, 0], [-1, -1]), original[type]!));
    expect(tf.max(tf.abs(tf.sub(tf.slice(exported[pos]!, [rows, 0], [-1, -1]), folded))).dataSync()[0]).toBe(0);
    expect(Array.from(tf.slice(exported[pos]!, [0, 0], [rows, -1]).dataSync()).every((v) => v === 0)).toBe(true);
    tf.dispose([folded, ...Object.values(original), ...Object.values(exported)]);
    // Folded or not, the model computes the same.
    cpSync(join(FIXTURE, 'expected.safetensors'), join(a, 'expected.safetensors'));
    const d = await hfFixtureDiffs(a, modality);
    expect(Math.max(...d.hidden, d.last)).toBeLessThan(1e-4);
  });

  it('tiny and paper-base convert; a layer scale is refused, naming the option', () => {
    expect(hfConfigFor(textHf, config('tiny'))).toMatchObject({ model_type: 'data2vec-text', hidden_size: 256, vocab_size: 8000, max_position_embeddings: 514, pad_token_id: 1, type_vocab_size: 1 });
    expect(hfConfigFor(textHf, config('paper-base'))).toMatchObject({ hidden_size: 768, num_hidden_layers: 12 });
    expect(() => hfConfigFor(textHf, config('tiny', { 'model.layerScale': 0.1 }))).toThrow(/Data2VecTextModel cannot express model.layerScale = 0.1 \(it needs 0\): it has no layer scale/);
  });

  it('refuses a vocabulary its tokenizer does not have and a decoder, naming what to change', async () => {
    await expect(hfFixtureDiffs(copyWith({ vocab_size: 50265 }), modality)).rejects.toThrow(/vocab_size is 50265 but this run's tokenizer.model gives 8000 \(pass the tokenizer the checkpoint was trained with/);
    await expect(hfFixtureDiffs(copyWith({ is_decoder: true }), modality)).rejects.toThrow(/is_decoder = true cannot be expressed in d2v \(it needs false\)/);
  });
});
