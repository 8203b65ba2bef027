import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend, evaluate, exportCheckpoint, hfConfigFor, hiddenStates, openCheckpoint, readHfTensors, resolveConfig } from '@d2v/core';
import { hfFixtureDiffs, pretrainSteps, quietRun, tensorCountIsFlat } from '@d2v/core/testing';
import { modality, visionHf } from '../src/index.js';

/** Made by tools/hf/verify.py fixtures: random tiny Data2VecVisionModels saved by transformers, with their hidden states. */
const FIXTURES = resolve(__dirname, 'fixtures/hf');
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'd2v-vision-hf-'));
  dirs.push(d);
  return d;
};
const config = (preset: string, overrides: Record<string, unknown> = {}) =>
  resolveConfig({ modality: 'vision', modalitySchema: modality.schema, presets: modality.presets, preset, overrides: new Map(Object.entries(overrides)) });

beforeAll(async () => {
  await initBackend('wasm');
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('Hugging Face Data2VecVisionModel checkpoints', () => {
  it.each(['absolute', 'relative'])('imports transformers\' %s-position model and reproduces its hidden states', async (name) => {
    const d = await hfFixtureDiffs(join(FIXTURES, name), modality);
    expect(d.hidden).toHaveLength(3);
    const before = tf.memory().numTensors; // importing again leaves nothing allocated
    await hfFixtureDiffs(join(FIXTURES, name), modality);
    expect(tf.memory().numTensors).toBe(before);
    expect(Math.max(...d.hidden, d.last)).toBeLessThan(1e-4); // measured: 2.4e-6
  });

  it('exports exactly the tensors transformers wrote (HF -> d2v -> HF), with no tensor left over', async () => {
    for (const name of ['absolute', 'relative']) {
      const out = join(tmp(), 'hf');
      await exportCheckpoint({ format: 'hf', init: join(FIXTURES, name), out, log: () => {} });
      const original = readHfTensors(join(FIXTURES, name));
      const exported = readHfTensors(out);
      expect(Object.keys(exported).sort()).toEqual(Object.keys(original).sort());
      for (const [k, t] of Object.entries(original)) expect(Array.from(exported[k]!.dataSync())).toEqual(Array.from(t.dataSync()));
      const hfConfig = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
      const theirs = JSON.parse(readFileSync(join(FIXTURES, name, 'config.json'), 'utf8')) as Record<string, unknown>;
      for (const k of ['hidden_size', 'num_hidden_layers', 'image_size', 'patch_size', 'num_channels', 'use_absolute_position_embeddings', 'use_shared_relative_position_bias', 'use_mean_pooling', 'layer_scale_init_value']) {
        expect([k, hfConfig[k]]).toEqual([k, theirs[k]]);
      }
      tf.dispose([...Object.values(original), ...Object.values(exported)]);
    }
  });

  it('hf-tiny pretrains, exports, and the export reproduces the run; exporting the export is byte-identical', async () => {
    const r = await pretrainSteps(modality, { 'train.batchSize': 4, 'objective.clones': 2 }, 3, 'hf-tiny');
    dirs.push(r.runDir);
    expect(r.losses.every(Number.isFinite)).toBe(true);
    expect(tensorCountIsFlat(r.tensorCounts)).toBe(true);
    const a = join(tmp(), 'a');
    const b = join(tmp(), 'b');
    await exportCheckpoint({ format: 'hf', init: r.runDir, out: a, log: () => {} });
    await exportCheckpoint({ format: 'hf', init: a, out: b, log: () => {} });
    for (const f of ['config.json', 'model.safetensors']) expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f)))).toBe(true);
    const [run, hf] = [await openCheckpoint(r.runDir, { log: () => {} }), await openCheckpoint(a, { log: () => {} })];
    const pixels = tf.randomNormal([2, 1, 28, 28], 0, 1, 'float32', 7);
    const batch = run.modality.hf!.batchFromInput(pixels, run.config);
    const [h1, h2] = [hiddenStates(run.parts.encoder, run.parts.transformer, batch), hiddenStates(hf.parts.encoder, hf.parts.transformer, batch)];
    expect(h1.hidden).toHaveLength(7);
    h1.hidden.forEach((t, i) => expect(tf.max(tf.abs(tf.sub(t, h2.hidden[i]!))).dataSync()[0]).toBeLessThan(1e-5));
    expect(tf.max(tf.abs(tf.sub(h1.last, h2.last))).dataSync()[0]).toBeLessThan(1e-5);
    tf.dispose([pixels, ...h1.hidden, h1.last, ...h2.hidden, h2.last]);
    batch.dispose();
    for (const p of [run.parts, hf.parts]) (p.encoder.dispose(), p.transformer.dispose());
    expect(JSON.parse(readFileSync(join(a, 'config.json'), 'utf8'))).toMatchObject({ model_type: 'data2vec-vision', architectures: ['Data2VecVisionModel'], hidden_size: 192, image_size: 28, use_mean_pooling: false, use_mask_token: true });
  });

  it('paper-base converts; tiny (no CLS token) and post-LN blocks are refused, naming the option', () => {
    expect(hfConfigFor(visionHf, config('paper-base'))).toMatchObject({ hidden_size: 768, use_shared_relative_position_bias: true, use_absolute_position_embeddings: false, layer_scale_init_value: 1e-4, use_mean_pooling: false });
    expect(() => hfConfigFor(visionHf, config('tiny'))).toThrow(/Data2VecVisionModel cannot express vision.cls = false \(it needs true\): it always prepends a CLS token/);
    expect(() => hfConfigFor(visionHf, config('hf-tiny', { 'model.norm': 'post' }))).toThrow(/cannot express model.norm = "post" \(it needs "pre"\)/);
  });

  it('refuses per-block relative position tables and two kinds of positions at once on import, naming the keys', async () => {
    const copyWith = (change: Record<string, unknown>) => {
      const dir = join(tmp(), 'hf');
      cpSync(join(FIXTURES, 'relative'), dir, { recursive: true });
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, ...change }));
      return dir;
    };
    await expect(hfFixtureDiffs(copyWith({ use_relative_position_bias: true }), modality)).rejects.toThrow(
      /use_relative_position_bias = true cannot be expressed in d2v \(it needs false\): d2v shares one relative position bias/,
    );
    await expect(hfFixtureDiffs(copyWith({ use_absolute_position_embeddings: true }), modality)).rejects.toThrow(
      /use_absolute_position_embeddings = true together with use_shared_relative_position_bias = true cannot be expressed in d2v \(they imply vision.positions "learned" and "relative"\)/,
    );
  });

  it('evaluates (linear probe) from a Hugging Face folder given as --init', async () => {
    const m = await evaluate({
      modality,
      preset: 'hf-tiny',
      task: 'probe',
      // The fixture's 2x2 patch grid is smaller than hf-tiny's 3x3 visible blocks (a pretraining option, checked while resolving).
      overrides: { out: tmp(), 'finetune.init': join(FIXTURES, 'absolute'), 'masking.inverseBlockSize': 2, 'probe.epochs': 2, 'probe.trainImages': 64, 'probe.testImages': 64 },
      ...quietRun,
    });
    expect(m['accuracy']).toBeGreaterThan(0);
  });
});
