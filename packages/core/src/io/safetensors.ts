/**
 * The safetensors format, read and written by hand: an 8-byte little-endian
 * header length N, N bytes of UTF-8 JSON {name: {dtype, shape, data_offsets:
 * [begin, end)}, __metadata__?: {string: string}} padded with spaces to a
 * multiple of 8, then the raw little-endian row-major data. The reader checks
 * everything it can, since files come from disk and from other tools.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError } from '../errors.js';
import { bfloat16ToFloat32, float16ToFloat32 } from './half.js';
import { findDuplicateKey } from './jsonKeys.js';

/** Stored dtypes. F16 and BF16 data are kept as their raw 16-bit patterns. */
export type StDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';
export type StData = Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;
export interface RawTensor {
  dtype: StDtype;
  shape: number[];
  data: StData;
}
export interface DecodedSafetensors {
  tensors: Record<string, RawTensor>;
  metadata: Record<string, string>;
}

type StArrayClass = { new (length: number): StData; readonly BYTES_PER_ELEMENT: number; readonly name: string };
const ARRAY: Record<StDtype, StArrayClass> = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I64: BigInt64Array,
  I32: Int32Array,
  I16: Int16Array,
  I8: Int8Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
};
const isDtype = (d: unknown): d is StDtype => typeof d === 'string' && Object.hasOwn(ARRAY, d);
const bytesOf = (d: StDtype) => ARRAY[d].BYTES_PER_ELEMENT;

/** Headers beyond this are refused: a corrupt length field must not make us allocate gigabytes. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const METADATA_KEY = '__metadata__';
const isLittleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Element count of a shape, or a description of what is wrong with it. */
function numelOf(shape: unknown): number | string {
  if (!Array.isArray(shape)) return 'shape is not an array';
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) return `shape ${JSON.stringify(shape)} has a dimension that is not a non-negative integer`;
    n *= d;
  }
  if (!Number.isSafeInteger(n)) return `shape ${JSON.stringify(shape)} is too large`;
  return n;
}

/** Encodes tensors; data is laid out largest element size first (then by name) so every tensor is aligned. */
export function encodeSafetensors(tensors: Record<string, RawTensor>, metadata?: Record<string, string>, file = '<memory>'): Uint8Array {
  const fail = (why: string): never => {
    throw new CheckpointError(file, `cannot encode safetensors: ${why}`);
  };
  if (!isLittleEndianHost) fail('big-endian hosts are not supported');
  // Null-prototype maps: a tensor may be named `__proto__` (a plain object would take it as its prototype).
  const header: Record<string, unknown> = Object.create(null);
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') fail(`metadata ${k} is not a string`);
    header[METADATA_KEY] = metadata;
  }
  const names = Object.keys(tensors);
  if (names.includes(METADATA_KEY)) fail(`${METADATA_KEY} is reserved and cannot name a tensor`);
  for (const name of names) {
    const t = tensors[name]!;
    if (!isDtype(t.dtype)) fail(`tensor ${name} has unknown dtype ${JSON.stringify(t.dtype)}`);
    const n = numelOf(t.shape);
    if (typeof n === 'string') return fail(`tensor ${name}: ${n}`);
    const want = ARRAY[t.dtype];
    if (!(t.data instanceof want)) fail(`tensor ${name}: ${t.dtype} data must be a ${want.name}, got ${t.data?.constructor?.name}`);
    if (t.data.length !== n) fail(`tensor ${name}: ${t.data.length} elements of data for shape [${t.shape}]`);
  }
  names.sort((a, b) => bytesOf(tensors[b]!.dtype) - bytesOf(tensors[a]!.dtype) || (a < b ? -1 : a > b ? 1 : 0));
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let pos = 8 + headerLen;
  for (const name of names) {
    const d = tensors[name]!.data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
    pos += d.byteLength;
  }
  return out;
}

/** Decodes and validates a safetensors file; `file` names it in errors. Tensor data is copied out of `bytes`. */
export function decodeSafetensors(bytes: Uint8Array, file = '<memory>'): DecodedSafetensors {
  const fail = (why: string): never => {
    throw new CheckpointError(file, `not a valid safetensors file: ${why}`);
  };
  if (bytes.length < 8) fail(`only ${bytes.length} bytes, less than the 8-byte header length (truncated)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte cap`);
  const n = Number(n64);
  if (8 + n > bytes.length) fail(`header length ${n} runs past the end of the ${bytes.length}-byte file (truncated)`);

  let text: string;
  let header: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
    header = JSON.parse(text);
  } catch (err) {
    return fail(`header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) return fail('header is not a JSON object');
  const dup = findDuplicateKey(text);
  if (dup) fail(dup.path.length === 0 ? `tensor name ${JSON.stringify(dup.key)} appears twice` : `key ${JSON.stringify(dup.key)} appears twice in the entry of ${dup.path[0]}`);

  const entries = header as Record<string, unknown>;
  const metadata = entries[METADATA_KEY] ?? {};
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata) || Object.values(metadata).some((v) => typeof v !== 'string')) {
    fail(`${METADATA_KEY} must map names to strings`);
  }

  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const spans: { begin: number; end: number; name: string; dtype: StDtype; shape: number[]; numel: number }[] = [];
  for (const [name, e] of Object.entries(entries)) {
    if (name === METADATA_KEY) continue;
    if (e === null || typeof e !== 'object' || Array.isArray(e)) return fail(`entry of tensor ${name} is not an object`);
    const { dtype, shape, data_offsets: offs } = e as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!isDtype(dtype)) return fail(`tensor ${name} has unknown dtype ${JSON.stringify(dtype)}`);
    const numel = numelOf(shape);
    if (typeof numel === 'string') return fail(`tensor ${name}: ${numel}`);
    if (!Array.isArray(offs) || offs.length !== 2 || offs.some((o) => !Number.isSafeInteger(o) || o < 0)) {
      return fail(`tensor ${name} has invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    const size = numel * bytesOf(dtype);
    if (end < begin || end - begin !== size) {
      fail(`tensor ${name}: data_offsets [${begin}, ${end}) hold ${end - begin} bytes but shape [${shape}] ${dtype} needs ${size}`);
    }
    if (end > dataLen) fail(`tensor ${name} ends at byte ${end} but the data section has only ${dataLen} bytes (truncated)`);
    spans.push({ begin, end, name, dtype, shape: shape as number[], numel });
  }

  // The tensors must tile the data section exactly: no overlaps, no gaps, no trailing bytes.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const s of spans) {
    if (s.begin < cursor) fail(`tensor ${s.name} overlaps another tensor (bytes ${s.begin}-${cursor})`);
    if (s.begin > cursor) fail(`gap before tensor ${s.name} (bytes ${cursor}-${s.begin} belong to no tensor)`);
    cursor = s.end;
  }
  if (cursor !== dataLen) fail(`data section has ${dataLen} bytes but the tensors cover ${cursor}`);

  const tensors: Record<string, RawTensor> = Object.create(null);
  for (const s of spans) {
    // A copy, not a view: offsets need not be aligned, and a Node Buffer may share a pooled ArrayBuffer.
    const data = new ARRAY[s.dtype](s.numel);
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart + s.begin, dataStart + s.end));
    tensors[s.name] = { dtype: s.dtype, shape: s.shape, data };
  }
  return { tensors, metadata: metadata as Record<string, string> };
}

/**
 * A decoded tensor as a tfjs tensor: floats become float32 (F64 loses
 * precision), integers int32 (I64 values outside int32 are refused), BOOL bool.
 */
export function rawToTensor(name: string, t: RawTensor, file = '<memory>'): tf.Tensor {
  switch (t.dtype) {
    case 'F32':
      return tf.tensor(t.data as Float32Array, t.shape, 'float32');
    case 'F64':
      return tf.tensor(Float32Array.from(t.data as Float64Array), t.shape, 'float32');
    case 'F16':
      return tf.tensor(float16ToFloat32(t.data as Uint16Array), t.shape, 'float32');
    case 'BF16':
      return tf.tensor(bfloat16ToFloat32(t.data as Uint16Array), t.shape, 'float32');
    case 'I32':
      return tf.tensor(t.data as Int32Array, t.shape, 'int32');
    case 'I64': {
      const src = t.data as BigInt64Array;
      const out = new Int32Array(src.length);
      for (let i = 0; i < src.length; i++) {
        const v = src[i]!;
        if (v > 2147483647n || v < -2147483648n) throw new CheckpointError(file, `tensor ${name}: int64 value ${v} at index ${i} does not fit in int32`);
        out[i] = Number(v);
      }
      return tf.tensor(out, t.shape, 'int32');
    }
    case 'BOOL':
      // Any non-zero byte is true; tfjs expects exactly 0/1.
      return tf.tensor(Uint8Array.from(t.data as Uint8Array, (v) => (v ? 1 : 0)), t.shape, 'bool');
    case 'I16':
    case 'I8':
    case 'U8':
      return tf.tensor(Int32Array.from(t.data as Int16Array | Int8Array | Uint8Array), t.shape, 'int32');
  }
}

/** Decoded tensors as tfjs tensors; on error nothing is left allocated. */
export function safetensorsToTensors(decoded: DecodedSafetensors, file = '<memory>'): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = Object.create(null);
  try {
    for (const [name, t] of Object.entries(decoded.tensors)) out[name] = rawToTensor(name, t, file);
  } catch (err) {
    tf.dispose(Object.values(out));
    throw err;
  }
  return out;
}

/** Backends return their own typed arrays; convert only when the class differs (no copy of large weights). */
function asClass<T extends Float32Array | Int32Array | Uint8Array>(cls: new (a: ArrayLike<number>) => T, d: unknown): T {
  return d instanceof cls ? d : new cls(d as ArrayLike<number>);
}

/**
 * tfjs tensors -> safetensors bytes (float32 -> F32, int32 -> I32, bool -> BOOL). The tensors are
 * not disposed. With `finiteOnly`, a float tensor holding NaN or Infinity is an error (checkpoints).
 */
export async function tensorsToSafetensors(
  tensors: Record<string, tf.Tensor>,
  metadata?: Record<string, string>,
  file = '<memory>',
  opts: { finiteOnly?: boolean } = {},
): Promise<Uint8Array> {
  const raw: Record<string, RawTensor> = Object.create(null);
  for (const [name, t] of Object.entries(tensors)) {
    if (t.isDisposed) throw new CheckpointError(file, `tensor ${name} was disposed before it could be saved`);
    const shape = [...t.shape];
    if (t.dtype === 'float32') {
      const data = asClass(Float32Array, await t.data());
      if (opts.finiteOnly) {
        const bad = countNonFinite(data);
        if (bad > 0) throw new CheckpointError(file, `tensor ${name} holds ${bad} NaN/Infinity value(s); a checkpoint never stores non-finite values, so it was not written`);
      }
      raw[name] = { dtype: 'F32', shape, data };
    } else if (t.dtype === 'int32') raw[name] = { dtype: 'I32', shape, data: asClass(Int32Array, await t.data()) };
    else if (t.dtype === 'bool') raw[name] = { dtype: 'BOOL', shape, data: asClass(Uint8Array, await t.data()) };
    else throw new CheckpointError(file, `tensor ${name} has dtype ${t.dtype}, which safetensors checkpoints do not store`);
  }
  return encodeSafetensors(raw, metadata, file);
}

/** How many values of `data` are NaN or +-Infinity. */
export function countNonFinite(data: Float32Array): number {
  let n = 0;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) n++;
  return n;
}
