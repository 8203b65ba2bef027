/**
 * IDX files (the MNIST / Fashion-MNIST container), gzipped or not: a 4-byte
 * magic (0, 0, element type, rank), `rank` big-endian uint32 dimensions, then
 * the elements in row-major order, big-endian.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DataError, ShapeError } from '@d2v/core';

export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  dims: number[];
  dtype: IdxDtype;
  data: IdxData;
}

interface DtypeInfo {
  code: number;
  dtype: IdxDtype;
  bytes: number;
  read: (v: DataView, offset: number) => number;
}

const DTYPES: DtypeInfo[] = [
  { code: 0x08, dtype: 'uint8', bytes: 1, read: (v, o) => v.getUint8(o) },
  { code: 0x09, dtype: 'int8', bytes: 1, read: (v, o) => v.getInt8(o) },
  { code: 0x0b, dtype: 'int16', bytes: 2, read: (v, o) => v.getInt16(o, false) },
  { code: 0x0c, dtype: 'int32', bytes: 4, read: (v, o) => v.getInt32(o, false) },
  { code: 0x0d, dtype: 'float32', bytes: 4, read: (v, o) => v.getFloat32(o, false) },
  { code: 0x0e, dtype: 'float64', bytes: 8, read: (v, o) => v.getFloat64(o, false) },
];

const ALLOC: Record<IdxDtype, (n: number) => IdxData> = {
  uint8: (n) => new Uint8Array(n),
  int8: (n) => new Int8Array(n),
  int16: (n) => new Int16Array(n),
  int32: (n) => new Int32Array(n),
  float32: (n) => new Float32Array(n),
  float64: (n) => new Float64Array(n),
};

const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Parses IDX bytes (gzipped or not); `file` only names the source in errors. */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  let buf = bytes;
  if (isGzip(buf)) {
    try {
      buf = gunzipSync(buf);
    } catch (err) {
      throw new DataError(file, `corrupt gzip stream, damaged or truncated (${(err as Error).message})`, { cause: err });
    }
  }
  if (buf.length < 4) throw new DataError(file, `not an IDX file: only ${buf.length} bytes`);
  const magic = buf.subarray(0, 4);
  if (buf[0] !== 0 || buf[1] !== 0) {
    throw new DataError(file, `not an IDX file (magic ${hex(magic)}, expected 00 00 <type> <rank>)`);
  }
  const info = DTYPES.find((d) => d.code === buf[2]);
  if (!info) {
    throw new DataError(file, `not an IDX file: unknown element type 0x${buf[2]!.toString(16).padStart(2, '0')} (magic ${hex(magic)})`);
  }
  const rank = buf[3]!;
  if (rank < 1) throw new DataError(file, 'IDX rank 0 is not supported');
  const head = 4 + 4 * rank;
  if (buf.length < head) throw new DataError(file, `truncated: rank-${rank} header needs ${head} bytes but the file has ${buf.length}`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const need = count * info.bytes;
  const have = buf.length - head;
  const shape = dims.join('x');
  if (have < need) throw new DataError(file, `truncated: header says ${shape} ${info.dtype} (${need} bytes) but only ${have} bytes follow`);
  // Extra bytes mean the header does not describe the file: refuse rather than guess.
  if (have > need) throw new DataError(file, `header says ${shape} ${info.dtype} (${need} bytes) but ${have} bytes follow`);
  if (info.dtype === 'uint8') return { dims, dtype: 'uint8', data: buf.subarray(head) };
  const data = ALLOC[info.dtype](count);
  for (let i = 0; i < count; i++) data[i] = info.read(view, head + i * info.bytes);
  return { dims, dtype: info.dtype, data };
}

export function readIdx(file: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new DataError(file, `cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
  return parseIdx(bytes, file);
}

function dtypeOf(data: IdxData): DtypeInfo {
  const name: IdxDtype =
    data instanceof Uint8Array ? 'uint8'
    : data instanceof Int8Array ? 'int8'
    : data instanceof Int16Array ? 'int16'
    : data instanceof Int32Array ? 'int32'
    : data instanceof Float32Array ? 'float32'
    : 'float64';
  return DTYPES.find((d) => d.dtype === name)!;
}

/** IDX bytes (not gzipped) of an array; the element type follows the typed array. */
export function encodeIdx(dims: number[], data: IdxData): Uint8Array {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new ShapeError(`IDX dims [${dims}] hold ${count} elements but the data has ${data.length}`);
  if (dims.length < 1 || dims.length > 255) throw new ShapeError(`IDX rank must be 1..255, got ${dims.length}`);
  const info = dtypeOf(data);
  const head = 4 + 4 * dims.length;
  const out = new Uint8Array(head + count * info.bytes);
  const view = new DataView(out.buffer);
  out[2] = info.code;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  if (info.dtype === 'uint8') {
    out.set(data as Uint8Array, head);
    return out;
  }
  for (let i = 0; i < count; i++) {
    const o = head + i * info.bytes;
    const v = data[i]!;
    if (info.dtype === 'int8') view.setInt8(o, v);
    else if (info.dtype === 'int16') view.setInt16(o, v, false);
    else if (info.dtype === 'int32') view.setInt32(o, v, false);
    else if (info.dtype === 'float32') view.setFloat32(o, v, false);
    else view.setFloat64(o, v, false);
  }
  return out;
}

/** Writes an IDX file, gzipped (level 9, deterministic bytes) when the name ends in .gz. */
export function writeIdx(file: string, dims: number[], data: IdxData, gzip = file.endsWith('.gz')): void {
  const raw = encodeIdx(dims, data);
  writeFileSync(file, gzip ? gzipSync(raw, { level: 9 }) : raw);
}

export interface IdxDataset {
  /** [count, height, width] grey pixels, row-major. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
  channels: 1;
  /** Class names from a `classes.txt` (one per line) next to the labels file, if there is one. */
  classes?: string[];
}

/** Reads the optional `classes.txt` beside an IDX labels file. */
function readClassNames(labelsFile: string, labels: Uint8Array): string[] | undefined {
  const file = join(dirname(labelsFile), 'classes.txt');
  if (!existsSync(file)) return undefined;
  const names = readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const maxLabel = labels.reduce((m, l) => Math.max(m, l), 0);
  if (names.length <= maxLabel) throw new DataError(file, `lists ${names.length} class names but ${labelsFile} uses label ${maxLabel}`);
  return names;
}

/** An image IDX file [N, H, W] and its label IDX file [N], both unsigned bytes. */
export function loadIdxDataset(imagesFile: string, labelsFile: string): IdxDataset {
  const img = readIdx(imagesFile);
  const lab = readIdx(labelsFile);
  if (img.dtype !== 'uint8') throw new DataError(imagesFile, `images must be unsigned bytes (IDX type 0x08), got ${img.dtype}`);
  if (lab.dtype !== 'uint8') throw new DataError(labelsFile, `labels must be unsigned bytes (IDX type 0x08), got ${lab.dtype}`);
  if (img.dims.length !== 3) throw new DataError(imagesFile, `expected a rank-3 image array [N, H, W], got [${img.dims.join(', ')}]`);
  if (lab.dims.length !== 1) throw new DataError(labelsFile, `expected a rank-1 label array [N], got [${lab.dims.join(', ')}]`);
  const [count, height, width] = img.dims as [number, number, number];
  if (count === 0 || height === 0 || width === 0) throw new DataError(imagesFile, `holds no images (${img.dims.join('x')})`);
  if (lab.dims[0] !== count) throw new DataError(labelsFile, `has ${lab.dims[0]} labels but ${imagesFile} has ${count} images`);
  const labels = lab.data as Uint8Array;
  const classes = readClassNames(labelsFile, labels);
  return { images: img.data as Uint8Array, labels, count, height, width, channels: 1, ...(classes ? { classes } : {}) };
}
