import { describe, it, expect } from 'vitest';
import { ConfigError, Rng, type Batch } from '@d2v/core';
import { inverseBlockMask, visibleCount, InverseBlockMasker, BlockMasker, modality, type VisionConfig } from '../src/index.js';

const sum = (m: Uint8Array) => m.reduce((a, b) => a + b, 0);

/** Mean number of visible 4-neighbours of a visible cell (0 = masked, 1 = visible in `visible`). */
function meanVisibleNeighbours(visible: Uint8Array, h: number, w: number): number {
  let cells = 0;
  let links = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!visible[y * w + x]) continue;
      cells++;
      if (y > 0) links += visible[(y - 1) * w + x]!;
      if (y < h - 1) links += visible[(y + 1) * w + x]!;
      if (x > 0) links += visible[y * w + x - 1]!;
      if (x < w - 1) links += visible[y * w + x + 1]!;
    }
  }
  return links / cells;
}

const invert = (m: Uint8Array) => m.map((v) => 1 - v);

describe('inverseBlockMask (data2vec 2.0 inverse block masking)', () => {
  for (const [g, visible] of [
    [7, 9],
    [14, 39],
  ] as const) {
    it(`keeps exactly ${visible} of ${g * g} patches visible at mask ratio 0.8`, () => {
      const o = { gridH: g, gridW: g, maskRatio: 0.8 };
      expect(visibleCount(o)).toBe(visible);
      for (let seed = 0; seed < 300; seed++) {
        const m = inverseBlockMask(new Rng(seed), o);
        expect(m.length).toBe(g * g);
        expect(sum(m)).toBe(g * g - visible);
      }
    });
  }

  it('visible cells form clusters, unlike a uniformly random visible set of the same size', () => {
    const g = 14;
    const rng = new Rng(1);
    let blocks = 0;
    let random = 0;
    const runs = 200;
    for (let i = 0; i < runs; i++) {
      blocks += meanVisibleNeighbours(invert(inverseBlockMask(rng, { gridH: g, gridW: g, maskRatio: 0.8 })), g, g);
      const r = new Uint8Array(g * g);
      rng.shuffle([...Array(g * g).keys()]).slice(0, 39).forEach((k) => (r[k] = 1));
      random += meanVisibleNeighbours(r, g, g);
    }
    // 3x3 islands give ~2 visible neighbours per visible cell; 39 random cells of 196 give ~0.7.
    expect(blocks / runs).toBeGreaterThan(1.6);
    expect(random / runs).toBeLessThan(1);
    expect(blocks / runs).toBeGreaterThan(2 * (random / runs));
  });

  it('is deterministic per seed and differs between draws', () => {
    const o = { gridH: 14, gridW: 14, maskRatio: 0.8 };
    expect([...inverseBlockMask(new Rng(5), o)]).toEqual([...inverseBlockMask(new Rng(5), o)]);
    const rng = new Rng(6);
    expect([...inverseBlockMask(rng, o)]).not.toEqual([...inverseBlockMask(rng, o)]);
  });

  for (const g of [7, 14]) {
    it(`pins no cell on a ${g}x${g} grid: each is masked in some seed and visible in another`, () => {
      const masked = new Uint8Array(g * g);
      const shown = new Uint8Array(g * g);
      for (let seed = 0; seed < 400; seed++) {
        const m = inverseBlockMask(new Rng(seed), { gridH: g, gridW: g, maskRatio: 0.8 });
        m.forEach((v, i) => (v ? (masked[i] = 1) : (shown[i] = 1)));
      }
      expect(sum(masked)).toBe(g * g);
      expect(sum(shown)).toBe(g * g);
    });
  }

  it('rejects mask ratios 0 and 1 and block sizes below 1 with a ConfigError naming the key', () => {
    for (const maskRatio of [0, 1]) {
      const run = () => inverseBlockMask(new Rng(0), { gridH: 7, gridW: 7, maskRatio });
      expect(run).toThrow(ConfigError);
      try {
        run();
      } catch (e) {
        expect((e as ConfigError).key).toBe('masking.ratio');
      }
      expect(() => new InverseBlockMasker({ gridH: 7, gridW: 7, maskRatio }, 0)).toThrow(ConfigError);
    }
    try {
      inverseBlockMask(new Rng(0), { gridH: 7, gridW: 7, maskRatio: 0.8, blockSize: 0 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).key).toBe('masking.inverseBlockSize');
    }
  });
});

describe('InverseBlockMasker', () => {
  it('returns the masked positions, shifted past the CLS token, as loss indices', () => {
    const masker = new InverseBlockMasker({ gridH: 7, gridW: 7, maskRatio: 0.8 }, 1);
    const batch = { size: 4, dispose() {} } satisfies Batch;
    const { mask: m, lossIndices, length } = masker.mask(batch, new Rng(3));
    const mask = m!;
    expect(length).toBe(49);
    expect(mask.length).toBe(4 * 49);
    const expected: number[] = [];
    for (let b = 0; b < 4; b++) for (let p = 0; p < 49; p++) if (mask[b * 49 + p]) expected.push(b * 50 + 1 + p);
    expect(expected.length).toBe(4 * 40);
    expect([...lossIndices!]).toEqual(expected);
  });

  it('is what createMasker returns for objective.version 2 (BlockMasker for version 1)', () => {
    const config = (version: 1 | 2) =>
      ({ objective: { version }, vision: { imageSize: 28, patchSize: 4, cls: false }, masking: { ratio: 0.8, minBlockPatches: 16, minAspect: 0.3, inverseBlockSize: 3, inverseBlockAdjust: 0.07 } }) as unknown as VisionConfig;
    expect(modality.createMasker(config(2))).toBeInstanceOf(InverseBlockMasker);
    expect(modality.createMasker(config(1))).toBeInstanceOf(BlockMasker);
  });
});
