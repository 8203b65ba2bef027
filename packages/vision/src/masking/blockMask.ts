/**
 * BEiT block-wise masking: rectangles of at least `minBlockPatches` patches
 * with log-uniform aspect ratio are masked until the target count is met.
 * Every image gets exactly the same count, so masked positions form a dense
 * [B, M] set the student can gather.
 */
import type { Rng } from '@d2v/core';

export interface BlockMaskOptions {
  gridH: number;
  gridW: number;
  /** Fraction of patches masked (data2vec vision: 0.6). */
  maskRatio?: number;
  /** Smallest block on a 14x14 grid (BEiT: 16); scaled to the grid area for smaller grids. */
  minBlockPatches?: number;
  minAspect?: number;
  maxAspect?: number;
  maxBlockPatches?: number;
}

/** The minimum block size scaled from BEiT's 14x14 grid to this grid (at least 2 patches). */
export function scaledMinBlock(gridH: number, gridW: number, minBlockPatches = 16): number {
  return Math.max(2, Math.round((minBlockPatches * gridH * gridW) / 196));
}

export function blockMask(rng: Rng, o: BlockMaskOptions): Uint8Array {
  const { gridH: h, gridW: w } = o;
  const n = h * w;
  const target = Math.round((o.maskRatio ?? 0.6) * n);
  const minBlock = Math.min(target, scaledMinBlock(h, w, o.minBlockPatches ?? 16));
  const minA = o.minAspect ?? 0.3;
  const maxA = o.maxAspect ?? 1 / minA;
  const mask = new Uint8Array(n);
  let count = 0;
  // Sample blocks like BEiT: each attempt may add only the not-yet-masked part of its rectangle.
  for (let tries = 0; count < target && tries < 200; tries++) {
    const budget = target - count;
    const maxBlock = Math.min(budget, o.maxBlockPatches ?? budget);
    if (maxBlock < minBlock) break;
    const area = rng.range(minBlock, maxBlock);
    const aspect = Math.exp(rng.range(Math.log(minA), Math.log(maxA)));
    const bh = Math.round(Math.sqrt(area * aspect));
    const bw = Math.round(Math.sqrt(area / aspect));
    if (bh < 1 || bw < 1 || bh > h || bw > w) continue;
    const top = rng.int(h - bh + 1);
    const left = rng.int(w - bw + 1);
    let fresh = 0;
    for (let y = top; y < top + bh; y++) for (let x = left; x < left + bw; x++) fresh += mask[y * w + x] ? 0 : 1;
    if (fresh === 0 || count + fresh > target) continue;
    for (let y = top; y < top + bh; y++) for (let x = left; x < left + bw; x++) mask[y * w + x] = 1;
    count += fresh;
  }
  // Top up next to existing blocks (keeps blocks contiguous), then anywhere, to hit the exact count.
  const free = () => [...Array(n).keys()].filter((i) => !mask[i]);
  while (count < target) {
    const border = free().filter((i) => {
      const y = Math.floor(i / w);
      const x = i % w;
      return (y > 0 && mask[i - w]) || (y < h - 1 && mask[i + w]) || (x > 0 && mask[i - 1]) || (x < w - 1 && mask[i + 1]);
    });
    const pool = border.length ? border : free();
    mask[pool[rng.int(pool.length)]!] = 1;
    count++;
  }
  return mask;
}

/** Masks for a batch: [B*N] mask and the flat indices b*T + offset + p of masked patches (T = N + offset). */
export function blockMaskBatch(rng: Rng, batch: number, o: BlockMaskOptions, offset = 0): { mask: Uint8Array; maskedIndices: Int32Array } {
  const n = o.gridH * o.gridW;
  const t = n + offset;
  const mask = new Uint8Array(batch * n);
  const idx: number[] = [];
  for (let b = 0; b < batch; b++) {
    const m = blockMask(rng, o);
    mask.set(m, b * n);
    for (let p = 0; p < n; p++) if (m[p]) idx.push(b * t + offset + p);
  }
  return { mask, maskedIndices: Int32Array.from(idx) };
}
