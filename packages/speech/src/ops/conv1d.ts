/**
 * 1-D convolutions over time on [B, L, C] tensors, built to train fast on tfjs-wasm.
 *
 * The strided convolution of the feature encoder runs forward as tf.conv2d on
 * [B, 1, L, C] (XNNPACK's convolution: fast), but tfjs-wasm's input gradient
 * for it is a naive loop (~3x slower than everything else put together). So
 * the gradients are ours: with the weight stored as [k*Cin, Cout] and the
 * input seen as "im2col" columns (each output frame's k input frames side by
 * side), dx = col2im(dy @ W^T) and dW = cols^T @ dy, plain 2-D matMuls.
 *
 * im2col needs no gather: reshaping x [B, L, C] to [B, L/s, s*C] puts s
 * consecutive frames in one row, so an output frame's window is whole rows
 * j..j+q-1 plus the first (k mod s) frames of row j+q, i.e. q+1 slices.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@d2v/core';

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

/**
 * 'valid' strided convolution without bias: x [B, L, Cin], weight [k*Cin, Cout] -> [B, T, Cout].
 * Differentiable in both arguments (gradients by 2-D matMuls, see the file comment).
 */
export function conv1d(x: tf.Tensor3D, weight: tf.Tensor2D, kernel: number, stride: number): tf.Tensor3D {
  const [b, L, cin] = x.shape;
  const [rowsW, cout] = weight.shape;
  if (rowsW !== kernel * cin) throw new ShapeError(`conv1d: weight [${weight.shape}] does not fit kernel ${kernel} x ${cin} input channels`);
  const T = convOutputLength(L, kernel, stride);
  if (T === 0) throw new ShapeError(`conv1d: input of ${L} frames is shorter than the kernel (${kernel})`);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, wIn, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([xIn, wIn]);
    const y = tf.conv2d(tf.reshape(xIn, [b, 1, L, cin]) as tf.Tensor4D, tf.reshape(wIn, [1, kernel, cin, cout]) as tf.Tensor4D, [1, stride], 'valid');
    return {
      value: tf.reshape(y, [b, T, cout]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor3D, tf.Tensor2D];
        const dy2 = tf.reshape(dy, [b * T, cout]) as tf.Tensor2D;
        const dx = col2im(tf.matMul(dy2, tf.transpose(ws)), b, L, cin, kernel, stride);
        const dw = tf.matMul(tf.transpose(im2col(xs, kernel, stride)), dy2);
        return [dx, dw];
      },
    };
  });
  return op(x, weight) as tf.Tensor3D;
}

/**
 * Grouped 'same' convolution with stride 1 (wav2vec 2.0's convolutional positions):
 * x [B, T, C], weight [G, k*C/G, C/G], bias [C] -> [B, T, C]. Groups become the batch
 * of one batched matMul (tfjs has no grouped convolution); for an even kernel the
 * output is cut like fairseq's SamePad (one more frame of context on the left).
 */
export function groupedConvSame(x: tf.Tensor3D, weight: tf.Tensor3D, bias: tf.Tensor1D | undefined, kernel: number): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, t, c] = x.shape;
    const [g, rowsW, cg] = weight.shape;
    if (g * cg !== c || rowsW !== kernel * cg) throw new ShapeError(`groupedConvSame: weight [${weight.shape}] does not fit ${c} channels, kernel ${kernel}`);
    const left = Math.floor(kernel / 2);
    const xp = tf.pad(x, [[0, 0], [left, kernel - 1 - left], [0, 0]]);
    let y: tf.Tensor;
    if (g === 1) {
      y = tf.reshape(tf.matMul(im2col(xp as tf.Tensor3D, kernel, 1), tf.reshape(weight, [rowsW, cg]) as tf.Tensor2D), [b, t, c]);
    } else {
      // [B, T', G, Cg] -> [G*B, T', Cg]: each group a separate sequence, then one batched product.
      const perGroup = tf.reshape(tf.transpose(tf.reshape(xp, [b, t + kernel - 1, g, cg]), [2, 0, 1, 3]), [g * b, t + kernel - 1, cg]);
      const cols = tf.reshape(im2col(perGroup as tf.Tensor3D, kernel, 1), [g, b * t, rowsW]);
      const out = tf.matMul(cols, weight); // [G, B*T, Cg]
      y = tf.reshape(tf.transpose(tf.reshape(out, [g, b, t, cg]), [1, 2, 0, 3]), [b, t, c]);
    }
    return (bias ? tf.add(y, bias) : y) as tf.Tensor3D;
  });
}
