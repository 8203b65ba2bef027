import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { CheckpointError } from '../src/errors.js';
import {
  encodeSafetensors,
  decodeSafetensors,
  tensorsToSafetensors,
  safetensorsToTensors,
  rawToTensor,
  float16ToFloat32,
  bfloat16ToFloat32,
  MAX_HEADER_BYTES,
} from '../src/io/index.js';
import type { RawTensor } from '../src/io/index.js';
import { findDuplicateKey } from '../src/io/jsonKeys.js';

beforeAll(async () => {
  await initBackend('wasm');
});

/** A file from a literal header string (spaces-padded to 8) followed by `dataBytes` bytes 0,1,2,... */
function fileWith(header: string, dataBytes: number): Uint8Array {
  const json = Buffer.from(header, 'utf8');
  const n = Math.ceil(json.length / 8) * 8;
  const out = Buffer.alloc(8 + n + dataBytes, 0x20);
  out.writeBigUInt64LE(BigInt(n), 0);
  json.copy(out, 8);
  for (let i = 0; i < dataBytes; i++) out[8 + n + i] = i & 0xff;
  return new Uint8Array(out);
}

/** The CheckpointError thrown by `fn`, or a failure. */
function errorOf(fn: () => unknown): CheckpointError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CheckpointError);
    return err as CheckpointError;
  }
  throw new Error('expected a CheckpointError, nothing was thrown');
}

describe('safetensors layout', () => {
  it('matches a hand-built buffer byte for byte (header length, padding, aligned offsets)', () => {
    const bytes = encodeSafetensors(
      {
        a: { dtype: 'U8', shape: [3], data: Uint8Array.from([1, 2, 255]) },
        z: { dtype: 'F64', shape: [1], data: Float64Array.from([-0.5]) },
        m: { dtype: 'F32', shape: [1, 1], data: Float32Array.from([2]) },
      },
      { format: 'pt' },
    );
    // Larger elements first (F64, F32, U8) so each tensor starts at a multiple of its element size.
    const header =
      '{"__metadata__":{"format":"pt"},' +
      '"z":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},' +
      '"m":{"dtype":"F32","shape":[1,1],"data_offsets":[8,12]},' +
      '"a":{"dtype":"U8","shape":[3],"data_offsets":[12,15]}}';
    expect(header.length).toBe(195);
    const expected = new Uint8Array(8 + 200 + 15);
    const view = new DataView(expected.buffer);
    view.setBigUint64(0, 200n, true);
    expected.set(Buffer.from(header, 'latin1'), 8);
    expected.fill(0x20, 8 + 195, 8 + 200);
    view.setFloat64(208, -0.5, true);
    view.setFloat32(216, 2, true);
    expected.set([1, 2, 255], 220);
    expect(bytes).toEqual(expected);
  });

  it('writes an empty file list as a valid 8-byte-padded header', () => {
    const bytes = encodeSafetensors({});
    expect([...bytes]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20]);
    expect(decodeSafetensors(bytes)).toEqual({ tensors: {}, metadata: {} });
  });

  it('round-trips every dtype, empty and scalar tensors included', () => {
    const src: Record<string, RawTensor> = {
      f64: { dtype: 'F64', shape: [2], data: Float64Array.from([Math.PI, -1e300]) },
      f32: { dtype: 'F32', shape: [2, 2], data: Float32Array.from([1.5, -2, 0, 3e-8]) },
      f16: { dtype: 'F16', shape: [3], data: Uint16Array.from([0x3c00, 0xc000, 0x7c00]) },
      bf16: { dtype: 'BF16', shape: [1], data: Uint16Array.from([0x3f80]) },
      i64: { dtype: 'I64', shape: [2], data: BigInt64Array.from([-(2n ** 40n), 7n]) },
      i32: { dtype: 'I32', shape: [3], data: Int32Array.from([-2147483648, 0, 2147483647]) },
      i16: { dtype: 'I16', shape: [1], data: Int16Array.from([-32768]) },
      i8: { dtype: 'I8', shape: [2], data: Int8Array.from([-128, 127]) },
      u8: { dtype: 'U8', shape: [1], data: Uint8Array.from([200]) },
      bool: { dtype: 'BOOL', shape: [3], data: Uint8Array.from([1, 0, 1]) },
      empty: { dtype: 'F32', shape: [0, 3], data: new Float32Array(0) },
      scalar: { dtype: 'I32', shape: [], data: Int32Array.from([42]) },
    };
    const back = decodeSafetensors(encodeSafetensors(src, { note: 'ü' }), 'all.safetensors');
    expect(back.metadata).toEqual({ note: 'ü' });
    expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(src).sort());
    for (const [name, t] of Object.entries(src)) {
      const b = back.tensors[name]!;
      expect(b.dtype).toBe(t.dtype);
      expect(b.shape).toEqual(t.shape);
      expect(b.data.constructor).toBe(t.data.constructor);
      expect(b.data).toEqual(t.data);
    }
  });

  it('decodes tensors at unaligned offsets written by other tools', () => {
    // U8 first, then an F32 at byte offset 1: the reader must copy, not view.
    const header = '{"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"f":{"dtype":"F32","shape":[1],"data_offsets":[1,5]}}';
    const bytes = fileWith(header, 5);
    const n = bytes.length - 5;
    new DataView(bytes.buffer).setFloat32(n + 1, 6.25, true);
    const back = decodeSafetensors(bytes);
    expect([...back.tensors['f']!.data]).toEqual([6.25]);
    expect([...back.tensors['b']!.data]).toEqual([0]);
  });

  it('refuses to encode inconsistent input', () => {
    expect(errorOf(() => encodeSafetensors({ w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).message).toMatch(/w: 2 elements of data for shape \[3\]/);
    expect(errorOf(() => encodeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Int32Array(2) } })).message).toMatch(/F32 data must be a Float32Array, got Int32Array/);
    expect(errorOf(() => encodeSafetensors({ w: { dtype: 'Q4' as 'F32', shape: [1], data: new Float32Array(1) } })).message).toMatch(/unknown dtype "Q4"/);
    expect(errorOf(() => encodeSafetensors({ w: { dtype: 'F32', shape: [-1], data: new Float32Array(0) } })).message).toMatch(/not a non-negative integer/);
    expect(errorOf(() => encodeSafetensors({ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } })).message).toMatch(/reserved/);
  });
});

describe('safetensors reader validation', () => {
  const good = encodeSafetensors({ a: { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) } });
  const headerLen = Number(new DataView(good.buffer).getBigUint64(0, true));

  it('refuses truncated files and impossible header lengths', () => {
    let e = errorOf(() => decodeSafetensors(good.subarray(0, 5), 'w.safetensors'));
    expect(e.file).toBe('w.safetensors');
    expect(e.message).toMatch(/^w\.safetensors: .*only 5 bytes.*truncated/);
    e = errorOf(() => decodeSafetensors(good.subarray(0, 8 + headerLen - 1), 'w.safetensors'));
    expect(e.message).toMatch(/header length \d+ runs past the end .*truncated/);
    e = errorOf(() => decodeSafetensors(good.subarray(0, good.length - 3), 'w.safetensors'));
    expect(e.message).toMatch(/tensor a ends at byte 8 but the data section has only 5 bytes \(truncated\)/);

    const huge = new Uint8Array(good);
    new DataView(huge.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES) + 1n, true);
    expect(errorOf(() => decodeSafetensors(huge)).message).toMatch(/header length 104857601 exceeds the 104857600-byte cap/);
    new DataView(huge.buffer).setBigUint64(0, 0xffffffffffffffffn, true);
    expect(errorOf(() => decodeSafetensors(huge)).message).toMatch(/exceeds/);
  });

  it('refuses headers that are not UTF-8 JSON objects', () => {
    expect(errorOf(() => decodeSafetensors(fileWith('{"a": {', 0))).message).toMatch(/header is not valid UTF-8 JSON/);
    expect(errorOf(() => decodeSafetensors(fileWith('', 0))).message).toMatch(/header is not valid UTF-8 JSON/);
    const latin1 = fileWith('{"\u00e9":1}', 0);
    latin1[10] = 0xe9; // a lone latin-1 byte instead of the UTF-8 pair
    expect(errorOf(() => decodeSafetensors(latin1)).message).toMatch(/not valid UTF-8/);
    expect(errorOf(() => decodeSafetensors(fileWith('[1,2]', 0))).message).toMatch(/header is not a JSON object/);
    expect(errorOf(() => decodeSafetensors(fileWith('{"a":[0]}', 0))).message).toMatch(/entry of tensor a is not an object/);
    expect(errorOf(() => decodeSafetensors(fileWith('{"__metadata__":{"v":1}}', 0))).message).toMatch(/__metadata__ must map names to strings/);
  });

  it('refuses unknown dtypes, bad shapes and bad offsets', () => {
    const entry = (e: string, data = 8) => decodeSafetensors(fileWith(`{"a":${e}}`, data), 'x.st');
    expect(errorOf(() => entry('{"dtype":"Q8","shape":[2],"data_offsets":[0,8]}')).message).toMatch(/tensor a has unknown dtype "Q8"/);
    // Names of Object.prototype members are not dtypes either.
    expect(errorOf(() => entry('{"dtype":"toString","shape":[2],"data_offsets":[0,8]}')).message).toMatch(/unknown dtype "toString"/);
    expect(errorOf(() => entry('{"shape":[2],"data_offsets":[0,8]}')).message).toMatch(/unknown dtype undefined/);
    expect(errorOf(() => entry('{"dtype":"F32","shape":[3],"data_offsets":[0,8]}')).message).toMatch(/data_offsets \[0, 8\) hold 8 bytes but shape \[3\] F32 needs 12/);
    expect(errorOf(() => entry('{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}')).message).toMatch(/not a non-negative integer/);
    expect(errorOf(() => entry('{"dtype":"F32","shape":"2","data_offsets":[0,8]}')).message).toMatch(/shape is not an array/);
    expect(errorOf(() => entry('{"dtype":"F32","shape":[2],"data_offsets":[8]}')).message).toMatch(/invalid data_offsets \[8\]/);
    expect(errorOf(() => entry('{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}')).message).toMatch(/invalid data_offsets/);
    expect(errorOf(() => entry('{"dtype":"F32","shape":[0],"data_offsets":[8,0]}')).message).toMatch(/hold -8 bytes/);
  });

  it('refuses offsets that overlap, leave gaps or do not cover the data section', () => {
    const two = (a: string, b: string, data: number) => decodeSafetensors(fileWith(`{"a":${a},"b":${b}}`, data));
    const f32 = (begin: number, n: number) => `{"dtype":"F32","shape":[${n}],"data_offsets":[${begin},${begin + 4 * n}]}`;
    expect(errorOf(() => two(f32(0, 2), f32(4, 1), 8)).message).toMatch(/tensor b overlaps another tensor/);
    expect(errorOf(() => two(f32(0, 2), f32(0, 2), 8)).message).toMatch(/overlaps/);
    expect(errorOf(() => two(f32(0, 1), f32(8, 1), 12)).message).toMatch(/gap before tensor b \(bytes 4-8 belong to no tensor\)/);
    expect(errorOf(() => two(f32(0, 1), f32(4, 1), 12)).message).toMatch(/data section has 12 bytes but the tensors cover 8/);
    expect(errorOf(() => decodeSafetensors(fileWith('{}', 1))).message).toMatch(/data section has 1 bytes but the tensors cover 0/);
    expect(() => two(f32(4, 1), f32(0, 1), 8)).not.toThrow();
  });

  it('refuses duplicate tensor names and duplicate entry keys', () => {
    const e = '{"dtype":"F32","shape":[1],"data_offsets":[0,4]}';
    expect(errorOf(() => decodeSafetensors(fileWith(`{"a":${e},"a":${e}}`, 4))).message).toMatch(/tensor name "a" appears twice/);
    expect(errorOf(() => decodeSafetensors(fileWith('{"a":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]}}', 4))).message).toMatch(
      /key "dtype" appears twice in the entry of a/,
    );
  });

  it('keeps a tensor named __proto__ as a tensor: header maps have no prototype to replace', async () => {
    const file = fileWith('{"__proto__":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}', 3);
    const d = decodeSafetensors(file);
    expect(Object.keys(d.tensors).sort()).toEqual(['__proto__', 'b']);
    expect([...d.tensors['__proto__']!.data]).toEqual([0, 1]);
    expect(Object.getPrototypeOf(d.tensors)).toBe(null);
    const loaded = safetensorsToTensors(d);
    expect(Object.keys(loaded).sort()).toEqual(['__proto__', 'b']);
    expect([...loaded['__proto__']!.dataSync()]).toEqual([0, 1]);
    // Written and read back, it survives too.
    const again = decodeSafetensors(await tensorsToSafetensors(loaded));
    expect(Object.keys(again.tensors).sort()).toEqual(['__proto__', 'b']);
    tf.dispose(Object.values(loaded));
  });

  it('finds repeated keys only where they are real keys', () => {
    expect(findDuplicateKey('{"a":"a","b":["a","a"],"c":{"a":1}}')).toBeUndefined();
    expect(findDuplicateKey('{"x\\"}":1,"x\\"}":2}')).toEqual({ key: 'x"}', path: [] });
    expect(findDuplicateKey('{"l":[{"k":1},{"k":2,"k":3}]}')).toEqual({ key: 'k', path: ['l', ''] });
    expect(findDuplicateKey('{"a":{"u":1},"b":{"u":2}}')).toBeUndefined();
    expect(findDuplicateKey('{"\\u0061":1,"a":2}')).toEqual({ key: 'a', path: [] });
  });
});

describe('16-bit floats and int64', () => {
  it('decodes F16 bit patterns exactly', () => {
    const bits = Uint16Array.from([0x3c00, 0xc000, 0x3555, 0x7bff, 0x0400, 0x0001, 0x03ff, 0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00]);
    const f = float16ToFloat32(bits);
    expect([...f.subarray(0, 7)]).toEqual([1, -2, 0.333251953125, 65504, 2 ** -14, 2 ** -24, 1023 * 2 ** -24]);
    expect(Object.is(f[7], 0)).toBe(true);
    expect(Object.is(f[8], -0)).toBe(true);
    expect(f[9]).toBe(Infinity);
    expect(f[10]).toBe(-Infinity);
    expect(f[11]).toBeNaN();
  });

  it('decodes BF16 bit patterns exactly', () => {
    const f = bfloat16ToFloat32(Uint16Array.from([0x3f80, 0x4049, 0xc2f7, 0x0001, 0x8000, 0xff80]));
    expect([...f.subarray(0, 4)]).toEqual([1, 3.140625, -123.5, Math.fround(2 ** -133)]);
    expect(Object.is(f[4], -0)).toBe(true);
    expect(f[5]).toBe(-Infinity);
  });

  it('loads F16, BF16, F64, I64 and small ints as float32/int32 tfjs tensors', () => {
    const start = tf.memory().numTensors;
    const bytes = encodeSafetensors({
      h: { dtype: 'F16', shape: [2, 1], data: Uint16Array.from([0x3c00, 0xb800]) },
      b: { dtype: 'BF16', shape: [1], data: Uint16Array.from([0x4049]) },
      d: { dtype: 'F64', shape: [1], data: Float64Array.from([0.1]) },
      l: { dtype: 'I64', shape: [2], data: BigInt64Array.from([2147483647n, -2147483648n]) },
      s: { dtype: 'I8', shape: [1], data: Int8Array.from([-5]) },
      m: { dtype: 'BOOL', shape: [2], data: Uint8Array.from([0, 7]) },
    });
    const t = safetensorsToTensors(decodeSafetensors(bytes));
    expect(t['h']!.dtype).toBe('float32');
    expect(t['h']!.shape).toEqual([2, 1]);
    expect([...t['h']!.dataSync()]).toEqual([1, -0.5]);
    expect([...t['b']!.dataSync()]).toEqual([3.140625]);
    expect([...t['d']!.dataSync()]).toEqual([Math.fround(0.1)]);
    expect(t['l']!.dtype).toBe('int32');
    expect([...t['l']!.dataSync()]).toEqual([2147483647, -2147483648]);
    expect([...t['s']!.dataSync()]).toEqual([-5]);
    expect(t['m']!.dtype).toBe('bool');
    expect([...t['m']!.dataSync()]).toEqual([0, 1]);
    tf.dispose(Object.values(t));
    expect(tf.memory().numTensors).toBe(start);
  });

  it('refuses int64 values outside int32 without leaking the tensors already made', () => {
    const start = tf.memory().numTensors;
    const decoded = decodeSafetensors(
      encodeSafetensors({
        // Same element size, so a is decoded first and must be disposed when z fails.
        a: { dtype: 'I64', shape: [1], data: BigInt64Array.from([1n]) },
        z: { dtype: 'I64', shape: [3], data: BigInt64Array.from([0n, 1n, 2n ** 31n]) },
      }),
      'big.safetensors',
    );
    const e = errorOf(() => safetensorsToTensors(decoded, 'big.safetensors'));
    expect(e.message).toBe('big.safetensors: tensor z: int64 value 2147483648 at index 2 does not fit in int32');
    expect(tf.memory().numTensors).toBe(start);
    expect(() => rawToTensor('n', { dtype: 'I64', shape: [1], data: BigInt64Array.from([-(2n ** 31n) - 1n]) })).toThrow(/does not fit/);
  });
});

describe('tfjs tensors', () => {
  it('round-trips float32, int32 and bool tensors, empty and scalar included, without leaks', async () => {
    const src = {
      w: tf.tensor2d([[1, 2], [3, 4.5]]),
      i: tf.tensor1d([5, -6], 'int32'),
      m: tf.tensor1d([true, false, true], 'bool'),
      e: tf.zeros([0, 3]),
      s: tf.scalar(3.25),
      si: tf.scalar(-7, 'int32'),
    };
    const start = tf.memory().numTensors;
    const bytes = await tensorsToSafetensors(src, { step: '3' });
    expect(tf.memory().numTensors).toBe(start);
    const decoded = decodeSafetensors(bytes);
    expect(decoded.metadata).toEqual({ step: '3' });
    expect(decoded.tensors['m']!.dtype).toBe('BOOL');
    const back = safetensorsToTensors(decoded);
    for (const [k, t] of Object.entries(src)) {
      expect(back[k]!.shape).toEqual(t.shape);
      expect(back[k]!.dtype).toBe(t.dtype);
      expect([...back[k]!.dataSync()]).toEqual([...t.dataSync()]);
    }
    tf.dispose(Object.values(back));
    expect(tf.memory().numTensors).toBe(start);
    tf.dispose(Object.values(src));
  });

  it('refuses dtypes it cannot store and disposed tensors', async () => {
    const c = tf.tensor(['a', 'b']);
    await expect(tensorsToSafetensors({ c }, undefined, 'c.safetensors')).rejects.toThrow(/c\.safetensors: tensor c has dtype string/);
    c.dispose();
    await expect(tensorsToSafetensors({ c })).rejects.toThrow(/tensor c was disposed/);
  });
});
