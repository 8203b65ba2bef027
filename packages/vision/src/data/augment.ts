/** Image augmentation on HWC buffers, deterministic for a given Rng. */
import type { Rng } from '@d2v/core';

export interface CropOptions {
  scale: [number, number];
  ratio: [number, number];
}

/** Samples a crop box like torchvision's RandomResizedCrop (falls back to the centre crop). */
export function sampleCrop(rng: Rng, h: number, w: number, o: CropOptions): { y: number; x: number; ch: number; cw: number } {
  const area = h * w;
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.range(o.scale[0], o.scale[1]);
    const ar = Math.exp(rng.range(Math.log(o.ratio[0]), Math.log(o.ratio[1])));
    const cw = Math.round(Math.sqrt(target * ar));
    const ch = Math.round(Math.sqrt(target / ar));
    if (cw > 0 && ch > 0 && cw <= w && ch <= h) return { y: rng.int(h - ch + 1), x: rng.int(w - cw + 1), ch, cw };
  }
  const s = Math.min(h, w);
  return { y: Math.floor((h - s) / 2), x: Math.floor((w - s) / 2), ch: s, cw: s };
}

/** Bilinear resize of a crop of `src` (HWC) into out (size x size x C, float). */
export function cropResize(src: Uint8Array, h: number, w: number, c: number, box: { y: number; x: number; ch: number; cw: number }, size: number, out: Float32Array, flip: boolean): void {
  const sy = box.ch / size;
  const sx = box.cw / size;
  for (let i = 0; i < size; i++) {
    const fy = Math.min(Math.max((i + 0.5) * sy - 0.5, 0), box.ch - 1) + box.y;
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, h - 1);
    const wy = fy - y0;
    for (let j = 0; j < size; j++) {
      const jj = flip ? size - 1 - j : j;
      const fx = Math.min(Math.max((jj + 0.5) * sx - 0.5, 0), box.cw - 1) + box.x;
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, w - 1);
      const wx = fx - x0;
      for (let k = 0; k < c; k++) {
        const a = src[(y0 * w + x0) * c + k]!;
        const b = src[(y0 * w + x1) * c + k]!;
        const d = src[(y1 * w + x0) * c + k]!;
        const e = src[(y1 * w + x1) * c + k]!;
        out[(i * size + j) * c + k] = (a * (1 - wx) + b * wx) * (1 - wy) + (d * (1 - wx) + e * wx) * wy;
      }
    }
  }
}

export interface AugmentOptions {
  randomResizedCrop: boolean;
  scale: [number, number];
  ratio: [number, number];
  hflip: boolean;
}

/** Uint8 HWC image -> float HWC in [0, 255], augmented when training. */
export function augmentImage(rng: Rng | undefined, src: Uint8Array, h: number, w: number, c: number, size: number, o: AugmentOptions, out: Float32Array): void {
  if (rng && o.randomResizedCrop) {
    const box = sampleCrop(rng, h, w, o);
    cropResize(src, h, w, c, box, size, out, o.hflip && rng.uniform() < 0.5);
    return;
  }
  const flip = !!rng && o.hflip && rng.uniform() < 0.5;
  if (size === h && size === w && !flip) {
    for (let i = 0; i < out.length; i++) out[i] = src[i]!;
    return;
  }
  cropResize(src, h, w, c, { y: 0, x: 0, ch: h, cw: w }, size, out, flip);
}

/** In place: (x / 255 - mean[c]) / std[c]. */
export function normalise(x: Float32Array, c: number, mean: number[], std: number[]): void {
  for (let i = 0; i < x.length; i++) {
    const k = i % c;
    x[i] = (x[i]! / 255 - mean[k % mean.length]!) / std[k % std.length]!;
  }
}
