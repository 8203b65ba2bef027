/**
 * loadModel / embed / predict and the `d2v predict` / `d2v embed` commands, on the toy modality
 * (core names no real modality): pretraining and fine-tuned runs made here in a few steps.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initBackend, pretrain, finetune, loadModel, createPretrainTask, decodeSafetensors, encodeNpy, predictionsToCsv, maskedMeanOverTime, Rng, CheckpointError, ConfigError, type D2vModel, type Data2VecTaskBase, type Features } from '../src/index.js';
import { main as cliMain } from '../src/cli/main.js';
import { quietRun, tempDir, removeTempDirs, captureConsole } from '../src/testing.js';
import { modality as toy, type ToyConfig } from './fixtures/toy-modality.js';

const TOY = resolve(__dirname, 'fixtures/toy-modality.ts');
const { length: L, channels: C } = { length: 16, channels: 8 };

/** A series as the toy reads it from a .json file: [L][C] numbers. */
function series(seed: number): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: L }, () => Array.from({ length: C }, () => Number(rng.normal().toFixed(4))));
}

/** Parses a .npy file (version 1.0) back into its header and data bytes. */
function parseNpy(bytes: Uint8Array): { header: string; data: Uint8Array } {
  expect(Array.from(bytes.subarray(0, 8))).toEqual([0x93, ...Buffer.from('NUMPY'), 1, 0]);
  const len = new DataView(bytes.buffer, bytes.byteOffset).getUint16(8, true);
  expect((10 + len) % 64).toBe(0);
  return { header: Buffer.from(bytes.subarray(10, 10 + len)).toString('latin1'), data: bytes.subarray(10 + len) };
}

let pre: string;
let ft: string;
let inputs: string;
const files: string[] = [];

beforeAll(async () => {
  await initBackend('wasm');
  pre = tempDir('infer-pre');
  await pretrain({ modality: toy, ...quietRun, overrides: { out: pre, 'train.steps': 3 } });
  ft = tempDir('infer-ft');
  await finetune({ modality: toy, ...quietRun, overrides: { out: ft, 'finetune.init': pre, 'finetune.steps': 15 } });
  // Three readable series and an unreadable file in the middle (alphabetical order).
  inputs = tempDir('infer-in');
  const write = (name: string, text: string) => {
    writeFileSync(join(inputs, name), text);
    files.push(join(inputs, name));
  };
  write('a.json', JSON.stringify(series(1)));
  write('b.json', JSON.stringify(series(2)));
  write('c-broken.json', '[[1, 2], [3');
  write('d.json', JSON.stringify(series(3)));
});

afterAll(removeTempDirs);

/** The toy's own eval path: mean over time of the Transformer output. */
function evalPathFeatures(model: D2vModel<unknown, ToyConfig>, values: Float32Array[]): Float32Array {
  const batch = toy.inference!.collate(values, model.config);
  const out = tf.tidy(() => {
    const f = model.encoder.features(batch, { training: false });
    const e = model.encoder.embed(f, { training: false });
    return maskedMeanOverTime(model.transformer.forward(e.x, { collect: false }).output);
  });
  const data = out.dataSync() as Float32Array;
  out.dispose();
  batch.dispose();
  return data;
}

describe('loadModel on a pretraining run', () => {
  it('embeds files and in-memory inputs like the eval path, names the unreadable file and goes on', async () => {
    const model = await loadModel(pre, { modality: toy });
    try {
      expect(model.task).toBeUndefined();
      expect(model.checkpoint).toContain(join(pre, 'checkpoints'));
      const listed = model.inputsFrom([inputs, join(inputs, 'missing.json')]);
      expect(listed.skipped).toEqual([{ input: join(inputs, 'missing.json'), reason: 'no such file or folder' }]);
      const e = await model.embed(listed.inputs, { batchSize: 2 });
      expect(e.names).toEqual([files[0], files[1], files[3]]);
      expect(e.skipped).toHaveLength(1);
      expect(e.skipped[0]!.input).toBe(files[2]);
      expect(e.skipped[0]!.reason).toMatch(/is not a JSON array of 16 steps/);
      expect([e.rows, e.dim, e.pool, e.layers]).toEqual([3, 32, 'mean', 'last']);
      const values = [1, 2, 3].map((s) => Float32Array.from(series(s).flat()));
      const want = evalPathFeatures(model, values);
      for (let i = 0; i < want.length; i++) expect(e.features[i]).toBeCloseTo(want[i]!, 5);
      // In memory: the same numbers, named input[i].
      const mem = await model.embed(values);
      expect(mem.names).toEqual(['input[0]', 'input[1]', 'input[2]']);
      for (let i = 0; i < want.length; i++) expect(mem.features[i]).toBeCloseTo(want[i]!, 5);
    } finally {
      model.dispose();
    }
  });

  it('per-step top-K features are the pretraining teacher targets of the same weights', async () => {
    const model = await loadModel(pre, { modality: toy });
    const task = createPretrainTask(toy, model.config, await toy.createData(model.config, 'train')) as unknown as Data2VecTaskBase<unknown>;
    try {
      const values = [1, 2].map((s) => Float32Array.from(series(s).flat()));
      const e = await model.embed(values, { pool: 'none', layers: 'topk' });
      expect(e.topK).toBe(2);
      expect(Array.from(e.offsets!)).toEqual([0, L, 2 * L]);
      expect(e.rows).toBe(2 * L);
      // The toy shares its encoder with the teacher (emaEncoder false): give the teacher the model's weights.
      task.encoder.loadState(model.encoder.state());
      task.teacherTransformer.loadState(model.transformer.state());
      const batch = toy.inference!.collate(values, model.config);
      const targets = tf.tidy(() => {
        const f: Features = task.encoder.features(batch, { training: false });
        return (task as unknown as { teacherTargets(f: Features, dropExtra: boolean): tf.Tensor3D }).teacherTargets(f, true);
      });
      const want = targets.dataSync();
      tf.dispose([targets]);
      batch.dispose();
      expect(want.length).toBe(e.features.length);
      for (let i = 0; i < want.length; i += 7) expect(e.features[i]).toBeCloseTo(want[i]!, 4);
      // K = 1 is a different representation.
      const k1 = await model.embed(values, { pool: 'none', layers: 'topk', topK: 1 });
      expect(Math.max(...k1.features.map((v, i) => Math.abs(v - e.features[i]!)))).toBeGreaterThan(1e-3);
      await expect(model.embed(values, { layers: 'topk', topK: 4 })).rejects.toThrow(/top-k must be an integer from 1 to the model's 3 blocks/);
      await expect(model.embed(values, { topK: 2 })).rejects.toThrow(ConfigError);
    } finally {
      task.dispose();
      model.dispose();
    }
  });

  it('predict says the run has no head', async () => {
    const model = await loadModel(pre, { modality: toy });
    try {
      await expect(model.predict([Float32Array.from(series(1).flat())])).rejects.toThrow(CheckpointError);
      await expect(model.predict([Float32Array.from(series(1).flat())])).rejects.toThrow(/has no fine-tuned head to predict with \(a pretraining checkpoint, step 3; toy predicts with: classify\)/);
    } finally {
      model.dispose();
    }
  });
});

describe('loadModel on a fine-tuned run', () => {
  it('predicts with the head the run was fine-tuned for, as its evaluation does', async () => {
    const model = await loadModel(ft, { modality: toy });
    try {
      expect(model.task).toBe('classify');
      const listed = model.inputsFrom([inputs]);
      const p = await model.predict(listed.inputs, { batchSize: 3 });
      expect(p.task).toBe('classify');
      expect(p.records.map((r) => r.input)).toEqual([files[0], files[1], files[3]]);
      expect(p.skipped.map((s) => s.input)).toEqual([files[2]]);
      for (const r of p.records) {
        const probs = Object.values(r['probabilities'] as Record<string, number>);
        expect(probs).toHaveLength(4);
        expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        expect(r['label']).toBe(`class ${probs.indexOf(Math.max(...probs))}`);
      }
      // The same inputs one at a time give the same answers (batching changes nothing).
      for (const [i, r] of p.records.entries()) {
        const single = await model.predict([{ name: 'x', value: listed.inputs[[0, 1, 3][i]!]!.value }]);
        expect(single.records[0]!['label']).toBe(r['label']);
      }
    } finally {
      model.dispose();
    }
  });

  it('repeated embed and predict calls leave the tensor count flat', async () => {
    const model = await loadModel(ft, { modality: toy });
    try {
      const values = [1, 2, 3].map((s) => Float32Array.from(series(s).flat()));
      const counts: number[] = [];
      for (let i = 0; i < 4; i++) {
        await model.embed(values, { batchSize: 2 });
        await model.embed(values, { pool: 'none', layers: 'topk' });
        await model.predict(values, { batchSize: 2 });
        counts.push(tf.memory().numTensors);
      }
      expect(new Set(counts).size).toBe(1);
    } finally {
      model.dispose();
    }
  });

  it('refuses a run of another modality and an unknown path', async () => {
    await expect(loadModel(ft, { modality: { ...toy, name: 'other' } })).rejects.toThrow(/is a toy run, not other/);
    await expect(loadModel(join(inputs, 'nowhere'))).rejects.toThrow(/neither a checkpoint folder nor a run folder/);
  });
});

describe('d2v predict and d2v embed', () => {
  it('predict writes JSON Lines and CSV that parse, with the unreadable file named', async () => {
    const dir = tempDir('infer-cli');
    const jsonl = join(dir, 'p.jsonl');
    const r = await captureConsole(() => cliMain(['predict', '--modality', TOY, '--init', ft, '--input', files[0]!, files[2]!, files[3]!, '--output', jsonl]));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe(`predicted 2 input(s) with the classify head, skipped 1 -> ${jsonl}`);
    expect(r.err).toContain(`d2v: skipped ${files[2]}: is not a JSON array of 16 steps`);
    const lines = readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.input)).toEqual([files[0], files[3], files[2]]);
    expect(lines[0].label).toMatch(/^class \d$/);
    expect(lines[2].skipped).toMatch(/is not a JSON array/);

    const csv = join(dir, 'p.csv');
    expect((await captureConsole(() => cliMain(['predict', '--modality', TOY, '--init', ft, '--input', inputs, '--output', csv]))).code).toBe(0);
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    expect(rows[0]).toBe('input,label,probabilities.class 0,probabilities.class 1,probabilities.class 2,probabilities.class 3,skipped');
    expect(rows).toHaveLength(5);
    expect(rows[4]!.startsWith(`${files[2]},,,,,,`)).toBe(true);
    for (const row of rows.slice(1, 4)) expect(row.split(',').slice(2, 6).reduce((a, b) => a + Number(b), 0)).toBeCloseTo(1, 5);

    // Without --output the records go to stdout.
    const stdout = await captureConsole(() => cliMain(['predict', '--modality', TOY, '--init', ft, '--input', files[0]!]));
    expect(JSON.parse(stdout.out).input).toBe(files[0]);
  });

  it('embed writes safetensors with the input names in its metadata, and .npy with --npy', async () => {
    const dir = tempDir('infer-cli');
    const out = join(dir, 'e.safetensors');
    const r = await captureConsole(() => cliMain(['embed', '--modality', TOY, '--init', pre, '--input', inputs, '--out', out, '--pool', 'none', '--npy']));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('embedded 3 input(s): per-step features of the last block, [48, 32]; skipped 1');
    const st = decodeSafetensors(readFileSync(out), out);
    expect(st.tensors['features']!.shape).toEqual([48, 32]);
    expect(Array.from(st.tensors['offsets']!.data as Int32Array)).toEqual([0, 16, 32, 48]);
    expect(JSON.parse(st.metadata['inputs']!)).toEqual([files[0], files[1], files[3]]);
    expect(JSON.parse(st.metadata['skipped']!)[0].input).toBe(files[2]);
    expect(st.metadata).toMatchObject({ format: 'd2v-embeddings', pool: 'none', layers: 'last', modality: 'toy', step: '3' });
    const npy = parseNpy(readFileSync(join(dir, 'e.npy')));
    expect(npy.header).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(48, 32\), \} *\n$/);
    expect(Array.from(new Float32Array(Uint8Array.from(npy.data).buffer))).toEqual(Array.from(st.tensors['features']!.data as Float32Array));
    expect(parseNpy(readFileSync(join(dir, 'e.offsets.npy'))).header).toContain("'shape': (4,)");
    expect(JSON.parse(readFileSync(join(dir, 'e.inputs.json'), 'utf8')).inputs).toHaveLength(3);

    // Pooled: one row per input, equal to the API's numbers.
    const pooledOut = join(dir, 'p.safetensors');
    expect((await captureConsole(() => cliMain(['embed', '--modality', TOY, '--init', pre, '--input', files[0]!, '--out', pooledOut]))).code).toBe(0);
    const model = await loadModel(pre, { modality: toy });
    const e = await model.embed([files[0]!]);
    model.dispose();
    expect(Array.from(decodeSafetensors(readFileSync(pooledOut)).tensors['features']!.data as Float32Array)).toEqual(Array.from(e.features));
    expect(existsSync(join(dir, 'p.npy'))).toBe(false);
  });

  it('missing --init or --input, a bad option or output name: one clear line each', async () => {
    const noInit = await captureConsole(() => cliMain(['predict', '--input', inputs]));
    expect(noInit.code).toBe(2);
    expect(noInit.err).toBe('d2v predict: --init RUN is required (a fine-tuned run folder or checkpoint folder)');
    const noInput = await captureConsole(() => cliMain(['embed', '--init', pre, '--out', 'x.safetensors']));
    expect(noInput.code).toBe(2);
    expect(noInput.err).toBe('d2v embed: --input PATH... is required (files or folders to embed)');
    const noOut = await captureConsole(() => cliMain(['embed', '--init', pre, '--input', inputs]));
    expect(noOut.err).toBe('d2v embed: --out FILE.safetensors is required');
    await expect(cliMain(['predict', '--init', ft, '--input', inputs, '--ouput', 'x.jsonl'])).rejects.toThrow(/unknown option --ouput \(did you mean --output\?\)/);
    await expect(cliMain(['predict', '--init', ft, '--input', inputs, '--output', 'x.txt'])).rejects.toThrow(/--output x.txt: write predictions to a .jsonl or .csv file/);
    await expect(cliMain(['embed', '--init', pre, '--input', inputs, '--out', 'x.npy'])).rejects.toThrow(/write embeddings to a .safetensors file/);
    await expect(cliMain(['embed', '--init', pre, '--input', inputs, '--out', 'x.safetensors', '--pool', 'max'])).rejects.toThrow(/--pool must be one of mean, none \(got 'max'\)/);
    await expect(cliMain(['embed', '--init', pre, '--input', inputs, '--out', 'x.safetensors', '--npy=false'])).rejects.toThrow(/--npy is a flag and takes no value/);
    await expect(cliMain(['predict', '--init', ft, '--init', pre, '--input', inputs])).rejects.toThrow(/--init given twice/);
    const predictPre = await captureConsole(() => cliMain(['predict', '--modality', TOY, '--init', pre, '--input', inputs]).catch((e: Error) => (console.error(e.message), 1)));
    expect(predictPre.err).toMatch(/has no fine-tuned head to predict with/);
    const help = await captureConsole(() => cliMain(['embed', '--help']));
    expect(help.out).toContain('usage: d2v embed --init RUN --input PATH... --out FILE.safetensors');
  });
});

describe('output formats', () => {
  it('CSV quotes fields with commas, quotes and newlines', () => {
    const csv = predictionsToCsv({ task: 't', records: [{ input: 'a,b.txt', label: 'say "hi"' }], skipped: [{ input: 'c\nd', reason: 'bad' }] });
    expect(csv).toBe('input,label,skipped\n"a,b.txt","say ""hi""",\n"c\nd",,bad\n');
  });

  it('.npy headers pad to 64 bytes and refuse a wrong shape', () => {
    const bytes = encodeNpy(Int32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
    const { header, data } = parseNpy(bytes);
    expect(header).toContain("'descr': '<i4'");
    expect(header).toContain("'shape': (2, 3)");
    expect(Array.from(new Int32Array(Uint8Array.from(data).buffer))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => encodeNpy(new Float32Array(5), [2, 3])).toThrow(/does not hold 5 values/);
  });
});
