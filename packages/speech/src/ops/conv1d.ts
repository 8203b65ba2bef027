/**
 * The strided 1-D convolution of the speech feature encoder, on [B, L, C] tensors, built to
 * train fast on tfjs-wasm.
 *
 * It runs forward as tf.conv2d on [B, 1, L, C] (XNNPACK's convolution: fast), but tfjs-wasm's
 * input gradient for it is a naive loop (~3x slower than everything else put together). So the
 * gradients are ours: with the weight stored as [k*Cin, Cout] and the input seen as "im2col"
 * columns (core's im2col/col2im), dx = col2im(dy @ W^T) and dW = cols^T @ dy, plain 2-D matMuls.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, col2im, convOutputLength, im2col } from '@d2v/core';

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
