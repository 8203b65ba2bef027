import { describe, it, expect } from 'vitest';
import { Rng } from '@d2v/core';
import { blockMask, blockMaskBatch, scaledMinBlock } from '../src/index.js';

/** Connected components of masked cells (4-neighbourhood). */
function components(mask: Uint8Array, h: number, w: number): number {
  const seen = new Uint8Array(mask.length);
  let n = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i] || seen[i]) continue;
    n++;
    const stack = [i];
    seen[i] = 1;
    while (stack.length) {
      const j = stack.pop()!;
      const y = Math.floor(j / w);
      const x = j % w;
      for (const [yy, xx] of [[y - 1, x], [y + 1, x], [y, x - 1], [y, x + 1]] as const) {
        const k = yy * w + xx;
        if (yy >= 0 && yy < h && xx >= 0 && xx < w && mask[k] && !seen[k]) {
          seen[k] = 1;
          stack.push(k);
        }
      }
    }
  }
  return n;
}

describe('blockMask (BEiT block-wise masking)', () => {
  for (const g of [7, 14]) {
    it(`masks exactly 60% of a ${g}x${g} grid in few contiguous blocks`, () => {
      const rng = new Rng(1);
      const target = Math.round(0.6 * g * g);
      let comps = 0;
      let randomComps = 0;
      for (let i = 0; i < 200; i++) {
        const m = blockMask(rng, { gridH: g, gridW: g, maskRatio: 0.6 });
        expect(m.reduce((a, b) => a + b, 0)).toBe(target);
        comps += components(m, g, g);
        // Same count scattered uniformly at random, for comparison.
        const r = new Uint8Array(g * g);
        rng.shuffle([...Array(g * g).keys()]).slice(0, target).forEach((k) => (r[k] = 1));
        randomComps += components(r, g, g);
      }
      expect(comps / 200).toBeLessThan((randomComps / 200) * 0.6);
    });
  }

  it('scales the minimum block to small grids and varies between calls', () => {
    expect(scaledMinBlock(14, 14)).toBe(16);
    expect(scaledMinBlock(7, 7)).toBe(4);
    const rng = new Rng(2);
    const a = blockMask(rng, { gridH: 7, gridW: 7 });
    const b = blockMask(rng, { gridH: 7, gridW: 7 });
    expect([...a]).not.toEqual([...b]);
    expect([...blockMask(new Rng(5), { gridH: 7, gridW: 7 })]).toEqual([...blockMask(new Rng(5), { gridH: 7, gridW: 7 })]);
  });

  it('batch helper gives flat indices shifted past a CLS token', () => {
    const { mask, maskedIndices } = blockMaskBatch(new Rng(3), 4, { gridH: 7, gridW: 7 }, 1);
    expect(mask.length).toBe(4 * 49);
    expect(maskedIndices.length).toBe(4 * 29);
    for (const i of maskedIndices) {
      const b = Math.floor(i / 50);
      const t = i % 50;
      expect(t).toBeGreaterThan(0);
      expect(mask[b * 49 + t - 1]).toBe(1);
    }
  });
});
