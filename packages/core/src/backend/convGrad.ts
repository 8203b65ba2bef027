/**
 * Conv2D filter gradient for backends without a Conv2DBackpropFilter kernel
 * (tfjs-wasm). dW[kh, kw] = x_tap(kh, kw)^T @ dy, one plain matMul per kernel
 * tap, where x_tap is the input seen by that tap at every output position,
 * cut out with slice + reshape (strided slices have no gradient in tfjs and
 * are slow). Backends that have the kernel keep tfjs's own gradient.
 */
import * as tf from '@tensorflow/tfjs-core';

let installed = false;

/** Rows of x [N, H, W, C] at h = start + s * i, i < count (pads at the end as needed). */
function strided(x: tf.Tensor4D, axis: 1 | 2, start: number, stride: number, count: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const size = axis === 1 ? h : w;
  const need = start + stride * count;
  let src = x;
  if (need > size) {
    const pads: [number, number][] = [[0, 0], [0, 0], [0, 0], [0, 0]];
    pads[axis] = [0, need - size];
    src = tf.pad(x, pads);
  }
  const begin = [0, 0, 0, 0];
  begin[axis] = start;
  const len = [n, axis === 1 ? stride * count : h, axis === 2 ? stride * count : w, c];
  const cut = tf.slice(src, begin, len);
  if (stride === 1) return cut as tf.Tensor4D;
  if (axis === 1) {
    // [N, count, stride, W*C] -> keep offset 0 of each stride group.
    const r = tf.reshape(cut, [n, count, stride, w * c]);
    return tf.reshape(tf.slice(r, [0, 0, 0, 0], [n, count, 1, w * c]), [n, count, w, c]);
  }
  const r = tf.reshape(cut, [n * h, count, stride * c]);
  return tf.reshape(tf.slice(r, [0, 0, 0], [n * h, count, c]), [n, h, count, c]);
}

/** The filter gradient of a NHWC conv2d, as KH*KW plain matmuls. */
export function conv2dFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: [number, number, number, number], info: tf.backend_util.Conv2DInfo): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, cin, cout] = filterShape;
    const { top, left, bottom, right } = info.padInfo;
    const xp = top || left || bottom || right ? (tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]]) as tf.Tensor4D) : x;
    const dy2 = tf.reshape(dy, [-1, cout]) as tf.Tensor2D;
    const taps: tf.Tensor[] = [];
    for (let i = 0; i < kh; i++) {
      const rows = strided(xp, 1, i * info.dilationHeight, info.strideHeight, info.outHeight);
      for (let j = 0; j < kw; j++) {
        const cols = strided(rows, 2, j * info.dilationWidth, info.strideWidth, info.outWidth);
        taps.push(tf.matMul(tf.transpose(tf.reshape(cols, [-1, cin])) as tf.Tensor2D, dy2));
      }
    }
    return tf.reshape(tf.stack(taps), [kh, kw, cin, cout]) as tf.Tensor4D;
  });
}

export function registerConvFilterGradient(): void {
  if (installed) return;
  const original = tf.getGradient('Conv2D');
  if (!original) return;
  installed = true;
  tf.registerGradient({
    ...original,
    gradFunc: (dy, saved, attrs) => {
      const base = original.gradFunc(dy, saved, attrs);
      if (tf.getKernel('Conv2DBackpropFilter', tf.getBackend())) return base;
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const a = attrs as unknown as { strides: [number, number] | number; pad: 'valid' | 'same' | number; dilations: [number, number] | number; dimRoundingMode?: 'floor' | 'round' | 'ceil'; dataFormat: string };
      if (a.dataFormat !== 'NHWC') return base;
      const info = tf.backend_util.computeConv2DInfo(x.shape, filter.shape as [number, number, number, number], a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode);
      return { ...base, filter: () => conv2dFilterGrad(x, dy as tf.Tensor4D, filter.shape as [number, number, number, number], info) };
    },
  });
}
