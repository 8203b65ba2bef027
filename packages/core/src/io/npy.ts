/**
 * NumPy's .npy format (version 1.0), written by hand: the magic `\x93NUMPY`, version 1.0, a
 * little-endian uint16 header length, an ASCII Python dict {descr, fortran_order, shape} padded
 * with spaces and a newline so the data starts at a multiple of 64 bytes, then the raw
 * little-endian row-major data. `numpy.load` reads it as is.
 */
import { ShapeError } from '../errors.js';

const DESCR = new Map<Function, string>([
  [Float32Array, '<f4'],
  [Float64Array, '<f8'],
  [Int32Array, '<i4'],
  [Uint8Array, '|u1'],
]);

export type NpyData = Float32Array | Float64Array | Int32Array | Uint8Array;

export function encodeNpy(data: NpyData, shape: readonly number[]): Uint8Array {
  const descr = DESCR.get(data.constructor);
  if (!descr) throw new ShapeError(`encodeNpy: ${data.constructor.name} has no .npy dtype (Float32Array, Float64Array, Int32Array, Uint8Array)`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (shape.some((d) => !Number.isInteger(d) || d < 0) || count !== data.length) {
    throw new ShapeError(`encodeNpy: shape [${shape}] does not hold ${data.length} values`);
  }
  // A 1-tuple needs its trailing comma in Python: (5,)
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${tuple}, }`;
  const unpadded = 10 + dict.length + 1;
  const header = dict + ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, ...Buffer.from('NUMPY', 'latin1'), 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(Buffer.from(header, 'latin1'), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}
