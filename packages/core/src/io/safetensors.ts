/**
 * The safetensors format, read and written by hand (no maintained npm
 * package exists): 8-byte little-endian header length N, N bytes of JSON
 * {name: {dtype, shape, data_offsets: [begin, end)}, __metadata__?}, then the
 * raw little-endian row-major data. The reader validates everything it can,
 * since checkpoints come from disk and from other tools.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError } from '../errors.js';

export type StDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I32' | 'I64' | 'I16' | 'I8' | 'U8' | 'BOOL';
export type RawTensor = { dtype: StDtype; shape: number[]; data: Float32Array | Int32Array | Uint8Array | Float64Array | Int16Array | Int8Array | BigInt64Array | Uint16Array };

const BYTES: Record<StDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I32: 4, I64: 8, I16: 2, I8: 1, U8: 1, BOOL: 1 };
/** Headers beyond this are refused: a corrupt length field must not make us allocate gigabytes. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const isLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function encodeSafetensors(tensors: Record<string, RawTensor>, metadata?: Record<string, string>): Uint8Array {
  if (!isLittleEndian) throw new CheckpointError('<memory>', 'big-endian hosts are not supported');
  const header: Record<string, unknown> = {};
  if (metadata) header['__metadata__'] = metadata;
  let offset = 0;
  const names = Object.keys(tensors).sort();
  for (const name of names) {
    const t = tensors[name]!;
    const n = t.shape.reduce((a, b) => a * b, 1);
    const bytes = n * BYTES[t.dtype];
    if (t.data.byteLength !== bytes) {
      throw new CheckpointError('<memory>', `tensor ${name}: ${t.data.byteLength} bytes of data for shape [${t.shape}] ${t.dtype} (expected ${bytes})`);
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const name of names) {
    const d = tensors[name]!.data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
    pos += d.byteLength;
  }
  return out;
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

export interface DecodedSafetensors {
  tensors: Record<string, RawTensor>;
  metadata: Record<string, string>;
}

export function decodeSafetensors(bytes: Uint8Array, file = '<memory>'): DecodedSafetensors {
  const fail = (why: string): never => {
    throw new CheckpointError(file, `not a valid safetensors file: ${why}`);
  };
  if (bytes.length < 8) fail(`only ${bytes.length} bytes (truncated)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte cap`);
  const n = Number(n64);
  if (8 + n > bytes.length) fail(`header length ${n} runs past the end of the ${bytes.length}-byte file (truncated)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (err) {
    return fail(`header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const metadata = (header['__metadata__'] ?? {}) as Record<string, string>;
  const spans: [number, number, string][] = [];
  const tensors: Record<string, RawTensor> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = raw as { dtype?: string; shape?: unknown; data_offsets?: unknown };
    if (!e || typeof e !== 'object') fail(`entry ${name} is not an object`);
    const dtype = e.dtype as StDtype;
    if (!(dtype in BYTES)) fail(`tensor ${name} has unknown dtype ${JSON.stringify(e.dtype)}`);
    const shape = e.shape;
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) fail(`tensor ${name} has an invalid shape`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || offs.some((o) => !Number.isInteger(o) || o < 0)) fail(`tensor ${name} has invalid data_offsets`);
    const [b, en] = offs as [number, number];
    const size = (shape as number[]).reduce((a, c) => a * c, 1) * BYTES[dtype];
    if (en < b || en - b !== size) fail(`tensor ${name}: data_offsets [${b}, ${en}) hold ${en - b} bytes but shape [${shape}] ${dtype} needs ${size}`);
    if (en > dataLen) fail(`tensor ${name} ends at byte ${en} but the data section has ${dataLen} bytes (truncated)`);
    spans.push([b, en, name]);
    // Copy into a fresh buffer: a Node Buffer's .slice is a view into a shared pool.
    const slice = new Uint8Array(en - b);
    slice.set(bytes.subarray(dataStart + b, dataStart + en));
    tensors[name] = { dtype, shape: shape as number[], data: typed(dtype, slice.buffer) };
  }
  spans.sort((a, c) => a[0] - c[0]);
  let cursor = 0;
  for (const [b, e, name] of spans) {
    if (b !== cursor) fail(b < cursor ? `tensor ${name} overlaps another tensor` : `gap before tensor ${name} (bytes ${cursor}-${b} belong to no tensor)`);
    cursor = e;
  }
  if (cursor !== dataLen) fail(`data section has ${dataLen} bytes but tensors cover ${cursor}`);
  return { tensors, metadata };
}

function typed(dtype: StDtype, buf: ArrayBuffer): RawTensor['data'] {
  switch (dtype) {
    case 'F32':
      return new Float32Array(buf);
    case 'F64':
      return new Float64Array(buf);
    case 'I32':
      return new Int32Array(buf);
    case 'I64':
      return new BigInt64Array(buf);
    case 'I16':
      return new Int16Array(buf);
    case 'I8':
      return new Int8Array(buf);
    case 'F16':
    case 'BF16':
      return new Uint16Array(buf);
    default:
      return new Uint8Array(buf);
  }
}

/** Converts a decoded tensor to a tfjs tensor (float32, int32 or bool), widening/narrowing with checks. */
export function rawToTensor(name: string, t: RawTensor, file = '<memory>'): tf.Tensor {
  const d = t.data;
  switch (t.dtype) {
    case 'F32':
      return tf.tensor(d as Float32Array, t.shape, 'float32');
    case 'F64':
      return tf.tensor(Float32Array.from(d as Float64Array), t.shape, 'float32');
    case 'F16':
      return tf.tensor(Float32Array.from(d as Uint16Array, f16ToF32), t.shape, 'float32');
    case 'BF16':
      return tf.tensor(Float32Array.from(d as Uint16Array, (h) => new Float32Array(new Uint32Array([h << 16]).buffer)[0]!), t.shape, 'float32');
    case 'I32':
      return tf.tensor(d as Int32Array, t.shape, 'int32');
    case 'I64': {
      const out = new Int32Array(d.length);
      (d as BigInt64Array).forEach((v, i) => {
        if (v > 2147483647n || v < -2147483648n) throw new CheckpointError(file, `tensor ${name}: int64 value ${v} does not fit int32`);
        out[i] = Number(v);
      });
      return tf.tensor(out, t.shape, 'int32');
    }
    case 'BOOL':
      return tf.tensor(d as Uint8Array, t.shape, 'bool');
    default:
      return tf.tensor(Int32Array.from(d as Int16Array | Int8Array | Uint8Array), t.shape, 'int32');
  }
}

/** tfjs tensors -> safetensors bytes (float32 -> F32, int32 -> I32, bool -> BOOL). */
export async function tensorsToSafetensors(tensors: Record<string, tf.Tensor>, metadata?: Record<string, string>): Promise<Uint8Array> {
  const raw: Record<string, RawTensor> = {};
  for (const [name, t] of Object.entries(tensors)) {
    const data = await t.data();
    if (t.dtype === 'float32') raw[name] = { dtype: 'F32', shape: t.shape, data: data as Float32Array };
    else if (t.dtype === 'int32') raw[name] = { dtype: 'I32', shape: t.shape, data: data as Int32Array };
    else if (t.dtype === 'bool') raw[name] = { dtype: 'BOOL', shape: t.shape, data: Uint8Array.from(data as Uint8Array) };
    else throw new CheckpointError('<memory>', `tensor ${name} has dtype ${t.dtype}, which safetensors checkpoints do not store`);
  }
  return encodeSafetensors(raw, metadata);
}

export function safetensorsToTensors(decoded: DecodedSafetensors, file = '<memory>'): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  try {
    for (const [name, t] of Object.entries(decoded.tensors)) out[name] = rawToTensor(name, t, file);
  } catch (err) {
    tf.dispose(Object.values(out));
    throw err;
  }
  return out;
}
