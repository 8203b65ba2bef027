/**
 * BEiT block-wise masking on a patch grid. Rectangles with area drawn in
 * [minimum block, remaining budget] and log-uniform aspect ratio are placed at
 * random positions until the target count round(ratio * H * W) is reached.
 * Every image gets exactly that count, so the masked positions of a batch form
 * a dense [B, M] set the student can gather.
 */
import { ConfigError, type Rng } from '@d2v/core';

export interface BlockMaskOptions {
  gridH: number;
  gridW: number;
  /** Fraction of patches masked (data2vec vision: 0.6, i.e. 118 of 196; BEiT: 75 of 196). */
  maskRatio?: number;
  /** Smallest block on a 14x14 grid (data2vec: 16); scaled by grid area / 196 on other grids, at least 2. */
  minBlockPatches?: number;
  /** Smallest block aspect ratio (height / width); default 0.3. */
  minAspect?: number;
  /** Largest aspect ratio; default 1 / minAspect. */
  maxAspect?: number;
  /** Largest block, in patches of this grid (default: the whole budget). */
  maxBlockPatches?: number;
}

/** Blocks tried per placement before the sampler gives up on the remaining budget (as BEiT). */
const ATTEMPTS_PER_BLOCK = 10;

/** The minimum block size scaled from BEiT's 14x14 grid to this grid (at least 2 patches). */
export function scaledMinBlock(gridH: number, gridW: number, minBlockPatches = 16): number {
  return Math.max(2, Math.round((minBlockPatches * gridH * gridW) / 196));
}

/** Number of masked patches per image for these options. */
export function maskedCount(o: BlockMaskOptions): number {
  return Math.round((o.maskRatio ?? 0.6) * o.gridH * o.gridW);
}

function validate(o: BlockMaskOptions, minAspect: number, maxAspect: number): void {
  for (const k of ['gridH', 'gridW'] as const) {
    if (!(Number.isInteger(o[k]) && o[k] > 0)) throw new ConfigError(`${k} must be a positive integer, got ${o[k]}`, k);
  }
  const r = o.maskRatio ?? 0.6;
  if (!(r >= 0 && r <= 1)) throw new ConfigError(`maskRatio must lie in [0, 1], got ${r}`, 'maskRatio');
  if (!(minAspect > 0 && maxAspect >= minAspect)) throw new ConfigError(`aspect range must satisfy 0 < min <= max, got [${minAspect}, ${maxAspect}]`, 'minAspect');
  if (o.minBlockPatches !== undefined && !(o.minBlockPatches >= 1)) throw new ConfigError(`minBlockPatches must be >= 1, got ${o.minBlockPatches}`, 'minBlockPatches');
  if (o.maxBlockPatches !== undefined && !(o.maxBlockPatches >= 1)) throw new ConfigError(`maxBlockPatches must be >= 1, got ${o.maxBlockPatches}`, 'maxBlockPatches');
}

/**
 * Tries to place one rectangle that adds between 1 and `budget` new patches; returns how many
 * it added (0 when every attempt failed).
 */
function placeBlock(rng: Rng, mask: Uint8Array, h: number, w: number, minBlock: number, budget: number, logAspect: [number, number]): number {
  for (let attempt = 0; attempt < ATTEMPTS_PER_BLOCK; attempt++) {
    const area = rng.range(minBlock, budget);
    const aspect = Math.exp(rng.range(logAspect[0], logAspect[1]));
    const bh = Math.round(Math.sqrt(area * aspect));
    const bw = Math.round(Math.sqrt(area / aspect));
    if (bh < 1 || bw < 1 || bh > h || bw > w) continue;
    const top = rng.int(h - bh + 1);
    const left = rng.int(w - bw + 1);
    let fresh = 0;
    for (let y = top; y < top + bh; y++) for (let x = left; x < left + bw; x++) fresh += 1 - mask[y * w + x]!;
    // Only the unmasked part counts, so overlapping blocks grow existing regions.
    if (fresh === 0 || fresh > budget) continue;
    for (let y = top; y < top + bh; y++) for (let x = left; x < left + bw; x++) mask[y * w + x] = 1;
    return fresh;
  }
  return 0;
}

/**
 * Masks `count` more patches, each drawn from the unmasked neighbours of masked patches when there
 * are any (so regions grow as blobs rather than scattering), else from all unmasked patches.
 */
function topUp(rng: Rng, mask: Uint8Array, h: number, w: number, count: number): void {
  for (let k = 0; k < count; k++) {
    const border: number[] = [];
    const free: number[] = [];
    for (let i = 0; i < mask.length; i++) {
      if (mask[i]) continue;
      free.push(i);
      const y = Math.floor(i / w);
      const x = i - y * w;
      if ((y > 0 && mask[i - w]) || (y < h - 1 && mask[i + w]) || (x > 0 && mask[i - 1]) || (x < w - 1 && mask[i + 1])) border.push(i);
    }
    const pool = border.length > 0 ? border : free;
    mask[pool[rng.int(pool.length)]!] = 1;
  }
}

/** One block mask [gridH * gridW], row-major, 1 = masked; exactly maskedCount(o) ones. */
export function blockMask(rng: Rng, o: BlockMaskOptions): Uint8Array {
  const { gridH: h, gridW: w } = o;
  const minAspect = o.minAspect ?? 0.3;
  const maxAspect = o.maxAspect ?? 1 / minAspect;
  validate(o, minAspect, maxAspect);
  const target = maskedCount(o);
  const minBlock = Math.min(target, scaledMinBlock(h, w, o.minBlockPatches ?? 16));
  const logAspect: [number, number] = [Math.log(minAspect), Math.log(maxAspect)];
  const mask = new Uint8Array(h * w);
  let count = 0;
  while (count < target) {
    const budget = Math.min(target - count, o.maxBlockPatches ?? Infinity);
    if (budget < minBlock) break;
    const added = placeBlock(rng, mask, h, w, minBlock, budget, logAspect);
    if (added === 0) break;
    count += added;
  }
  // Blocks never overshoot (each adds at most the remaining budget), so only a top-up can be needed.
  topUp(rng, mask, h, w, target - count);
  return mask;
}

export interface BlockMaskBatch {
  /** [B * gridH * gridW], 1 = masked. */
  mask: Uint8Array;
  /** [B * M] flat positions b * T + offset + p of the masked patches, ascending within each image (T = N + offset). */
  maskedIndices: Int32Array;
  /** M, the masked patches per image. */
  maskedPerImage: number;
}

/**
 * Stacks per-image masks into batch form. `one` must return an [n] patch mask with exactly
 * `maskedPerImage` ones (so the masked positions form a dense [B, M] set); `offset` shifts patch
 * positions past tokens that precede them (e.g. 1 for a CLS token).
 */
export function maskBatch(rng: Rng, batch: number, n: number, maskedPerImage: number, one: (rng: Rng) => Uint8Array, offset = 0): BlockMaskBatch {
  const t = n + offset;
  const mask = new Uint8Array(batch * n);
  const maskedIndices = new Int32Array(batch * maskedPerImage);
  let j = 0;
  for (let b = 0; b < batch; b++) {
    const m = one(rng);
    mask.set(m, b * n);
    for (let p = 0; p < n; p++) if (m[p]) maskedIndices[j++] = b * t + offset + p;
  }
  return { mask, maskedIndices, maskedPerImage };
}

/** BEiT block masks for a batch; `offset` shifts patch positions past tokens that precede them (e.g. 1 for a CLS token). */
export function blockMaskBatch(rng: Rng, batch: number, o: BlockMaskOptions, offset = 0): BlockMaskBatch {
  return maskBatch(rng, batch, o.gridH * o.gridW, maskedCount(o), (r) => blockMask(r, o), offset);
}
