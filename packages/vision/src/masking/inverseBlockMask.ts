/**
 * data2vec 2.0 inverse block masking (fairseq `compute_block_mask_2d` with
 * inverse_mask=True). Instead of masking blocks, it picks blocks to KEEP: a few
 * random centres each mark a blockSize x blockSize square of visible patches,
 * the visible set is then trimmed or padded at random to an exact size, and
 * everything else is masked. With mask ratio 0.8 the student sees a handful of
 * small islands and must predict the large sea around them.
 */
import { ConfigError, type Rng } from '@d2v/core';

export interface InverseBlockMaskOptions {
  gridH: number;
  gridW: number;
  /** Fraction of patches masked (data2vec 2.0 images: 0.8, i.e. 39 of 196 visible). */
  maskRatio: number;
  /** Side of each visible block (data2vec 2.0: 3). */
  blockSize?: number;
  /** Extra centres, as a fraction of the patches (mask_prob_adjust, data2vec 2.0: 0.07). */
  adjust?: number;
}

/** Absorbs float error (e.g. 49 * 0.2 = 9.800000000000002) so every count rounds down the same way. */
const EPS = 1e-9;
const floorCount = (x: number) => Math.floor(x + EPS);

/** Throws a ConfigError naming the config key when the options are out of range. */
export function validateInverseBlockMask(o: InverseBlockMaskOptions): void {
  for (const k of ['gridH', 'gridW'] as const) {
    if (!(Number.isInteger(o[k]) && o[k] > 0)) throw new ConfigError(`${k} (vision.imageSize / vision.patchSize) must be a positive integer, got ${o[k]}`, 'vision.imageSize');
  }
  if (o.gridH * o.gridW < 2) throw new ConfigError('inverse block masking needs at least 2 patches (one visible, one masked)', 'vision.imageSize');
  if (!(o.maskRatio > 0 && o.maskRatio < 1)) throw new ConfigError(`masking.ratio must lie in (0, 1) for inverse block masking, got ${o.maskRatio}`, 'masking.ratio');
  const b = o.blockSize ?? 3;
  if (!(Number.isInteger(b) && b >= 1)) throw new ConfigError(`masking.inverseBlockSize must be an integer >= 1, got ${b}`, 'masking.inverseBlockSize');
  const a = o.adjust ?? 0.07;
  if (!(Number.isFinite(a) && a >= 0)) throw new ConfigError(`masking.inverseBlockAdjust must be >= 0, got ${a}`, 'masking.inverseBlockAdjust');
}

/** Visible patches per image: floor(L * (1 - maskRatio)), kept in [1, L - 1] so both sets are non-empty. */
export function visibleCount(o: InverseBlockMaskOptions): number {
  const l = o.gridH * o.gridW;
  return Math.min(l - 1, Math.max(1, floorCount(l * (1 - o.maskRatio))));
}

/** Masked patches per image (L - visibleCount). */
export function inverseMaskedCount(o: InverseBlockMaskOptions): number {
  return o.gridH * o.gridW - visibleCount(o);
}

/** Sets `count` cells of `mask` whose value is `from` to `1 - from`, chosen uniformly without replacement. */
function flipRandom(rng: Rng, mask: Uint8Array, from: 0 | 1, count: number): void {
  const pool: number[] = [];
  for (let i = 0; i < mask.length; i++) if (mask[i] === from) pool.push(i);
  rng.shuffle(pool);
  for (let k = 0; k < count; k++) mask[pool[k]!] = 1 - from;
}

/** One inverse block mask [gridH * gridW], row-major, 1 = masked; exactly inverseMaskedCount(o) ones. */
export function inverseBlockMask(rng: Rng, o: InverseBlockMaskOptions): Uint8Array {
  validateInverseBlockMask(o);
  const { gridH: h, gridW: w } = o;
  const b = o.blockSize ?? 3;
  const l = h * w;
  const target = visibleCount(o);
  // fairseq draws centres for the visible fraction plus `adjust`, since overlapping and
  // edge-clipped blocks cover less than blocks * b^2 cells.
  const centres = floorCount((l * (1 - o.maskRatio + (o.adjust ?? 0.07))) / (b * b));
  // Offsets -floor(b/2) .. ceil(b/2)-1: centred for odd b, one cell up/left of centre for even b.
  const lo = -Math.floor(b / 2);
  const hi = Math.ceil(b / 2) - 1;

  const visible = new Uint8Array(l);
  for (let c = 0; c < centres; c++) {
    // Uniform over all cells with replacement, so centres may repeat as in fairseq.
    const centre = rng.int(l);
    const cy = Math.floor(centre / w);
    const cx = centre - cy * w;
    // Clip at the edges (fairseq clamps indices, which only re-marks edge cells of the same block).
    for (let y = Math.max(0, cy + lo); y <= Math.min(h - 1, cy + hi); y++) {
      for (let x = Math.max(0, cx + lo); x <= Math.min(w - 1, cx + hi); x++) visible[y * w + x] = 1;
    }
  }

  // Every image must have the same visible count (the student's input is dense [B, visible, C]),
  // so pad with random hidden cells or drop random visible ones.
  let n = 0;
  for (let i = 0; i < l; i++) n += visible[i]!;
  if (n < target) flipRandom(rng, visible, 0, target - n);
  else if (n > target) flipRandom(rng, visible, 1, n - target);

  const mask = new Uint8Array(l);
  for (let i = 0; i < l; i++) mask[i] = 1 - visible[i]!;
  return mask;
}
