import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend, Transformer, maskedMeanOverTime, loadModality, getModality, discoverModalities, resolveConfig, stepRng, Data2VecPretrainTask, ConfigError, DataError } from '@d2v/core';
import { modality, TokenEncoder, sentenceFeatures, blockBatch, balancedSubset, classificationMetrics, type TextBatch, type LabelledSequences } from '../src/index.js';
import { tempDir } from '@d2v/core/testing';

// A small model: the tiny preset's code path with few FLOPs.
const small = { 'model.dim': 32, 'model.depth': 2, 'model.heads': 2, 'model.ffnDim': 64, 'objective.topK': 2, 'text.blockSize': 48, 'train.batchSize': 4 };

function config(overrides: Record<string, unknown> = {}) {
  return resolveConfig({
    modality: 'text',
    modalitySchema: modality.schema,
    presets: modality.presets,
    preset: 'tiny',
    overrides: new Map(Object.entries({ ...small, out: tempDir('text'), ...overrides })),
  });
}

beforeAll(async () => {
  await initBackend('wasm');
});

describe('registry', () => {
  it("--modality text loads @d2v/text by name and the package is discoverable", async () => {
    const m = await loadModality('text');
    expect(m.name).toBe('text');
    expect(getModality('text')).toBe(m);
    expect(Object.keys(m.presets)).toEqual(expect.arrayContaining(['tiny', 'paper-base']));
    expect(m.createFinetuneTask).toBeTypeOf('function');
    expect(Object.keys(m.evaluations ?? {})).toEqual(['classify', 'probe']);
    expect(discoverModalities()).toContain('text');
  });

  it('paper-base resolves to the data2vec text recipe', () => {
    const c = resolveConfig({ modality: 'text', modalitySchema: modality.schema, presets: modality.presets, preset: 'paper-base' });
    expect(c.model).toMatchObject({ dim: 768, depth: 12, heads: 12, ffnDim: 3072, norm: 'post' });
    expect(c.objective).toMatchObject({ topK: 10, targetSource: 'ffn', layerNormTargetLayer: true, lossBeta: 4, lossScale: 1, headLayers: 2, emaStart: 0.999, emaEnd: 0.9999, emaAnnealSteps: 100000, emaEncoder: false });
    expect(c.optim).toMatchObject({ lr: 2e-4, beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.01, clipNorm: 5 });
    expect(c['text']).toMatchObject({ blockSize: 512, maxPositions: 512 });
  });
});

describe('TokenEncoder', () => {
  it('embeds ids with positions and layer norm, passes the padding mask through, and a mask equals <mask> ids', async () => {
    const c = config();
    const data = await modality.createData(c, 'train');
    const enc = modality.createEncoder(c, 3);
    const batch = data.batch(0, 2, stepRng(1, 0)) as TextBatch;
    const before = tf.memory().numTensors;
    const f = enc.features(batch, { training: false });
    expect(f.features.shape).toEqual([2, 48, 32]);
    expect(f.paddingMask).toBe(batch.paddingMask);
    const e = enc.embed(f, { training: false });
    expect(e.x.shape).toEqual([2, 48, 32]);
    expect(e.paddingMask).toBe(batch.paddingMask);
    // Layer norm over channels: every row has mean ~0 and variance ~1 (gain 1, bias 0 at init; eps 1e-5
    // against an input variance of ~8e-4 from two N(0, 0.02) tables leaves it at ~0.99).
    const [maxMean, meanVar] = tf.tidy(() => {
      const { mean, variance } = tf.moments(e.x, -1);
      return [tf.max(tf.abs(mean)).dataSync()[0]!, tf.mean(variance).dataSync()[0]!];
    });
    expect(maxMean).toBeLessThan(1e-4);
    expect(Math.abs(meanVar! - 1)).toBeLessThan(0.05);

    // mask = 1 at steps 1 and 3 of row 0 must equal feeding <mask> ids there.
    const maskId = (enc as unknown as { cfg: { maskId: number } }).cfg.maskId;
    const m = new Float32Array(2 * 48);
    m[1] = m[3] = 1;
    const maskT = tf.tensor2d(m, [2, 48]);
    const viaMask = enc.embed(f, { training: false, mask: maskT });
    const ids = Int32Array.from(batch.ids);
    ids[1] = ids[3] = maskId;
    const corruptedTokens = tf.tensor2d(ids, [2, 48], 'int32');
    const f2 = enc.features({ ...batch, tokens: corruptedTokens } as TextBatch, { training: false });
    const viaIds = enc.embed(f2, { training: false });
    const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
    expect(maxDiff(viaMask.x, viaIds.x)).toBeLessThan(1e-5);
    expect(maxDiff(viaMask.x, e.x)).toBeGreaterThan(0.1);
    tf.dispose([f.features, e.x, maskT, viaMask.x, corruptedTokens, f2.features, viaIds.x]);
    expect(tf.memory().numTensors).toBe(before);
    batch.dispose();
    enc.dispose();
  });

  it('token embeddings train on wasm: the gather gradient adds up repeated ids and leaves unused rows at 0', () => {
    expect(tf.getBackend()).toBe('wasm');
    const enc = modality.createEncoder(config(), 1) as TokenEncoder;
    const tokens = tf.tensor2d([[5, 6, 5, 7]], [1, 4], 'int32');
    const paddingMask = tf.zeros([1, 4]) as tf.Tensor2D;
    const batch = { size: 1, tokens, paddingMask } as unknown as TextBatch;
    const { value, grads } = tf.variableGrads(() => tf.sum(enc.features(batch, { training: false }).features) as tf.Scalar, [enc.tokens]);
    const g = grads[enc.tokens.name]!.arraySync() as number[][];
    expect(g[5]!.every((v) => v === 2)).toBe(true);
    expect(g[6]!.every((v) => v === 1) && g[7]!.every((v) => v === 1)).toBe(true);
    expect(g.reduce((n, row) => n + row.filter((v) => v !== 0).length, 0)).toBe(3 * g[5]!.length);
    tf.dispose([value, tokens, paddingMask, ...Object.values(grads)]);
    enc.dispose();
  });

  it('rejects inputs longer than the learned positions and configs that cannot fit', async () => {
    const big = config({ 'text.blockSize': 600 });
    expect(() => modality.createEncoder(big, 1)).toThrow(ConfigError);
    await expect(modality.createData(big, 'train')).rejects.toThrow(/text.blockSize/);
    const enc = modality.createEncoder(config({ 'text.maxPositions': 48, 'finetune.maxTokens': 48 }), 1);
    const tokens = tf.zeros([1, 64], 'int32') as tf.Tensor2D;
    const paddingMask = tf.zeros([1, 64]) as tf.Tensor2D;
    expect(() => enc.features({ size: 1, tokens, paddingMask } as unknown as TextBatch, { training: false })).toThrow(/text.maxPositions/);
    tf.dispose([tokens, paddingMask]);
    enc.dispose();
  });
});

describe('data', () => {
  it('the pre-training source is a pure function of (seed, index)', async () => {
    const a = await modality.createData(config(), 'train');
    const b = await modality.createData(config(), 'train');
    const x = a.batch(7, 4, stepRng(1, 7)) as TextBatch;
    a.batch(3, 4, stepRng(1, 3)).dispose();
    const y = b.batch(7, 4, stepRng(9, 7)) as TextBatch;
    expect(Array.from(x.ids)).toEqual(Array.from(y.ids));
    expect(a.describe()).toMatch(/blocks of 48 tokens/);
    x.dispose();
    y.dispose();
  });

  it('reads a custom corpus folder and names bad paths', async () => {
    const dir = tempDir('text-corpus');
    writeFileSync(join(dir, 'a.txt'), 'The whale swam far.\nIt was large.\n\nA second document here.\n');
    writeFileSync(join(dir, 'b.txt'), 'Another file with some words in it.\n');
    // complete_doc packing: one block per document (two blank-line separated documents in a.txt, one in b.txt).
    const src = await modality.createData(config({ 'data.path': dir, 'text.packMode': 'complete_doc' }), 'train');
    expect(src.size).toBe(3);
    await expect(modality.createData(config({ 'data.path': dir }), 'valid')).rejects.toThrow(ConfigError);
    await expect(modality.createData(config({ 'data.path': join(dir, 'missing.txt') }), 'train')).rejects.toThrow(DataError);
    await expect(modality.createData(config({ 'data.path': join(dir, 'missing.txt') }), 'train')).rejects.toThrow(/missing\.txt/);
  });

  it('pre-trains on odd text without crashing and reports what it replaced, split or skipped', async () => {
    const dir = tempDir('text-odd');
    const longLine = 'word '.repeat(300).trim(); // ~300 tokens: longer than a 48-token block
    const bad = Buffer.from([0x66, 0xff, 0xfe, 0x20, 0x67, 0x0a]); // 'f\xff\xfe g' + newline
    writeFileSync(join(dir, 'odd.txt'), Buffer.concat([Buffer.from('\n\n   \nFirst document.\n\n\n'), bad, Buffer.from(`\n${longLine}\n\n`)]));
    const src = await modality.createData(config({ 'data.path': join(dir, 'odd.txt'), 'text.packMode': 'complete_doc' }), 'train');
    expect(src.size).toBeGreaterThanOrEqual(1 + Math.ceil(300 / 46));
    expect(src.describe()).toMatch(/1 lines with invalid UTF-8/);
    expect(src.describe()).toMatch(/1 segments longer than a block split/);
    expect(src.describe()).toMatch(/7 blank lines/);
    // The invalid bytes became U+FFFD, which the byte-fallback tokenizer encodes (no <unk>).
    const b = src.batch(0, src.size, stepRng(1, 0)) as TextBatch;
    expect(Array.from(b.ids)).not.toContain(3);
    b.dispose();
  });
});

describe('masking positions used by the loss', () => {
  async function prepared(lossOn: 'masked-input' | 'selected') {
    const c = config({ 'masking.lossOn': lossOn, 'train.batchSize': 8 });
    const task = new Data2VecPretrainTask(modality, c, await modality.createData(c, 'train'), modality.createMasker(c));
    const before = tf.memory().numTensors;
    const p = task.prepare(0, stepRng(c.seed, 0));
    const original = (p.batch as TextBatch).ids;
    const student = (p.mask.studentBatch as TextBatch).ids;
    const loss = Array.from(p.lossIndices.dataSync());
    // BERT masking corrupts the batch itself, so prepare() runs the teacher (no shared features).
    const targetRows = p.targets!.shape[0];
    const maskId = modality.createMasker(c) as unknown as { options: { maskId: number } };
    const summary = { original: Int32Array.from(original), student: Int32Array.from(student), loss, targetRows, maskId: maskId.options.maskId };
    expect((p.mask.studentBatch as TextBatch).paddingMask).toBe((p.batch as TextBatch).paddingMask);
    task.release(p);
    expect(tf.memory().numTensors).toBe(before);
    task.dispose();
    return summary;
  }

  it("'masked-input' regresses exactly where the student sees <mask>", async () => {
    const r = await prepared('masked-input');
    const masked = [...r.student.keys()].filter((i) => r.student[i] === r.maskId);
    expect(r.loss).toEqual(masked);
    expect(r.targetRows).toBe(r.loss.length);
    expect(r.loss.every((i) => r.original[i] !== r.maskId && r.original[i]! > 2)).toBe(true);
  });

  it("'selected' also regresses the randomly replaced and unchanged selections", async () => {
    const r = await prepared('selected');
    const masked = [...r.student.keys()].filter((i) => r.student[i] === r.maskId);
    expect(masked.every((i) => r.loss.includes(i))).toBe(true);
    const notMask = r.loss.filter((i) => r.student[i] !== r.maskId);
    // 20% of ~0.15 * 8 * 46 selections keep or randomise their token.
    expect(notMask.length).toBeGreaterThan(0);
    expect(r.targetRows).toBe(r.loss.length);
    const real = r.original.filter((t) => t > 2).length;
    expect(r.loss.length / real).toBeGreaterThan(0.1);
    expect(r.loss.length / real).toBeLessThan(0.2);
  });
});

describe('classification helpers', () => {
  it('accuracy and macro F1', () => {
    // class 0: tp 2, fp 1, fn 1 -> F1 2/3; class 1: tp 1, fp 1, fn 1 -> 1/2; class 2 absent and never predicted.
    const m = classificationMetrics([0, 0, 1, 1, 0], [0, 0, 1, 0, 1], 3);
    expect(m.accuracy).toBeCloseTo(3 / 5);
    expect(m.f1[0]).toBeCloseTo(2 / 3);
    expect(m.f1[1]).toBeCloseTo(1 / 2);
    expect(m.macroF1).toBeCloseTo((2 / 3 + 1 / 2) / 2);
  });

  it('balancedSubset is class-balanced and seeded', () => {
    const labels = Int32Array.from({ length: 100 }, (_, i) => (i < 80 ? 0 : 1));
    const data: LabelledSequences = { sequences: [...labels].map((_, i) => Int32Array.of(0, i, 2)), labels, labelNames: ['a', 'b'], truncated: 0, source: 'x' };
    const s = balancedSubset(data, 30, 5);
    expect(s.labels.length).toBe(30);
    expect(s.labels.filter((l) => l === 1).length).toBe(15);
    expect(s.sequences.map((q) => q[1])).toEqual(balancedSubset(data, 30, 5).sequences.map((q) => q[1]));
    expect(s.sequences.map((q) => q[1])).not.toEqual(balancedSubset(data, 30, 6).sequences.map((q) => q[1]));
  });

  it('blockBatch marks padding after each row length', async () => {
    const src = (await modality.createData(config(), 'train')) as unknown as { blocks: Parameters<typeof blockBatch>[0] };
    const rows = [0, 1, 2];
    const b = blockBatch(src.blocks, rows);
    const pad = b.paddingMask.dataSync();
    rows.forEach((_, i) => {
      for (let t = 0; t < b.length; t++) expect(pad[i * b.length + t]).toBe(t >= b.lengths[i]! ? 1 : 0);
    });
    b.dispose();
  });
});

describe('sentenceFeatures per block (probe.block)', () => {
  it('block 0 is the mean embedding, the depth equals -1, a middle block differs from both; no tensors leak', async () => {
    const c = config();
    const data = await modality.createData(c, 'train');
    const enc = modality.createEncoder(c, 3);
    const tr = new Transformer({ ...c.model }, 5);
    enc.setTraining(false);
    tr.setTraining(false);
    const batch = data.batch(0, 3, stepRng(1, 0)) as TextBatch;
    const before = tf.memory().numTensors;
    const emb = sentenceFeatures(enc, tr, batch, 'mean', undefined, 0);
    const mid = sentenceFeatures(enc, tr, batch, 'mean', undefined, 1);
    const last = sentenceFeatures(enc, tr, batch, 'mean');
    const depth = sentenceFeatures(enc, tr, batch, 'mean', undefined, 2);
    const expectedEmb = tf.tidy(() => maskedMeanOverTime(enc.embed(enc.features(batch, { training: false }), { training: false }).x, batch.paddingMask));
    const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
    expect(emb.shape).toEqual([3, 32]);
    expect(maxDiff(emb, expectedEmb)).toBeLessThan(1e-6);
    expect(maxDiff(depth, last)).toBe(0);
    expect(maxDiff(mid, last)).toBeGreaterThan(1e-3);
    expect(maxDiff(mid, emb)).toBeGreaterThan(1e-3);
    tf.dispose([emb, mid, last, depth, expectedEmb]);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => sentenceFeatures(enc, tr, batch, 'mean', undefined, 3)).toThrow(/probe.block must be -1 \(last\) or 0..2/);
    batch.dispose();
    enc.dispose();
    tr.dispose();
  });
});
