/** A common in-memory image dataset for IDX files and image folders. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '@d2v/core';
import { loadIdxDataset } from './idx.js';
import { loadImageFolder, type ImageFolderOptions } from './imageFolder.js';

export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

export interface ImageDataset {
  readonly length: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly numClasses: number;
  readonly classNames: string[];
  /** Where it came from, for logs. */
  readonly source: string;
  /** Files skipped as unreadable (skipBad). */
  readonly skipped: { file: string; reason: string }[];
  /** Pixels HWC (uint8) and the label of sample i. */
  get(i: number): { pixels: Uint8Array; label: number };
}

export class InMemoryImageDataset implements ImageDataset {
  constructor(
    readonly pixels: Uint8Array,
    readonly labels: Uint8Array | Int32Array,
    readonly height: number,
    readonly width: number,
    readonly channels: number,
    readonly classNames: string[],
    readonly source: string,
    readonly skipped: { file: string; reason: string }[] = [],
  ) {}
  get length(): number {
    return this.labels.length;
  }
  get numClasses(): number {
    return this.classNames.length;
  }
  get(i: number) {
    const n = this.height * this.width * this.channels;
    return { pixels: this.pixels.subarray(i * n, (i + 1) * n), label: this.labels[i]! };
  }
  /** The first `count` samples of each class, in order (for few-label fine-tuning). */
  subsetPerClass(perClass: number): InMemoryImageDataset {
    const seen = new Map<number, number>();
    const keep: number[] = [];
    for (let i = 0; i < this.length; i++) {
      const l = this.labels[i]!;
      if ((seen.get(l) ?? 0) < perClass) {
        seen.set(l, (seen.get(l) ?? 0) + 1);
        keep.push(i);
      }
    }
    const n = this.height * this.width * this.channels;
    const px = new Uint8Array(keep.length * n);
    keep.forEach((s, j) => px.set(this.pixels.subarray(s * n, (s + 1) * n), j * n));
    return new InMemoryImageDataset(px, Int32Array.from(keep, (s) => this.labels[s]!), this.height, this.width, this.channels, this.classNames, `${this.source} (${perClass}/class)`);
  }
}

const IDX_NAMES = { train: 'train', test: 't10k' } as const;

function findIdx(dir: string, split: 'train' | 'test'): { images: string; labels: string } | undefined {
  const files = readdirSync(dir);
  const pick = (kind: string) =>
    files.find((f) => f.startsWith(`${IDX_NAMES[split]}-${kind}`) && /idx\d-ubyte(\.gz)?$/.test(f)) ??
    files.find((f) => f.startsWith(`${split}-${kind}`) && /idx\d-ubyte(\.gz)?$/.test(f));
  const images = pick('images');
  const labels = pick('labels');
  return images && labels ? { images: join(dir, images), labels: join(dir, labels) } : undefined;
}

/**
 * Loads a dataset folder: IDX files (`train-images-idx3-ubyte[.gz]`, `t10k-...` for test) or an
 * ImageFolder tree (`root/<split>/<class>/*.png`, or `root/<class>/*.png` for a single split).
 */
export async function loadImageDataset(path: string, split: 'train' | 'test', opts: ImageFolderOptions = {}): Promise<ImageDataset> {
  if (!existsSync(path)) throw new DataError(path, 'dataset folder does not exist');
  if (!statSync(path).isDirectory()) throw new DataError(path, 'dataset path must be a folder (IDX files or an ImageFolder tree)');
  const idx = findIdx(path, split);
  if (idx) {
    const d = loadIdxDataset(idx.images, idx.labels);
    const max = d.labels.reduce((m, l) => Math.max(m, l), 0);
    const names = max < 10 && d.height === 28 ? FASHION_MNIST_CLASSES : Array.from({ length: max + 1 }, (_, i) => String(i));
    return new InMemoryImageDataset(d.images, d.labels, d.height, d.width, 1, names, idx.images);
  }
  const splitDir = join(path, split);
  const root = existsSync(splitDir) && statSync(splitDir).isDirectory() ? splitDir : path;
  return loadImageFolder(root, opts);
}
