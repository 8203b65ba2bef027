/**
 * Writes the bundled real-data subset: a class-balanced, seeded sample of
 * Debian's Fashion-MNIST (apt-get install dataset-fashion-mnist) as gzipped IDX.
 *   npx tsx packages/vision/scripts/make-subset.ts [--train 5000] [--test 1000] [--from DIR] [--out DIR]
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '@d2v/core';
import { loadIdxDataset, writeIdx } from '../src/data/idx.js';
import { bundledFashionMnistDir, debianFashionMnistDir } from '../src/data/paths.js';

const arg = (k: string, d: string) => {
  const i = process.argv.indexOf(`--${k}`);
  return i >= 0 ? process.argv[i + 1]! : d;
};
const from = arg('from', debianFashionMnistDir());
const out = arg('out', bundledFashionMnistDir());
mkdirSync(out, { recursive: true });

for (const [split, prefix, count] of [
  ['train', 'train', Number(arg('train', '5000'))],
  ['test', 't10k', Number(arg('test', '1000'))],
] as const) {
  const d = loadIdxDataset(join(from, `${prefix}-images-idx3-ubyte.gz`), join(from, `${prefix}-labels-idx1-ubyte.gz`));
  const rng = new Rng(split === 'train' ? 2022 : 2023);
  const byClass = new Map<number, number[]>();
  rng.shuffle([...Array(d.count).keys()]).forEach((i) => {
    const l = d.labels[i]!;
    if (!byClass.has(l)) byClass.set(l, []);
    byClass.get(l)!.push(i);
  });
  const per = Math.floor(count / byClass.size);
  // Interleave classes so that any prefix of the file is balanced too.
  const picked: number[] = [];
  for (let k = 0; k < per; k++) for (const l of [...byClass.keys()].sort()) picked.push(byClass.get(l)![k]!);
  const px = d.height * d.width;
  const images = new Uint8Array(picked.length * px);
  const labels = new Uint8Array(picked.length);
  picked.forEach((s, j) => {
    images.set(d.images.subarray(s * px, (s + 1) * px), j * px);
    labels[j] = d.labels[s]!;
  });
  writeIdx(join(out, `${prefix}-images-idx3-ubyte.gz`), [picked.length, d.height, d.width], images);
  writeIdx(join(out, `${prefix}-labels-idx1-ubyte.gz`), [picked.length], labels);
  console.log(`${split}: ${picked.length} images (${per} per class) -> ${out}`);
}
