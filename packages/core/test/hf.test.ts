import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend, buildStudent, resolveConfig, hfConfigFor, d2vOptionsFromHf, hfTensorsFor, d2vTensorsFromHf, hfLinear, hfLayerNorm, hfTransformerWeights, HF_TRANSFORMER_KEYS, writeHfCheckpoint, readHfTensors, readHfConfig, isHfCheckpoint, hiddenStates, exportCheckpoint, openCheckpoint, resolveWithHfInit, pretrain, finetune, evaluate, tensorsToSafetensors, CheckpointError, ConfigError, CheckpointManager, type HfMapping, type HfBlockNames, type ResolvedConfig } from '../src/index.js';
import { main as cliMain } from '../src/cli/main.js';
import { quietRun, tensorCountIsFlat } from '../src/testing.js';
import { modality as toy, type ToyBatch, type ToyConfig } from './fixtures/toy-modality.js';

const dirs: string[] = [];
const tmp = (tag: string) => {
  const d = mkdtempSync(join(tmpdir(), `d2v-hf-${tag}-`));
  dirs.push(d);
  return d;
};

beforeAll(async () => {
  await initBackend('wasm');
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const arange = (shape: number[]) => tf.reshape(tf.range(0, shape.reduce((a, b) => a * b, 1), 1, 'float32'), shape);
/** Element of a tensor by multi-index. */
function el(t: tf.Tensor, ...idx: number[]): number {
  let v: unknown = t.arraySync();
  for (const i of idx) v = (v as unknown[])[i];
  return v as number;
}

const fakeConfig = { model: { depth: 0, layerScale: 0 } } as unknown as ResolvedConfig;
/** A mapping of arbitrary d2v names, to check every layout's element placement. */
function layoutMapping(weights: HfMapping['weights']): HfMapping {
  return { modelType: 't', architecture: 'T', prefix: 'base', inputName: 'x', config: [], weights, batchFromInput: () => ({ size: 0, dispose() {} }) };
}

describe('Hugging Face weight layouts', () => {
  it('place every element where PyTorch keeps it, and import inverts export exactly', () => {
    const d2v: Record<string, tf.Tensor> = {
      lin: arange([3, 5]), // [in, out]
      conv: arange([2 * 3 * 2, 4]), // kernel 2x3, 2 in, 4 out: rows (ky, kx, c)
      gconv: arange([2, 3 * 2, 3]), // 2 groups, kernel 3, 2 in / 3 out per group
      qkv: arange([4, 12]),
      qkvb: arange([12]),
      rows: arange([3, 4]),
      vec: arange([4]),
    };
    const mapping = layoutMapping(() => [
      { d2v: 'lin', hf: 'l', layout: { kind: 'linear' } },
      { d2v: 'conv', hf: 'c', layout: { kind: 'conv', kernel: [2, 3] } },
      { d2v: 'gconv', hf: 'g', layout: { kind: 'groupedConv', kernel: 3 } },
      { d2v: 'qkv', hf: ['q', null, 'v'], layout: { kind: 'split' } },
      { d2v: 'qkvb', hf: ['qb', 'kb', 'vb'], layout: { kind: 'split' } },
      { d2v: 'rows', hf: 'r', layout: { kind: 'rows', offset: 2 }, plus: 'p' },
      { d2v: 'vec', hf: 'm', layout: { kind: 'copy', hfRank: 3 } },
    ]);
    const hf = hfTensorsFor(mapping, fakeConfig, d2v);
    expect(Object.keys(hf).sort()).toEqual(['c', 'g', 'kb', 'l', 'm', 'p', 'q', 'qb', 'r', 'v', 'vb']);
    expect(hf['l']!.shape).toEqual([5, 3]);
    expect(el(hf['l']!, 4, 1)).toBe(el(d2v['lin']!, 1, 4));
    // nn.Conv2d weight [out, in, kh, kw]
    expect(hf['c']!.shape).toEqual([4, 2, 2, 3]);
    for (const [o, c, ky, kx] of [[0, 0, 0, 0], [3, 1, 1, 2], [2, 0, 1, 1], [1, 1, 0, 2]] as const) {
      expect(el(hf['c']!, o, c, ky, kx)).toBe(el(d2v['conv']!, (ky * 3 + kx) * 2 + c, o));
    }
    // grouped nn.Conv1d weight [out, in/groups, k]
    expect(hf['g']!.shape).toEqual([6, 2, 3]);
    for (const [g, oc, ci, k] of [[0, 0, 0, 0], [1, 2, 1, 2], [1, 0, 0, 1], [0, 1, 1, 0]] as const) {
      expect(el(hf['g']!, g * 3 + oc, ci, k)).toBe(el(d2v['gconv']!, g, k * 2 + ci, oc));
    }
    // q = W[:, 0:4]^T, v = W[:, 8:12]^T; the null (key) part is not written
    expect(hf['q']!.shape).toEqual([4, 4]);
    expect(el(hf['q']!, 2, 1)).toBe(el(d2v['qkv']!, 1, 2));
    expect(el(hf['v']!, 2, 1)).toBe(el(d2v['qkv']!, 1, 10));
    expect(Array.from(hf['kb']!.dataSync())).toEqual([4, 5, 6, 7]);
    // positions after `offset` zero rows; the folded tensor is one zero row
    expect(hf['r']!.shape).toEqual([5, 4]);
    expect(Array.from(hf['r']!.dataSync()).slice(0, 8)).toEqual(Array(8).fill(0));
    expect(el(hf['r']!, 4, 3)).toBe(el(d2v['rows']!, 2, 3));
    expect(hf['p']!.shape).toEqual([1, 4]);
    expect(hf['m']!.shape).toEqual([1, 1, 4]);

    // Import: the same tensors back (the dropped key part as zeros), a folded row added to every row.
    const shapes = new Map(Object.entries(d2v).map(([k, v]) => [k, v.shape]));
    const withPrefix = Object.fromEntries(Object.entries(hf).map(([k, v]) => [`base.${k}`, v]));
    tf.dispose(hf['p']!);
    withPrefix['base.p'] = tf.tensor2d([[1, 2, 3, 4]]);
    withPrefix['pooler.dense.weight'] = tf.zeros([2, 2]);
    const back = d2vTensorsFromHf(mapping, fakeConfig, withPrefix, shapes, 'x.safetensors');
    expect(back.unused).toEqual(['pooler.dense.weight']);
    for (const k of ['lin', 'conv', 'gconv', 'qkvb', 'vec']) expect(Array.from(back.tensors[k]!.dataSync())).toEqual(Array.from(d2v[k]!.dataSync()));
    const qkv = back.tensors['qkv']!.arraySync() as number[][];
    expect(qkv.map((r) => r.slice(4, 8)).flat()).toEqual(Array(16).fill(0));
    expect(qkv.map((r) => [...r.slice(0, 4), ...r.slice(8)])).toEqual((d2v['qkv']!.arraySync() as number[][]).map((r) => [...r.slice(0, 4), ...r.slice(8)]));
    expect(back.tensors['rows']!.arraySync()).toEqual((tf.add(d2v['rows']!, tf.tensor1d([1, 2, 3, 4])).arraySync()));
    tf.dispose([...Object.values(d2v), ...Object.values(withPrefix), ...Object.values(back.tensors)]);
  });

  it('names the tensor and both shapes when a checkpoint does not fit, and every missing one', () => {
    const mapping = layoutMapping(() => [{ d2v: 'lin', hf: 'l', layout: { kind: 'linear' } }, { d2v: 'opt', hf: 'o', optional: true }]);
    const shapes = new Map<string, readonly number[]>([['lin', [3, 5]], ['opt', [2]]]);
    const bad = { l: tf.zeros([3, 5]) };
    expect(() => d2vTensorsFromHf(mapping, fakeConfig, bad, shapes, 'm.safetensors')).toThrow(/m.safetensors: tensor l has shape \[3,5\] but this config needs \[5,3\] \(d2v's lin is \[3,5\]\)/);
    expect(() => d2vTensorsFromHf(mapping, fakeConfig, {}, shapes, 'm.safetensors')).toThrow(/m.safetensors: has no tensor l \(d2v's lin\)/);
    const ok = d2vTensorsFromHf(mapping, fakeConfig, { l: tf.zeros([5, 3]) }, shapes, 'm.safetensors');
    expect(ok.absent).toEqual(['opt']);
    // A table that leaves a weight out would lose it silently: refused.
    expect(() => hfTensorsFor(mapping, fakeConfig, { lin: tf.zeros([3, 5]), opt: tf.zeros([2]), extra: tf.zeros([1]) })).toThrow(/does not place extra/);
    tf.dispose([...Object.values(bad), ...Object.values(ok.tensors)]);
  });
});

/** Toy blocks named like a BEiT layer (no key bias), for the end-to-end tests below. */
const TOY_BLOCK: HfBlockNames = {
  layer: 'encoder.layer.{i}',
  query: 'attn.q',
  key: 'attn.k',
  keyHasNoBias: true,
  value: 'attn.v',
  out: 'attn.o',
  norm1: 'ln1',
  fc1: 'ffn.up',
  fc2: 'ffn.down',
  norm2: 'ln2',
  ls1: 'lambda_1',
  ls2: 'lambda_2',
};
const toyHf: HfMapping<ToyConfig, ToyBatch> = {
  modelType: 'toy-hf',
  architecture: 'ToyModel',
  prefix: 'toy',
  inputName: 'x',
  config: [
    ...HF_TRANSFORMER_KEYS,
    { d2v: 'model.norm', value: 'pre', why: 'toy blocks are pre-LN' },
    { hf: 'final_norm', d2v: 'model.finalNorm', values: [[true, 'layer']], hfDefault: 'layer' },
    { hf: 'layer_scale', d2v: 'model.layerScale' },
    { hf: 'length', d2v: 'toy.length' },
    { hf: 'channels', d2v: 'toy.channels', accepts: (v) => typeof v === 'number' && v % 2 === 0, why: 'toy channels come in pairs' },
    { hf: 'relative_positions', value: false, why: 'toy has learned positions' },
    { hf: 'dropout', d2v: 'model.dropout', training: true },
  ],
  weights: (c) => [
    ...hfLinear('encoder.proj', 'embeddings.proj'),
    { d2v: 'encoder.pos', hf: 'embeddings.pos' },
    { d2v: 'encoder.mask_emb', hf: 'embeddings.mask_token', layout: { kind: 'copy', hfRank: 3 }, optional: true },
    ...hfLayerNorm('encoder.norm', 'embeddings.norm'),
    ...hfTransformerWeights(c.model, TOY_BLOCK),
    ...hfLayerNorm('transformer.norm', 'layernorm'),
  ],
  batchFromInput: (x) => {
    const xs = tf.clone(x) as tf.Tensor3D;
    const labels = tf.zeros([x.shape[0]!], 'int32') as tf.Tensor1D;
    return { size: x.shape[0]!, x: xs, labels, dispose: () => tf.dispose([xs, labels]) };
  },
};
const toyWithHf: typeof toy = { ...toy, hf: toyHf };
const toyConfig = (overrides: Record<string, unknown> = {}) =>
  resolveConfig({ modality: 'toy', modalitySchema: toy.schema, presets: toy.presets, preset: 'tiny', overrides: new Map(Object.entries({ 'model.layerScale': 0.1, ...overrides })) });

describe('Hugging Face config tables', () => {
  it('export writes the HF keys and refuses an option HF cannot express, naming the key and value', () => {
    const hf = hfConfigFor(toyHf, toyConfig());
    expect(hf).toMatchObject({ architectures: ['ToyModel'], model_type: 'toy-hf', hidden_size: 32, num_hidden_layers: 3, hidden_act: 'gelu', layer_norm_eps: 1e-5, final_norm: 'layer', length: 16, relative_positions: false, dropout: 0 });
    expect(Object.keys(hf)).toEqual([...Object.keys(hf)].sort());
    expect(() => hfConfigFor(toyHf, toyConfig({ 'model.norm': 'post' }))).toThrow(/ToyModel cannot express model.norm = "post" \(it needs "pre"\): toy blocks are pre-LN/);
    expect(() => hfConfigFor(toyHf, toyConfig({ 'model.finalNorm': false }))).toThrow(/cannot express model.finalNorm = false \(it needs one of true\)/);
    expect(() => hfConfigFor(toyHf, toyConfig({ 'toy.channels': 7 }))).toThrow(/cannot express toy.channels = 7 .*toy channels come in pairs/);
    try {
      hfConfigFor(toyHf, toyConfig({ 'model.norm': 'post' }));
    } catch (err) {
      expect((err as ConfigError).key).toBe('model.norm');
    }
  });

  it('import takes the architecture, not training options, and refuses what d2v cannot express, naming the HF key', () => {
    const hf = hfConfigFor(toyHf, toyConfig({ 'model.dim': 16, 'model.dropout': 0.3 }));
    const { overrides, notes } = d2vOptionsFromHf(toyHf, hf, 'c.json');
    expect(Object.fromEntries(overrides)).toEqual({
      'model.dim': 16,
      'model.depth': 3,
      'model.heads': 2,
      'model.ffnDim': 64,
      'model.norm': 'pre',
      'model.finalNorm': true,
      'model.layerScale': 0.1,
      'toy.length': 16,
      'toy.channels': 8,
    });
    expect(notes).toEqual([]);
    const { final_norm: _omitted, ...noFinal } = hf;
    expect(d2vOptionsFromHf(toyHf, noFinal, 'c.json').overrides.get('model.finalNorm')).toBe(true); // HF default
    expect(d2vOptionsFromHf(toyHf, { ...hf, layer_norm_eps: 1e-12 }, 'c.json').notes).toEqual(["layer_norm_eps is 1e-12, d2v uses 0.00001 (d2v's LayerNorms use eps 1e-5)"]);
    expect(() => d2vOptionsFromHf(toyHf, { ...hf, hidden_act: 'relu' }, 'c.json')).toThrow(/c.json: hidden_act = "relu" cannot be expressed in d2v \(it needs "gelu"\)/);
    expect(() => d2vOptionsFromHf(toyHf, { ...hf, final_norm: 'rms' }, 'c.json')).toThrow(/final_norm = "rms" cannot be expressed in d2v \(it needs one of "layer"\)/);
    expect(() => d2vOptionsFromHf(toyHf, { ...hf, channels: 3 }, 'c.json')).toThrow(/channels = 3 cannot be expressed in d2v.*pairs/);
    expect(() => d2vOptionsFromHf(toyHf, { ...hf, relative_positions: true }, 'c.json')).toThrow(/relative_positions = true cannot be expressed/);
    expect(() => d2vOptionsFromHf(toyHf, { ...hf, model_type: 'bert' }, 'c.json')).toThrow(/model_type is "bert"; this modality reads "toy-hf" \(ToyModel\): check --modality/);
    const { length: _l, ...noLength } = hf;
    expect(() => d2vOptionsFromHf(toyHf, noLength, 'c.json')).toThrow(/c.json: config.json lacks length \(d2v's toy.length\)/);
  });
});

describe('Hugging Face folders', () => {
  it('are written atomically; a folder holding anything else is refused and left as it was', async () => {
    const dir = join(tmp('folder'), 'out');
    await writeHfCheckpoint(dir, { model_type: 'toy-hf' }, { a: tf.ones([2]) });
    expect(isHfCheckpoint(dir)).toBe(true);
    expect(readHfConfig(dir)).toEqual({ model_type: 'toy-hf' });
    await writeHfCheckpoint(dir, { model_type: 'toy-hf', n: 2 }, { b: tf.zeros([3]) }); // a previous export is replaced
    const t = readHfTensors(dir);
    expect(Object.keys(t)).toEqual(['b']);
    tf.dispose(Object.values(t));
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    await expect(writeHfCheckpoint(dir, {}, { a: tf.ones([2]) })).rejects.toThrow(/already holds notes.txt; export into a new or empty folder/);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
    expect(readHfConfig(dir)).toEqual({ model_type: 'toy-hf', n: 2 });
  });

  it('reads sharded checkpoints and says what to do with PyTorch .bin weights', async () => {
    const dir = tmp('shards');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'toy-hf' }));
    writeFileSync(join(dir, 'pytorch_model.bin'), 'x');
    expect(() => readHfTensors(dir)).toThrow(/model.safetensors: is missing \(the folder has pytorch_model.bin: d2v reads safetensors only/);
    writeFileSync(join(dir, 'a.safetensors'), await tensorsToSafetensors({ x: tf.ones([2]) }));
    writeFileSync(join(dir, 'b.safetensors'), await tensorsToSafetensors({ y: tf.zeros([1]) }));
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { x: 'a.safetensors', y: 'b.safetensors' } }));
    const t = readHfTensors(dir);
    expect(Object.keys(t).sort()).toEqual(['x', 'y']);
    tf.dispose(Object.values(t));
    // A d2v checkpoint (manifest.json) is never taken for a Hugging Face folder.
    writeFileSync(join(dir, 'manifest.json'), '{}');
    expect(isHfCheckpoint(dir)).toBe(false);
  });
});

/** Random values in every parameter (biases, norms and layer scale included), so a misplaced one shows. */
function randomize(parts: { encoder: { variables(): Map<string, tf.Variable> }; transformer: { variables(): Map<string, tf.Variable> } }, seed: number) {
  let s = seed;
  for (const m of [parts.encoder, parts.transformer]) for (const v of m.variables().values()) v.assign(tf.randomNormal(v.shape, 0, 0.5, 'float32', s++));
}

const state = (parts: ReturnType<typeof buildStudent>) => {
  const out: Record<string, tf.Tensor> = {};
  for (const [n, v] of parts.encoder.variables()) out[`encoder.${n}`] = v;
  for (const [n, v] of parts.transformer.variables()) out[`transformer.${n}`] = v;
  return out;
};
const shapesOf = (parts: ReturnType<typeof buildStudent>) => new Map(Object.entries(state(parts)).map(([k, v]) => [k, v.shape]));
const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

describe('d2v -> Hugging Face -> d2v', () => {
  it('is lossless: the same hidden states although the key bias is dropped (softmax ignores it)', () => {
    const config = toyConfig();
    const a = buildStudent(toyWithHf, config);
    randomize(a, 11);
    const hf = hfTensorsFor(toyHf, config, state(a));
    expect(Object.keys(hf).some((k) => k.includes('attn.k.bias'))).toBe(false);
    const back = d2vTensorsFromHf(toyHf, config, hf, shapesOf(a), 'm.safetensors');
    const b = buildStudent(toyWithHf, { ...config, seed: 99 });
    b.encoder.loadState(Object.fromEntries(Object.entries(back.tensors).filter(([k]) => k.startsWith('encoder.')).map(([k, v]) => [k.slice(8), v])));
    b.transformer.loadState(Object.fromEntries(Object.entries(back.tensors).filter(([k]) => k.startsWith('transformer.')).map(([k, v]) => [k.slice(12), v])));
    const x = tf.randomNormal([2, 16, 8], 0, 1, 'float32', 5);
    const batch = toyHf.batchFromInput(x, config);
    const ha = hiddenStates(a.encoder, a.transformer, batch);
    const hb = hiddenStates(b.encoder, b.transformer, batch);
    expect(ha.hidden.length).toBe(4);
    for (let i = 0; i < ha.hidden.length; i++) expect(maxAbsDiff(ha.hidden[i]!, hb.hidden[i]!)).toBeLessThan(1e-5);
    expect(maxAbsDiff(ha.last, hb.last)).toBeLessThan(1e-5);
    // The qkv bias really lost its (non-zero) key part: the equality above is softmax's invariance, not a no-op.
    const kb = (v: tf.Tensor) => tf.slice(v, [32], [32]);
    expect(maxAbsDiff(kb(a.transformer.variables().get('blocks.0.attn.qkv.bias')!), tf.zeros([32]))).toBeGreaterThan(0.1);
    expect(maxAbsDiff(kb(b.transformer.variables().get('blocks.0.attn.qkv.bias')!), tf.zeros([32]))).toBe(0);
    tf.dispose([x, ...ha.hidden, ha.last, ...hb.hidden, hb.last, ...Object.values(hf), ...Object.values(back.tensors)]);
    batch.dispose();
    for (const p of [a, b]) (p.encoder.dispose(), p.transformer.dispose());
  });

  it('export -> import -> export is byte-stable, leaks no tensors, and pretrain/finetune/eval start from the HF folder', async () => {
    const root = tmp('e2e');
    const run = await pretrain({ modality: toyWithHf, overrides: { out: join(root, 'run'), 'train.steps': 2, 'train.checkpointEvery': 2, 'model.layerScale': 0.1 }, ...quietRun });
    const a = join(root, 'a');
    const b = join(root, 'b');
    const counts: number[] = [];
    for (const [src, out] of [[run.runDir, a], [a, b], [run.runDir, a]] as const) {
      await exportCheckpoint({ format: 'hf', init: src, out, modality: toyWithHf, log: () => {} });
      counts.push(tf.memory().numTensors);
    }
    expect(tensorCountIsFlat([0, ...counts])).toBe(true);
    for (const f of ['config.json', 'model.safetensors']) expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f)))).toBe(true);
    expect(readdirSync(a).sort()).toEqual(['config.json', 'model.safetensors']);

    // The exported folder reproduces the run's hidden states.
    const x = tf.randomNormal([2, 16, 8], 0, 1, 'float32', 3);
    const batch = toyHf.batchFromInput(x, toyConfig());
    const fromRun = await openCheckpoint(run.runDir, { modality: toyWithHf, log: () => {} });
    const fromHf = await openCheckpoint(a, { modality: toyWithHf, log: () => {} });
    const h1 = hiddenStates(fromRun.parts.encoder, fromRun.parts.transformer, batch);
    const h2 = hiddenStates(fromHf.parts.encoder, fromHf.parts.transformer, batch);
    expect(maxAbsDiff(h1.last, h2.last)).toBeLessThan(1e-5);
    tf.dispose([x, ...h1.hidden, h1.last, ...h2.hidden, h2.last]);
    batch.dispose();
    for (const p of [fromRun.parts, fromHf.parts]) (p.encoder.dispose(), p.transformer.dispose());

    // pretrain --init HF: the student starts from the checkpoint (an lr of 1e-30 moves no weight by more
    // than 1e-30: lr must be > 0) and the teacher from the student.
    const cont = await pretrain({ modality: toyWithHf, overrides: { out: join(root, 'cont'), 'finetune.init': a, 'train.steps': 1, 'optim.lr': 1e-30 }, ...quietRun });
    const ckpt = await new CheckpointManager(cont.runDir, { keepLast: 1 }).load();
    const hf = readHfTensors(a);
    const imported = d2vTensorsFromHf(toyHf, cont.config, hf, new Map(Object.entries(ckpt.groups['student']!).filter(([k]) => !k.startsWith('head.')).map(([k, v]) => [k, v.shape])), a);
    for (const [name, t] of Object.entries(imported.tensors)) {
      expect(maxAbsDiff(ckpt.groups['student']![name]!, t)).toBeLessThan(1e-20);
      if (name.startsWith('transformer.')) expect(maxAbsDiff(ckpt.groups['teacher']![name.slice(12)]!, t)).toBeLessThan(1e-7); // one EMA update of equal weights: rounding only
    }
    ckpt.dispose();
    tf.dispose([...Object.values(hf), ...Object.values(imported.tensors)]);

    // eval and finetune --init HF run (the architecture comes from config.json: a conflicting flag is refused).
    const ev = await evaluate({ modality: toyWithHf, task: 'probe', overrides: { out: join(root, 'ev'), 'finetune.init': a, 'finetune.steps': 1 }, ...quietRun });
    expect(ev['accuracy']).toBeGreaterThanOrEqual(0);
    const ft = await finetune({ modality: toyWithHf, overrides: { out: join(root, 'ft'), 'finetune.init': a, 'finetune.steps': 2 }, ...quietRun });
    expect(ft.metrics['accuracy']).toBeGreaterThanOrEqual(0);
    await expect(finetune({ modality: toyWithHf, overrides: { out: join(root, 'ft2'), 'finetune.init': a, 'model.dim': 64 }, ...quietRun })).rejects.toThrow(
      /--init .* is a Hugging Face ToyModel with model.dim = 32 \(from its config.json\), but the command line sets 64: drop that option/,
    );
  });

  it('takes the architecture from config.json over the preset, and K no larger than its depth', () => {
    const root = tmp('arch');
    const config = toyConfig({ 'model.dim': 16, 'model.depth': 1, 'model.ffnDim': 24, 'objective.topK': 1 });
    const parts = buildStudent(toyWithHf, config);
    const hf = hfTensorsFor(toyHf, config, state(parts));
    writeFileSync(join(root, 'config.json'), JSON.stringify(hfConfigFor(toyHf, config)));
    writeFileSync(join(root, 'model.safetensors'), '');
    const logs: string[] = [];
    const resolved = resolveWithHfInit(toyWithHf, { modality: 'toy', modalitySchema: toy.schema, presets: toy.presets, preset: 'tiny', overrides: new Map([['finetune.init', root]]) }, (m) => logs.push(m));
    expect(resolved.model).toMatchObject({ dim: 16, depth: 1, ffnDim: 24, layerScale: 0.1 });
    expect(resolved.objective.topK).toBe(1); // the preset's 2 exceeds the checkpoint's one block
    expect(logs[0]).toMatch(/is a Hugging Face ToyModel; from its config.json: model.dim 16, model.depth 1/);
    tf.dispose(Object.values(hf));
    parts.encoder.dispose();
    parts.transformer.dispose();
  });
});

describe('d2v export (command line)', () => {
  const TOY = resolve(__dirname, 'fixtures/toy-modality.ts');
  it('prints its usage; misspelt formats, missing options and modalities without a mapping are one clear error each', async () => {
    const out: string[] = [];
    const ol = console.log;
    console.log = (...a: unknown[]) => out.push(a.join(' '));
    try {
      expect(await cliMain(['export', '--help'])).toBe(0);
    } finally {
      console.log = ol;
    }
    expect(out.join('\n')).toMatch(/usage: d2v export --format hf --init RUN_OR_CHECKPOINT --out DIR/);
    await expect(cliMain(['export', '--format', 'hff', '--init', 'x', '--out', 'y'])).rejects.toThrow(/unknown export format 'hff' \(did you mean hf\?\); formats: hf/);
    await expect(cliMain(['export', '--init', 'x', '--out', 'y'])).rejects.toThrow(/d2v export needs --format \(hf\)/);
    await expect(cliMain(['export', '--format', 'hf', '--out', 'y'])).rejects.toThrow(/d2v export needs --init/);
    const root = tmp('cli');
    const run = await pretrain({ modality: TOY, overrides: { out: join(root, 'run'), 'train.steps': 1 }, ...quietRun });
    await expect(cliMain(['export', '--format', 'hf', '--init', run.runDir, '--out', join(root, 'hf'), '--modality', TOY])).rejects.toThrow(
      /modality toy declares no Hugging Face mapping/,
    );
    expect(existsSync(join(root, 'hf'))).toBe(false);
    await expect(cliMain(['export', '--format', 'hf', '--init', run.runDir, '--out', join(root, 'hf'), '--model.depth', '2'])).rejects.toThrow(
      /is a d2v checkpoint: its stored config is used as is \(only --backend may be given, not --model.depth\)/,
    );
    mkdirSync(join(root, 'empty'));
    await expect(cliMain(['export', '--format', 'hf', '--init', join(root, 'empty'), '--out', join(root, 'hf')])).rejects.toThrow(CheckpointError);
  });
});
