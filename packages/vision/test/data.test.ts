import { describe, it, expect } from 'vitest';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { DataError, Rng } from '@d2v/core';
import { readIdx, writeIdx, loadImageDataset, loadImageFolder, bundledFashionMnistDir, FASHION_MNIST_CLASSES, sampleCrop, augmentImage, patchify } from '../src/index.js';
import { tempDir } from '@d2v/core/testing';

const tmp = () => tempDir('vision');

describe('IDX files', () => {
  it('loads the bundled real Fashion-MNIST subset, balanced', async () => {
    const train = await loadImageDataset(bundledFashionMnistDir(), 'train');
    const test = await loadImageDataset(bundledFashionMnistDir(), 'test');
    expect([train.length, test.length]).toEqual([5000, 1000]);
    expect([train.height, train.width, train.channels]).toEqual([28, 28, 1]);
    expect(train.classNames).toEqual(FASHION_MNIST_CLASSES);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < train.length; i++) counts[train.get(i).label]++;
    expect(counts).toEqual(new Array(10).fill(500));
    // Real images: plenty of distinct grey levels, not blank.
    const px = train.get(0).pixels;
    expect(new Set(px).size).toBeGreaterThan(20);
  });

  it('round-trips plain and gzipped files and names broken ones', () => {
    const d = tmp();
    const data = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
    writeIdx(join(d, 'a-idx3-ubyte'), [2, 3, 4], data);
    writeIdx(join(d, 'a-idx3-ubyte.gz'), [2, 3, 4], data);
    expect(readIdx(join(d, 'a-idx3-ubyte')).dims).toEqual([2, 3, 4]);
    expect([...readIdx(join(d, 'a-idx3-ubyte.gz')).data]).toEqual([...data]);
    const full = readFileSync(join(d, 'a-idx3-ubyte'));
    writeFileSync(join(d, 'trunc'), full.subarray(0, full.length - 5));
    expect(() => readIdx(join(d, 'trunc'))).toThrow(/trunc: truncated: header says 2x3x4/);
    writeFileSync(join(d, 'garbage'), Buffer.from('hello world, not idx'));
    expect(() => readIdx(join(d, 'garbage'))).toThrow(DataError);
    expect(() => readIdx(join(d, 'garbage'))).toThrow(/garbage: not an IDX file/);
    writeFileSync(join(d, 'badgz'), Buffer.concat([gzipSync(full).subarray(0, 12)]));
    expect(() => readIdx(join(d, 'badgz'))).toThrow(/badgz: corrupt gzip/);
    expect(() => readIdx(join(d, 'missing'))).toThrow(/missing: cannot read/);
  });
});

describe('image folders', () => {
  async function makeFolder(): Promise<string> {
    const root = tmp();
    for (const [cls, colour] of [['cat', { r: 200, g: 30, b: 30 }], ['dog', { r: 30, g: 30, b: 200 }]] as const) {
      mkdirSync(join(root, cls));
      for (let i = 0; i < 3; i++) {
        const img = sharp({ create: { width: 20 + i, height: 20 + i, channels: 3, background: colour } });
        await (i === 1 ? img.jpeg() : img.png()).toFile(join(root, cls, `${i}.${i === 1 ? 'jpg' : 'png'}`));
      }
    }
    return root;
  }

  it('decodes, resizes and labels by folder; grey conversion', async () => {
    const root = await makeFolder();
    const ds = await loadImageFolder(root, { size: 16, channels: 3 });
    expect(ds.classNames).toEqual(['cat', 'dog']);
    expect(ds.length).toBe(6);
    const cat = ds.get(0);
    expect(cat.label).toBe(0);
    expect(cat.pixels[0]).toBeGreaterThan(150);
    expect(cat.pixels[2]).toBeLessThan(80);
    const grey = await loadImageFolder(root, { size: 8, channels: 1 });
    expect(grey.channels).toBe(1);
    expect(grey.get(0).pixels.length).toBe(64);
  });

  it('a corrupt image stops with its name, or is skipped and counted with skipBad', async () => {
    const root = await makeFolder();
    writeFileSync(join(root, 'dog', 'broken.png'), Buffer.from('\x89PNG\r\n\x1a\nthis is not really a png'));
    await expect(loadImageFolder(root, { size: 16 })).rejects.toThrow(/broken\.png/);
    const ds = await loadImageFolder(root, { size: 16, skipBad: true });
    expect(ds.length).toBe(6);
    expect(ds.skipped).toHaveLength(1);
    expect(ds.skipped[0]!.file).toContain('broken.png');
  });

  it('empty and label-less folders are clear errors', async () => {
    const empty = tmp();
    await expect(loadImageFolder(empty)).rejects.toThrow(/is empty/);
    const flat = tmp();
    await sharp({ create: { width: 4, height: 4, channels: 3, background: 'white' } }).png().toFile(join(flat, 'x.png'));
    await expect(loadImageFolder(flat)).rejects.toThrow(/no class folders/);
    const noImgs = tmp();
    mkdirSync(join(noImgs, 'a'));
    await expect(loadImageFolder(noImgs)).rejects.toThrow(/class folder 'a' has no images/);
    await expect(loadImageDataset(join(noImgs, 'nope'), 'train')).rejects.toThrow(/does not exist/);
  });
});

describe('augmentation and patches', () => {
  it('crops inside the image, is deterministic per seed, and patchify keeps pixels', () => {
    for (let i = 0; i < 50; i++) {
      const c = sampleCrop(new Rng(i), 28, 28, { scale: [0.35, 1], ratio: [0.75, 1.33] });
      expect(c.y + c.ch).toBeLessThanOrEqual(28);
      expect(c.x + c.cw).toBeLessThanOrEqual(28);
    }
    const src = Uint8Array.from({ length: 28 * 28 }, (_, i) => i % 251);
    const o = { randomResizedCrop: true, scale: [0.35, 1] as [number, number], ratio: [0.75, 1.33] as [number, number], hflip: true };
    const a = new Float32Array(784);
    const b = new Float32Array(784);
    augmentImage(new Rng(7), src, 28, 28, 1, 28, o, a);
    augmentImage(new Rng(7), src, 28, 28, 1, 28, o, b);
    expect([...a]).toEqual([...b]);
    const plain = new Float32Array(784);
    augmentImage(undefined, src, 28, 28, 1, 28, o, plain);
    expect([...plain]).toEqual([...src]);
    const patches = new Float32Array(784);
    patchify(plain, 28, 1, 4, patches, 0);
    // Patch 1 (row 0, col 1), its second row starts at pixel (1, 4).
    expect(patches[16 + 4]).toBe(src[28 + 4]);
  });
});
