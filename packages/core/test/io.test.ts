import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  initBackend,
  encodeSafetensors,
  decodeSafetensors,
  tensorsToSafetensors,
  safetensorsToTensors,
  CheckpointManager,
  CheckpointError,
  writeFileAtomic,
  diffConfig,
} from '../src/index.js';
import { tempDir } from '../src/testing.js';

const tmp = () => tempDir('io');

beforeAll(async () => {
  await initBackend('wasm');
});

describe('safetensors', () => {
  it('writes the documented layout: u64 header length, padded JSON, sorted data', () => {
    const bytes = encodeSafetensors({ b: { dtype: 'I32', shape: [2], data: Int32Array.from([7, -1]) }, a: { dtype: 'F32', shape: [], data: Float32Array.from([1.5]) } }, { who: 'd2v' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8'));
    expect(header.__metadata__).toEqual({ who: 'd2v' });
    expect(header.a).toEqual({ dtype: 'F32', shape: [], data_offsets: [0, 4] });
    expect(header.b).toEqual({ dtype: 'I32', shape: [2], data_offsets: [4, 12] });
    expect(bytes.length).toBe(8 + n + 12);
    expect(new Float32Array(bytes.slice(8 + n, 12 + n).buffer)[0]).toBe(1.5);
    const back = decodeSafetensors(bytes);
    expect([...back.tensors['b']!.data]).toEqual([7, -1]);
  });

  it('round-trips tfjs tensors of every stored dtype, empty and scalar included', async () => {
    const src = { w: tf.tensor2d([[1, 2], [3, 4]]), i: tf.tensor1d([5, 6], 'int32'), m: tf.tensor1d([1, 0, 1], 'bool'), e: tf.zeros([0, 3]), s: tf.scalar(3) };
    const back = safetensorsToTensors(decodeSafetensors(await tensorsToSafetensors(src)));
    for (const [k, t] of Object.entries(src)) {
      expect(back[k]!.shape).toEqual(t.shape);
      expect(back[k]!.dtype).toBe(t.dtype);
      expect([...back[k]!.dataSync()]).toEqual([...t.dataSync()]);
    }
    tf.dispose([...Object.values(src), ...Object.values(back)]);
  });

  it('decodes F16, BF16 and I64 from other tools', () => {
    const f16 = Uint16Array.from([0x3c00, 0xc000, 0x3555]); // 1, -2, ~0.3333
    const bf16 = Uint16Array.from([0x3f80, 0x4049]); // 1, ~3.14
    const i64 = BigInt64Array.from([3n, -4n]);
    const bytes = encodeSafetensors({ h: { dtype: 'F16', shape: [3], data: f16 }, b: { dtype: 'BF16', shape: [2], data: bf16 }, l: { dtype: 'I64', shape: [2], data: i64 } });
    const t = safetensorsToTensors(decodeSafetensors(bytes));
    const h = t['h']!.dataSync();
    expect(h[0]).toBe(1);
    expect(h[1]).toBe(-2);
    expect(h[2]).toBeCloseTo(1 / 3, 3);
    expect(t['b']!.dataSync()[1]).toBeCloseTo(3.14, 2);
    expect([...t['l']!.dataSync()]).toEqual([3, -4]);
    tf.dispose(Object.values(t));
  });

  it('refuses malformed files with the reason', () => {
    const good = encodeSafetensors({ a: { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) } });
    const n = Number(new DataView(good.buffer).getBigUint64(0, true));
    const withHeader = (h: object, data = 8) => {
      let json = Buffer.from(JSON.stringify(h));
      json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 32)]);
      const out = Buffer.alloc(8 + json.length + data);
      out.writeBigUInt64LE(BigInt(json.length), 0);
      json.copy(out, 8);
      return new Uint8Array(out);
    };
    expect(() => decodeSafetensors(good.subarray(0, 5), 'x.st')).toThrow(/x\.st: .*truncated/);
    expect(() => decodeSafetensors(good.subarray(0, good.length - 4), 'x.st')).toThrow(/truncated/);
    const huge = new Uint8Array(good);
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    expect(() => decodeSafetensors(huge)).toThrow(/exceeds/);
    const badJson = new Uint8Array(good);
    badJson[9] = 0x7b;
    badJson[8 + n - 1] = 0x7b;
    expect(() => decodeSafetensors(badJson)).toThrow(/JSON/);
    expect(() => decodeSafetensors(withHeader({ a: { dtype: 'Q8', shape: [2], data_offsets: [0, 8] } }))).toThrow(/unknown dtype/);
    expect(() => decodeSafetensors(withHeader({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }))).toThrow(/needs 12/);
    expect(() => decodeSafetensors(withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }))).toThrow(/overlaps/);
    expect(() => decodeSafetensors(withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }))).toThrow(/gap/);
    expect(() => decodeSafetensors(withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }))).toThrow(/cover/);
  });
});

describe('checkpoints', () => {
  const payload = (step: number, value: number) => ({
    step,
    groups: { student: { w: tf.fill([2, 2], value) }, optimizer: { 'm.w': tf.zeros([2, 2]) } },
    state: { note: 'x' },
    config: { model: { depth: 2 }, train: { steps: 10 } },
  });

  it('saves atomically, keeps the last N, follows latest, ignores crash leftovers', async () => {
    const run = tmp();
    const m = new CheckpointManager(run, { keepLast: 2 });
    for (const s of [1, 2, 3]) {
      const p = payload(s, s);
      const n = tf.memory().numTensors;
      await m.save(p);
      expect(tf.memory().numTensors).toBe(n);
      tf.dispose(Object.values(p.groups).flatMap((g) => Object.values(g)));
    }
    expect(m.list().map((c) => c.step)).toEqual([2, 3]);
    expect(readFileSync(join(run, 'checkpoints', 'latest'), 'utf8').trim()).toBe('step-00000003');
    // A crash mid-save leaves a temp folder and maybe a stale pointer: neither is mistaken for a checkpoint.
    mkdirSync(join(run, 'checkpoints', '.tmp-step-00000004-999-0'));
    writeFileSync(join(run, 'checkpoints', 'latest'), 'step-00000004\n');
    expect(m.latestDir()).toContain('step-00000003');
    const n = tf.memory().numTensors;
    const c = await m.load();
    expect(c.step).toBe(3);
    expect([...c.groups['student']!['w']!.dataSync()]).toEqual([3, 3, 3, 3]);
    c.dispose();
    expect(tf.memory().numTensors).toBe(n);
    // The next successful save cleans the leftovers of other processes.
    const p = payload(5, 5);
    await m.save(p);
    tf.dispose(Object.values(p.groups).flatMap((g) => Object.values(g)));
    expect(readdirSync(join(run, 'checkpoints')).filter((d) => d.startsWith('.tmp'))).toEqual([]);
  });

  it('refuses truncated files and differing configs, naming them', async () => {
    const run = tmp();
    const m = new CheckpointManager(run, { keepLast: 3 });
    const p = payload(1, 1);
    const dir = await m.save(p);
    tf.dispose(Object.values(p.groups).flatMap((g) => Object.values(g)));
    await expect(m.load(dir, { expectConfig: { model: { depth: 4 }, train: { steps: 99 } }, ignoreKeys: ['train.steps'] })).rejects.toThrow(
      /config mismatch: model\.depth is 2 in the checkpoint but 4 in this run/,
    );
    const f = join(dir, 'optimizer.safetensors');
    writeFileSync(f, readFileSync(f).subarray(0, 20));
    const err = await m.load(dir).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toContain('optimizer.safetensors');
    expect(err.message).toMatch(/corrupt or truncated/);
    await expect(new CheckpointManager(tmp(), { keepLast: 1 }).load()).rejects.toThrow(/no checkpoint found/);
  });

  it('diffConfig lists every differing key; writeFileAtomic replaces files whole', () => {
    expect(diffConfig({ a: 1, b: { c: 2, d: 3 } }, { a: 1, b: { c: 5 }, e: true }, [])).toEqual([
      'b.c is 2 in the checkpoint but 5 in this run',
      'b.d is 3 in the checkpoint but absent in this run',
      'e is absent in the checkpoint but true in this run',
    ]);
    const d = tmp();
    writeFileAtomic(join(d, 'f.json'), 'one');
    writeFileAtomic(join(d, 'f.json'), 'two');
    expect(readFileSync(join(d, 'f.json'), 'utf8')).toBe('two');
    expect(readdirSync(d)).toEqual(['f.json']);
    expect(existsSync(join(d, 'sub', 'g'))).toBe(false);
  });
});
