/**
 * Spectra without an FFT kernel (tfjs-wasm has none): the real DFT as one
 * matmul with cached cosine/sine bases. O(n^2) per frame, but for the frame
 * sizes of audio features (400-512) it runs at matmul speed and is
 * differentiable on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';

const bases = new Map<string, { cos: tf.Tensor2D; sin: tf.Tensor2D }>();

/** cos/sin bases [n, n/2 + 1] of the real DFT of length n (kept for reuse). */
export function rdftBases(n: number): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  const key = `${n}|${tf.getBackend()}`;
  let b = bases.get(key);
  if (!b) {
    const bins = Math.floor(n / 2) + 1;
    const c = new Float32Array(n * bins);
    const s = new Float32Array(n * bins);
    for (let t = 0; t < n; t++)
      for (let k = 0; k < bins; k++) {
        const a = (-2 * Math.PI * ((t * k) % n)) / n;
        c[t * bins + k] = Math.cos(a);
        s[t * bins + k] = Math.sin(a);
      }
    b = { cos: tf.keep(tf.tensor2d(c, [n, bins])), sin: tf.keep(tf.tensor2d(s, [n, bins])) };
    bases.set(key, b);
  }
  return b;
}

/** Real DFT of the last axis: { re, im } with n/2 + 1 bins. */
export function rdft(x: tf.Tensor): { re: tf.Tensor; im: tf.Tensor } {
  const n = x.shape[x.rank - 1]!;
  const { cos, sin } = rdftBases(n);
  return tf.tidy(() => {
    const x2 = tf.reshape(x, [-1, n]) as tf.Tensor2D;
    const shape = [...x.shape.slice(0, -1), cos.shape[1]];
    return { re: tf.reshape(tf.matMul(x2, cos), shape), im: tf.reshape(tf.matMul(x2, sin), shape) };
  });
}

/** |DFT|^2 of the last axis. */
export function powerSpectrum(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const { re, im } = rdft(x);
    return tf.add(tf.square(re), tf.square(im));
  });
}

export interface StftOptions {
  frameLength: number;
  hop: number;
  /** Window applied to each frame (default periodic Hann). */
  window?: 'hann' | 'none';
}

/** Power spectrogram of signals [B, L] -> [B, frames, frameLength/2 + 1]. */
export function stftPower(signal: tf.Tensor2D, o: StftOptions): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, l] = signal.shape;
    const frames = 1 + Math.floor((l - o.frameLength) / o.hop);
    // Frames by slicing: few, large slices keep this fast and differentiable.
    const parts: tf.Tensor[] = [];
    for (let f = 0; f < frames; f++) parts.push(tf.slice(signal, [0, f * o.hop], [b, o.frameLength]));
    let fr = tf.stack(parts, 1);
    if ((o.window ?? 'hann') === 'hann') {
      const w = Float32Array.from({ length: o.frameLength }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / o.frameLength));
      fr = tf.mul(fr, tf.tensor1d(w));
    }
    return powerSpectrum(fr) as tf.Tensor3D;
  });
}
