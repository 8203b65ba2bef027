/**
 * Image augmentation on HWC buffers in plain TypeScript, deterministic for a
 * given Rng: random resized crop (torchvision's RandomResizedCrop sampling,
 * bilinear, half-pixel centres), horizontal flip, per-channel normalisation.
 */
import { ConfigError, type Rng } from '@d2v/core';

/** Fashion-MNIST training-set statistics (pixels / 255). */
export const FASHION_MNIST_MEAN = [0.286];
export const FASHION_MNIST_STD = [0.353];
/** ImageNet statistics, the usual choice for RGB images. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];

/** HWC pixels, uint8 or float. */
export type PixelBuffer = Uint8Array | Float32Array;

export interface CropOptions {
  /** Crop area as a fraction of the image area (default [0.08, 1]). */
  scale: [number, number];
  /** Crop width / height, sampled log-uniformly (default [3/4, 4/3]). */
  ratio: [number, number];
}

export interface CropBox {
  y: number;
  x: number;
  ch: number;
  cw: number;
}

export const DEFAULT_CROP: CropOptions = { scale: [0.08, 1], ratio: [3 / 4, 4 / 3] };

function checkCrop(o: CropOptions): void {
  const [s0, s1] = o.scale;
  const [r0, r1] = o.ratio;
  if (!(s0 > 0 && s0 <= s1 && s1 <= 1)) throw new ConfigError(`crop scale must satisfy 0 < min <= max <= 1, got [${s0}, ${s1}]`, 'scale');
  if (!(r0 > 0 && r0 <= r1)) throw new ConfigError(`crop ratio must satisfy 0 < min <= max, got [${r0}, ${r1}]`, 'ratio');
}

/**
 * Samples a crop box: area fraction uniform in `scale`, aspect log-uniform in `ratio`, up to 10
 * tries; then the largest centred crop whose aspect lies in `ratio`.
 */
export function sampleCrop(rng: Rng, h: number, w: number, opts: Partial<CropOptions> = {}): CropBox {
  const o = { ...DEFAULT_CROP, ...opts };
  checkCrop(o);
  const area = h * w;
  const [lr0, lr1] = [Math.log(o.ratio[0]), Math.log(o.ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.range(o.scale[0], o.scale[1]);
    const aspect = Math.exp(rng.range(lr0, lr1));
    const cw = Math.round(Math.sqrt(target * aspect));
    const ch = Math.round(Math.sqrt(target / aspect));
    if (cw > 0 && ch > 0 && cw <= w && ch <= h) return { y: rng.int(h - ch + 1), x: rng.int(w - cw + 1), ch, cw };
  }
  const aspect = w / h;
  let cw = w;
  let ch = h;
  if (aspect < o.ratio[0]) ch = Math.round(w / o.ratio[0]);
  else if (aspect > o.ratio[1]) cw = Math.round(h * o.ratio[1]);
  return { y: Math.floor((h - ch) / 2), x: Math.floor((w - cw) / 2), ch, cw };
}

/**
 * Bilinear resize of a crop of `src` (h x w x c) into `out` (size x size x c), mirrored when `flip`.
 * Output pixel centres map to the crop with half-pixel offsets (align_corners = false); no
 * antialiasing, so strong downscaling aliases (crops are usually enlarged, which is fine).
 */
export function cropResize(src: PixelBuffer, h: number, w: number, c: number, box: CropBox, size: number, out: Float32Array, flip = false): void {
  if (src.length !== h * w * c) throw new ConfigError(`source buffer has ${src.length} values, expected ${h}x${w}x${c}`);
  if (out.length !== size * size * c) throw new ConfigError(`output buffer has ${out.length} values, expected ${size}x${size}x${c}`);
  if (box.y < 0 || box.x < 0 || box.ch < 1 || box.cw < 1 || box.y + box.ch > h || box.x + box.cw > w) {
    throw new ConfigError(`crop box ${JSON.stringify(box)} lies outside the ${h}x${w} image`);
  }
  const sy = box.ch / size;
  const sx = box.cw / size;
  // Horizontal source positions are the same for every row: compute them once.
  const x0s = new Int32Array(size);
  const x1s = new Int32Array(size);
  const wxs = new Float32Array(size);
  for (let j = 0; j < size; j++) {
    const jj = flip ? size - 1 - j : j;
    const fx = Math.min(Math.max((jj + 0.5) * sx - 0.5, 0), box.cw - 1);
    const x0 = Math.floor(fx);
    x0s[j] = box.x + x0;
    x1s[j] = box.x + Math.min(x0 + 1, box.cw - 1);
    wxs[j] = fx - x0;
  }
  for (let i = 0; i < size; i++) {
    const fy = Math.min(Math.max((i + 0.5) * sy - 0.5, 0), box.ch - 1);
    const y0 = Math.floor(fy);
    const r0 = (box.y + y0) * w;
    const r1 = (box.y + Math.min(y0 + 1, box.ch - 1)) * w;
    const wy = fy - y0;
    for (let j = 0; j < size; j++) {
      const wx = wxs[j]!;
      const a0 = (r0 + x0s[j]!) * c;
      const a1 = (r0 + x1s[j]!) * c;
      const b0 = (r1 + x0s[j]!) * c;
      const b1 = (r1 + x1s[j]!) * c;
      const o = (i * size + j) * c;
      for (let k = 0; k < c; k++) {
        const top = src[a0 + k]! + (src[a1 + k]! - src[a0 + k]!) * wx;
        const bottom = src[b0 + k]! + (src[b1 + k]! - src[b0 + k]!) * wx;
        out[o + k] = top + (bottom - top) * wy;
      }
    }
  }
}

/** Mirrors an HWC buffer left-right, in place. */
export function hflipInPlace(buf: PixelBuffer, h: number, w: number, c: number): void {
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w >> 1; x++) {
      const a = (y * w + x) * c;
      const b = (y * w + (w - 1 - x)) * c;
      for (let k = 0; k < c; k++) {
        const t = buf[a + k]!;
        buf[a + k] = buf[b + k]!;
        buf[b + k] = t;
      }
    }
  }
}

export interface AugmentOptions extends CropOptions {
  /** Random resized crop (else the whole image, resized to the output size). */
  randomResizedCrop: boolean;
  /** Mirror left-right with probability 1/2. */
  hflip: boolean;
}

export const DEFAULT_AUGMENT: AugmentOptions = { ...DEFAULT_CROP, randomResizedCrop: true, hflip: true };

/**
 * Image (h x w x c) -> float (size x size x c) with the source's value range, augmented when an
 * Rng is given (without one: the whole image, resized; no flip).
 */
export function augmentImage(rng: Rng | undefined, src: PixelBuffer, h: number, w: number, c: number, size: number, opts: Partial<AugmentOptions>, out: Float32Array): void {
  const o = { ...DEFAULT_AUGMENT, ...opts };
  const whole = { y: 0, x: 0, ch: h, cw: w };
  if (!rng) {
    if (size === h && size === w) out.set(src);
    else cropResize(src, h, w, c, whole, size, out);
    return;
  }
  // Draw the crop before the flip so that turning the flip off keeps the same crops.
  const box = o.randomResizedCrop ? sampleCrop(rng, h, w, o) : whole;
  const flip = o.hflip && rng.uniform() < 0.5;
  if (box === whole && size === h && size === w) {
    out.set(src);
    if (flip) hflipInPlace(out, h, w, c);
    return;
  }
  cropResize(src, h, w, c, box, size, out, flip);
}

/** In place: (x / 255 - mean[k]) / std[k] for channel k; mean/std have 1 entry (shared) or one per channel. */
/** data.mean and data.std hold one value, or one per channel, and std is positive. */
export function checkNormalisation(c: number, mean: readonly number[], std: readonly number[]): void {
  for (const [name, v] of [['mean', mean], ['std', std]] as const) {
    if (v.length !== 1 && v.length !== c) throw new ConfigError(`data.${name} has ${v.length} entries for ${c}-channel images (give 1 or ${c})`, `data.${name}`);
  }
  if (std.some((s) => !(s > 0))) throw new ConfigError(`data.std must be positive, got [${std.join(', ')}]`, 'data.std');
}

export function normalise(x: Float32Array, c: number, mean: number[], std: number[]): void {
  checkNormalisation(c, mean, std);
  const scale = Float32Array.from({ length: c }, (_, k) => 1 / (255 * std[k % std.length]!));
  const shift = Float32Array.from({ length: c }, (_, k) => mean[k % mean.length]! / std[k % std.length]!);
  for (let i = 0; i < x.length; i += c) {
    for (let k = 0; k < c; k++) x[i + k] = x[i + k]! * scale[k]! - shift[k]!;
  }
}
