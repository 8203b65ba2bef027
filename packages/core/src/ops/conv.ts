/**
 * Convolutions as matMuls, built to train fast on tfjs-wasm (whose convolution gradients are slow
 * loops and which has no grouped convolution): "im2col" puts each output step's input window in
 * one row, so a convolution is one 2-D (or, per group, one batched) matMul whose gradients are
 * matMuls too. Used by the speech feature encoder and positional convolution, and by the
 * data2vec 2.0 decoder (1-D over time, 2-D over image patches).
 *
 * im2col needs no gather: reshaping x [B, L, C] to [B, L/s, s*C] puts s consecutive frames in one
 * row, so an output frame's window is whole rows j..j+q-1 plus the first (k mod s) frames of row
 * j+q, i.e. q+1 slices.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors.js';

/** Output frames of a 'valid' convolution: floor((L - k) / s) + 1, or 0 when L < k. */
export function convOutputLength(length: number, kernel: number, stride: number): number {
  return length < kernel ? 0 : Math.floor((length - kernel) / stride) + 1;
}

interface Geometry {
  /** Output frames. */
  T: number;
  /** Whole rows of s frames per window, and the frames left over. */
  q: number;
  rem: number;
  /** Rows of s frames the columns read. */
  rows: number;
}

function geometry(L: number, k: number, s: number): Geometry {
  const T = convOutputLength(L, k, s);
  const q = Math.floor(k / s);
  const rem = k % s;
  return { T, q, rem, rows: T + q - (rem === 0 ? 1 : 0) };
}

/** Input frames [B, L, C] -> columns [B*T, k*C], column index tap*C + c. */
export function im2col(x: tf.Tensor3D, kernel: number, stride: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [b, L, c] = x.shape;
    const { T, q, rem, rows } = geometry(L, kernel, stride);
    if (T === 0) throw new ShapeError(`conv1d: input of ${L} frames is shorter than the kernel (${kernel})`);
    const need = rows * stride;
    const xs = need > L ? tf.pad(x, [[0, 0], [0, need - L], [0, 0]]) : need < L ? tf.slice(x, [0, 0, 0], [b, need, c]) : x;
    const r = tf.reshape(xs, [b, rows, stride * c]);
    const parts: tf.Tensor[] = [];
    for (let j = 0; j < q; j++) parts.push(tf.slice(r, [0, j, 0], [b, T, stride * c]));
    if (rem > 0) parts.push(tf.slice(r, [0, q, 0], [b, T, rem * c]));
    const cols = parts.length === 1 ? parts[0]! : tf.concat(parts, 2);
    return tf.reshape(cols, [b * T, kernel * c]) as tf.Tensor2D;
  });
}

/** The adjoint of im2col: column gradients [B*T, k*C] summed back onto the L input frames. */
export function col2im(cols: tf.Tensor2D, batch: number, length: number, channels: number, kernel: number, stride: number): tf.Tensor3D {
  return tf.tidy(() => {
    const { T, q, rem, rows } = geometry(length, kernel, stride);
    const row = stride * channels;
    const d = tf.reshape(cols, [batch, T, kernel * channels]);
    let acc: tf.Tensor | undefined;
    for (let j = 0; j <= q; j++) {
      const width = j < q ? row : rem * channels;
      if (width === 0) continue;
      const part = tf.slice(d, [0, 0, j * row], [batch, T, width]);
      const placed = tf.pad(part, [[0, 0], [j, rows - T - j], [0, row - width]]);
      acc = acc ? tf.add(acc, placed) : placed;
    }
    const frames = tf.reshape(acc!, [batch, rows * stride, channels]);
    // Frames past the last window get no gradient; frames beyond L were padding.
    if (rows * stride >= length) return tf.slice(frames, [0, 0, 0], [batch, length, channels]) as tf.Tensor3D;
    return tf.pad(frames, [[0, 0], [0, length - rows * stride], [0, 0]]) as tf.Tensor3D;
  });
}

/** [B, H, W, C] -> [G, B*H*W, C/G]: each group's channels as one matrix (no tensor above rank 3). */
function splitGroups(x: tf.Tensor, g: number): tf.Tensor3D {
  const c = x.shape.at(-1)!;
  const rows = x.size / c;
  return (g === 1 ? tf.reshape(x, [1, rows, c]) : tf.transpose(tf.reshape(x, [rows, g, c / g]), [1, 0, 2])) as tf.Tensor3D;
}

/** Per cell and tap: the cell read by `gather` (padding: N, an appended zero row) and by `scatter` (padding: -1, dropped). */
interface TapIndex {
  gather: Int32Array;
  scatter: Int32Array;
}

const tapCache = new Map<string, TapIndex>();

/**
 * For every cell of B grids of h x w and every kernel tap (dy, dx), the cell the tap reads, or -1
 * where it falls in the zero padding. Cached per shape (plain memory, no tensors).
 */
function tapIndex(grids: number, h: number, w: number, kh: number, kw: number): TapIndex {
  const key = `${grids}|${h}|${w}|${kh}|${kw}`;
  const cached = tapCache.get(key);
  if (cached) return cached;
  // 'same' padding; for even kernels the extra tap is after (fairseq's SamePad).
  const top = Math.floor(kh / 2);
  const left = Math.floor(kw / 2);
  const idx = new Int32Array(grids * h * w * kh * kw);
  let o = 0;
  for (let n = 0; n < grids; n++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let dy = 0; dy < kh; dy++)
          for (let dx = 0; dx < kw; dx++) {
            const yy = y + dy - top;
            const xx = x + dx - left;
            idx[o++] = yy >= 0 && yy < h && xx >= 0 && xx < w ? (n * h + yy) * w + xx : -1;
          }
  const cells = grids * h * w;
  const entry = { gather: idx.map((i) => (i < 0 ? cells : i)), scatter: idx };
  if (tapCache.size > 64) tapCache.clear();
  tapCache.set(key, entry);
  return entry;
}

/**
 * Cells [N, C] -> im2col columns per group [G, N, taps*C/G] (rows tap-major): one gather of whole
 * cells (padding taps read an appended zero row), then the groups split off.
 */
function columns(x: tf.Tensor2D, idx: TapIndex, taps: number, g: number): tf.Tensor3D {
  const [n, c] = x.shape;
  const rows = tf.concat([x, tf.zeros([1, c])], 0);
  const cols = tf.gather(rows, tf.tensor1d(idx.gather, 'int32')); // [N*taps, C]
  if (g === 1) return tf.reshape(cols, [1, n, taps * c]) as tf.Tensor3D;
  return tf.reshape(tf.transpose(tf.reshape(cols, [n, taps, g, c / g]), [2, 0, 1, 3]), [g, n, (taps * c) / g]) as tf.Tensor3D;
}

/** The adjoint of columns(): column gradients [G, N, taps*C/G] summed back onto the cells they were read from, [N, C]. */
function columnsAdjoint(cols: tf.Tensor3D, idx: TapIndex, taps: number): tf.Tensor2D {
  const [g, n, rows] = cols.shape;
  const ci = rows / taps;
  const perTap = g === 1 ? tf.reshape(cols, [n * taps, ci]) : tf.reshape(tf.transpose(tf.reshape(cols, [g, n, taps, ci]), [1, 2, 0, 3]), [n * taps, g * ci]);
  // Ids -1 (padding) are dropped, as in TensorFlow's UnsortedSegmentSum.
  return tf.unsortedSegmentSum(perTap, tf.tensor1d(idx.scatter, 'int32'), n) as tf.Tensor2D;
}

/**
 * Grouped 'same' convolution with stride 1 over a grid: x [B, H, W, Cin], weight
 * [G, kh*kw*Cin/G, Cout/G] (rows ordered dy, dx, channel) -> [B, H, W, Cout], bias-free. The im2col
 * columns make it one batched matMul with the groups as batch (tfjs has no grouped convolution and
 * slow convolution gradients on wasm). The gradient recomputes the columns rather than keeping them
 * on the tape: they are kh*kw times the input and would dominate a step's memory (data2vec 2.0
 * decodes every masked copy of a batch).
 */
function groupedConvGrid(x: tf.Tensor4D, weight: tf.Tensor3D, kh: number, kw: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const [g, rowsW, cg] = weight.shape;
  const taps = kh * kw;
  if (c % g !== 0 || rowsW !== (taps * c) / g) throw new ShapeError(`grouped convolution: weight [${weight.shape}] does not fit ${c} input channels and a ${kh}x${kw} kernel`);
  const idx = tapIndex(b, h, w, kh, kw);
  const cells = (t: tf.Tensor) => tf.reshape(t, [b * h * w, c]) as tf.Tensor2D;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, wIn, save] = args as [tf.Tensor4D, tf.Tensor3D, tf.GradSaveFunc];
    save([xIn, wIn]);
    const out = tf.matMul(columns(cells(xIn), idx, taps, g), wIn); // [G, N, Cout/G]
    const value = tf.reshape(g === 1 ? out : tf.transpose(out, [1, 0, 2]), [b, h, w, g * cg]);
    return {
      value,
      // In a tidy: tfjs keeps every backward intermediate until the whole gradient is done otherwise.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor3D];
          const dyg = splitGroups(dy, g); // [G, N, Cout/G]
          const dw = tf.matMul(columns(cells(xs), idx, taps, g), dyg, true, false);
          const dx = tf.reshape(columnsAdjoint(tf.matMul(dyg, ws, false, true), idx, taps), [b, h, w, c]);
          return [dx, dw];
        }),
    };
  });
  return op(x, weight) as tf.Tensor4D;
}

/**
 * Grouped 'same' convolution over time with stride 1 (wav2vec 2.0's convolutional positions,
 * data2vec 2.0's 1-D decoder): x [B, T, Cin], weight [G, k*Cin/G, Cout/G], bias [Cout] ->
 * [B, T, Cout]. For an even kernel the output is cut like fairseq's SamePad (one more frame of
 * context on the left).
 */
export function groupedConvSame(x: tf.Tensor3D, weight: tf.Tensor3D, bias: tf.Tensor1D | undefined, kernel: number): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, t, c] = x.shape;
    const y = tf.reshape(groupedConvGrid(tf.reshape(x, [b, 1, t, c]) as tf.Tensor4D, weight, 1, kernel), [b, t, -1]);
    return (bias ? tf.add(y, bias) : y) as tf.Tensor3D;
  });
}

/**
 * Grouped 'same' 2-D convolution with stride 1 (data2vec 2.0's image decoder): x [B, H, W, Cin],
 * weight [G, k*k*Cin/G, Cout/G] (rows ordered dy, dx, channel), bias [Cout] -> [B, H, W, Cout].
 */
export function groupedConv2dSame(x: tf.Tensor4D, weight: tf.Tensor3D, bias: tf.Tensor1D | undefined, kernel: number): tf.Tensor4D {
  return tf.tidy(() => {
    const y = groupedConvGrid(x, weight, kernel, kernel);
    return (bias ? tf.add(y, bias) : y) as tf.Tensor4D;
  });
}
