/**
 * Writes the bundled real-data subset: a class-balanced, seeded sample of
 * Debian's Fashion-MNIST (apt-get install dataset-fashion-mnist) as gzipped
 * IDX files plus classes.txt. The output bytes depend only on the arguments.
 *   npx tsx packages/vision/scripts/make-subset.ts [--train 5000] [--test 1000] [--seed 2022] [--from DIR] [--out DIR]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '@d2v/core';
import { loadIdxDataset, writeIdx, type IdxDataset } from '../src/data/idx.js';
import { FASHION_MNIST_CLASSES } from '../src/data/dataset.js';
import { bundledFashionMnistDir, debianFashionMnistDir } from '../src/data/paths.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = process.argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`--${name} needs a value`);
  return v;
}

function count(name: string, fallback: number): number {
  const v = Number(arg(name, String(fallback)));
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a non-negative integer`);
  return v;
}

/**
 * `perClass` images of every class, drawn without replacement in a seeded random order; classes
 * are interleaved (0, 1, ..., 9, 0, 1, ...) so that any prefix of the output is balanced too.
 */
function balancedSample(d: IdxDataset, perClass: number, rng: Rng): number[] {
  const byClass = new Map<number, number[]>();
  for (const i of rng.shuffle(Array.from({ length: d.count }, (_, k) => k))) {
    const l = d.labels[i]!;
    if (!byClass.has(l)) byClass.set(l, []);
    byClass.get(l)!.push(i);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  for (const l of classes) {
    if (byClass.get(l)!.length < perClass) throw new Error(`class ${l} has only ${byClass.get(l)!.length} images, ${perClass} requested`);
  }
  const picked: number[] = [];
  for (let k = 0; k < perClass; k++) for (const l of classes) picked.push(byClass.get(l)![k]!);
  return picked;
}

function main(): void {
  const from = arg('from', debianFashionMnistDir());
  const out = arg('out', bundledFashionMnistDir());
  const seed = count('seed', 2022);
  mkdirSync(out, { recursive: true });
  const splits = [
    { prefix: 'train', total: count('train', 5000), seed },
    { prefix: 't10k', total: count('test', 1000), seed: seed + 1 },
  ];
  for (const s of splits) {
    const d = loadIdxDataset(join(from, `${s.prefix}-images-idx3-ubyte.gz`), join(from, `${s.prefix}-labels-idx1-ubyte.gz`));
    const numClasses = FASHION_MNIST_CLASSES.length;
    if (s.total % numClasses !== 0) throw new Error(`--${s.prefix === 'train' ? 'train' : 'test'} must be a multiple of ${numClasses} for a balanced sample`);
    const picked = balancedSample(d, s.total / numClasses, new Rng(s.seed));
    const px = d.height * d.width;
    const images = new Uint8Array(picked.length * px);
    const labels = new Uint8Array(picked.length);
    picked.forEach((src, j) => {
      images.set(d.images.subarray(src * px, (src + 1) * px), j * px);
      labels[j] = d.labels[src]!;
    });
    writeIdx(join(out, `${s.prefix}-images-idx3-ubyte.gz`), [picked.length, d.height, d.width], images);
    writeIdx(join(out, `${s.prefix}-labels-idx1-ubyte.gz`), [picked.length], labels);
    console.log(`${s.prefix}: ${picked.length} images (${picked.length / numClasses} per class) -> ${out}`);
  }
  writeFileSync(join(out, 'classes.txt'), FASHION_MNIST_CLASSES.join('\n') + '\n');
}

main();
