/** IDX files (MNIST, Fashion-MNIST), gzipped or not. */
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DataError } from '@d2v/core';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const UBYTE = 0x08;

export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  let buf = bytes;
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf);
    } catch (err) {
      throw new DataError(file, `corrupt gzip stream (${(err as Error).message})`);
    }
  }
  if (buf.length < 4) throw new DataError(file, `not an IDX file: only ${buf.length} bytes`);
  if (buf[0] !== 0 || buf[1] !== 0) throw new DataError(file, `not an IDX file (magic ${[...buf.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ')})`);
  if (buf[2] !== UBYTE) throw new DataError(file, `IDX element type 0x${buf[2]!.toString(16)} is not supported (only unsigned bytes, 0x08)`);
  const rank = buf[3]!;
  if (rank < 1 || rank > 4) throw new DataError(file, `IDX rank ${rank} is not supported`);
  const head = 4 + 4 * rank;
  if (buf.length < head) throw new DataError(file, 'truncated IDX header');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  if (buf.length - head < count) {
    throw new DataError(file, `truncated: header says ${dims.join('x')} (${count} bytes) but only ${buf.length - head} bytes of data follow`);
  }
  return { dims, data: buf.subarray(head, head + count) };
}

export function readIdx(file: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new DataError(file, `cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseIdx(bytes, file);
}

export function writeIdx(file: string, dims: number[], data: Uint8Array, gzip = file.endsWith('.gz')): void {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = UBYTE;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  const raw = Buffer.concat([head, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
  writeFileSync(file, gzip ? gzipSync(raw, { level: 9 }) : raw);
}

export interface IdxDataset {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
  channels: 1;
}

export function loadIdxDataset(imagesFile: string, labelsFile: string): IdxDataset {
  const img = readIdx(imagesFile);
  const lab = readIdx(labelsFile);
  if (img.dims.length !== 3) throw new DataError(imagesFile, `expected a rank-3 image array [N, H, W], got [${img.dims}]`);
  if (lab.dims.length !== 1) throw new DataError(labelsFile, `expected a rank-1 label array [N], got [${lab.dims}]`);
  if (img.dims[0] !== lab.dims[0]) throw new DataError(labelsFile, `has ${lab.dims[0]} labels but ${imagesFile} has ${img.dims[0]} images`);
  return { images: img.data, labels: lab.data, count: img.dims[0]!, height: img.dims[1]!, width: img.dims[2]!, channels: 1 };
}
