/**
 * Opens a dataset folder as an ImageDataset: IDX files (MNIST / Fashion-MNIST
 * naming) or an ImageFolder tree, with or without train/test sub-folders.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ConfigError, DataError } from '@d2v/core';
import { loadIdxDataset } from './idx.js';
import { classFolders, listImageFolder, loadImageFolder, type ImageFolderOptions } from './imageFolder.js';
import { InMemoryImageDataset, convertChannels, type ImageDataset } from './memoryDataset.js';

export { InMemoryImageDataset, convertChannels } from './memoryDataset.js';
export type { ImageDataset, SkippedFile } from './memoryDataset.js';

export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

export type DatasetSplit = 'train' | 'test';

export interface ImageDatasetSpec extends ImageFolderOptions {
  /** A folder of IDX files or an ImageFolder tree. */
  path?: string;
  /** Explicit IDX files (instead of `path`). */
  images?: string;
  labels?: string;
  /** Default 'train'. */
  split?: DatasetSplit;
}

/** File-name prefixes of each split: MNIST uses `t10k` for the test set. */
const IDX_SPLIT_PREFIXES: Record<DatasetSplit, string[]> = { train: ['train'], test: ['t10k', 'test'] };
/** Folder names of each split in an ImageFolder tree. */
const FOLDER_SPLITS: Record<DatasetSplit, string[]> = { train: ['train'], test: ['test', 'val'] };

// `<prefix>-images-idx3-ubyte[.gz]`; Kaggle's copies use `.idx3` instead of `-idx3`.
const IDX_FILE = /^(.+)-(images|labels)[-.]idx([13])-ubyte(\.gz)?$/;

interface IdxPair {
  prefix: string;
  images: string;
  labels: string;
}

/** IDX image/label pairs in a folder, by prefix; an image file without labels is an error. */
function idxPairs(dir: string): IdxPair[] {
  const byPrefix = new Map<string, { images?: string; labels?: string }>();
  for (const name of readdirSync(dir).sort()) {
    const m = IDX_FILE.exec(name);
    if (!m) continue;
    const [, prefix, kind, rank] = m as unknown as [string, string, 'images' | 'labels', string];
    if ((kind === 'images') !== (rank === '3')) continue;
    const entry = byPrefix.get(prefix) ?? {};
    entry[kind] ??= join(dir, name);
    byPrefix.set(prefix, entry);
  }
  const pairs: IdxPair[] = [];
  for (const [prefix, e] of byPrefix) {
    if (!e.images) throw new DataError(e.labels!, `has no matching images file ${prefix}-images-idx3-ubyte[.gz] beside it`);
    if (!e.labels) throw new DataError(e.images, `has no matching labels file ${prefix}-labels-idx1-ubyte[.gz] beside it`);
    pairs.push({ prefix, images: e.images, labels: e.labels });
  }
  return pairs;
}

function pickIdxPair(dir: string, pairs: IdxPair[], split: DatasetSplit): IdxPair {
  for (const prefix of IDX_SPLIT_PREFIXES[split]) {
    const p = pairs.find((q) => q.prefix === prefix);
    if (p) return p;
  }
  const known = Object.values(IDX_SPLIT_PREFIXES).flat();
  const other = pairs.filter((p) => !known.includes(p.prefix));
  // A single unnamed pair is the training set; it is never reused as a test set.
  if (split === 'train' && other.length === 1) return other[0]!;
  throw new DataError(
    dir,
    `holds IDX files (${pairs.map((p) => p.prefix).join(', ')}) but none for the ${split} split ` +
      `(expected ${IDX_SPLIT_PREFIXES[split].map((p) => `${p}-images-idx3-ubyte[.gz]`).join(' or ')})`,
  );
}

/** Class names of an IDX dataset: classes.txt if present, Fashion-MNIST's for its folders, else digits. */
function idxClassNames(pair: IdxPair, classes: string[] | undefined, labels: Uint8Array): string[] {
  if (classes) return classes;
  const maxLabel = labels.reduce((m, l) => Math.max(m, l), 0);
  if (/fashion/i.test(resolve(pair.images)) && maxLabel < FASHION_MNIST_CLASSES.length) return FASHION_MNIST_CLASSES;
  return Array.from({ length: maxLabel + 1 }, (_, i) => String(i));
}

function loadIdxSplit(pair: IdxPair, channels: 1 | 3 | undefined): InMemoryImageDataset {
  const d = loadIdxDataset(pair.images, pair.labels);
  const c = channels ?? 1;
  const pixels = convertChannels(d.images, d.count * d.height * d.width, 1, c);
  return new InMemoryImageDataset(pixels, d.labels, d.height, d.width, c, idxClassNames(pair, d.classes, d.labels), pair.images);
}

/** The split folders (train/, test/, val/) an ImageFolder root holds. */
function splitFolders(root: string): string[] {
  return [...FOLDER_SPLITS.train, ...FOLDER_SPLITS.test].filter((s) => existsSync(join(root, s)) && statSync(join(root, s)).isDirectory());
}

/** Label ids of an ImageFolder tree: the union of its splits' class folders, so train and test agree. */
function folderClassNames(root: string, splitDirs: string[]): string[] {
  return [...new Set(splitDirs.flatMap((s) => classFolders(join(root, s))))].sort();
}

function loadFolderSplit(root: string, split: DatasetSplit, opts: ImageFolderOptions): Promise<InMemoryImageDataset> {
  const splitDirs = splitFolders(root);
  if (splitDirs.length === 0) {
    // A plain root/<class>/ tree is one split; using it as the test set would report training accuracy.
    if (split === 'test') {
      throw new DataError(root, 'has no test split: put images in root/train/<class>/ and root/test/<class>/ (or root/val/<class>/)');
    }
    return loadImageFolder(root, opts);
  }
  const dir = FOLDER_SPLITS[split].find((s) => splitDirs.includes(s));
  if (!dir) throw new DataError(root, `has ${splitDirs.map((s) => `${s}/`).join(', ')} but no ${FOLDER_SPLITS[split].map((s) => `${s}/`).join(' or ')} folder`);
  const classes = opts.classes ?? folderClassNames(root, splitDirs);
  return loadImageFolder(join(root, dir), { ...opts, classes });
}

/**
 * Loads one split of a dataset. `pathOrSpec` is a folder holding IDX files
 * (`train-images-idx3-ubyte[.gz]` + `train-labels-idx1-ubyte[.gz]`, `t10k-...` or `test-...` for
 * the test split, or a single `<name>-images-idx3-ubyte` pair used as the training split), or an
 * ImageFolder tree (`root/<class>/<image>`, or `root/train/<class>/...` with `root/test|val/...`);
 * or a spec naming explicit IDX files. `size` applies to decoded image files (IDX arrays keep
 * their size); `channels` converts every source (grey IDX -> 3 equal channels).
 */
export async function loadImageDataset(pathOrSpec: string | ImageDatasetSpec, split?: DatasetSplit, opts: ImageFolderOptions = {}): Promise<InMemoryImageDataset> {
  const spec: ImageDatasetSpec = typeof pathOrSpec === 'string' ? { ...opts, path: pathOrSpec } : { ...opts, ...pathOrSpec };
  const which = split ?? spec.split ?? 'train';
  if (which !== 'train' && which !== 'test') throw new ConfigError(`split must be 'train' or 'test', got '${String(which)}'`, 'split');
  const { path, images, labels } = spec;
  const folderOpts: ImageFolderOptions = { size: spec.size, channels: spec.channels, skipBad: spec.skipBad, concurrency: spec.concurrency, classes: spec.classes };
  if (images || labels) {
    if (!images || !labels) throw new ConfigError('an IDX dataset spec needs both `images` and `labels` files', images ? 'labels' : 'images');
    return loadIdxSplit({ prefix: basename(images), images, labels }, spec.channels);
  }
  if (!path) throw new ConfigError('a dataset spec needs `path` (a folder) or `images` + `labels` (IDX files)', 'path');
  if (!existsSync(path)) throw new DataError(path, 'dataset folder does not exist');
  if (!statSync(path).isDirectory()) throw new DataError(path, 'dataset path must be a folder (IDX files or an ImageFolder tree)');
  const pairs = idxPairs(path);
  if (pairs.length > 0) return loadIdxSplit(pickIdxPair(path, pairs, which), spec.channels);
  return loadFolderSplit(path, which, folderOpts);
}

/**
 * Class names (label id = index) of a dataset folder's training split, decoding no image file:
 * what a fine-tuned classifier's outputs mean.
 */
export function datasetClassNames(path: string): string[] {
  if (!existsSync(path) || !statSync(path).isDirectory()) throw new DataError(path, 'dataset folder does not exist');
  const pairs = idxPairs(path);
  if (pairs.length > 0) return loadIdxSplit(pickIdxPair(path, pairs, 'train'), 1).classNames;
  const splitDirs = splitFolders(path);
  return splitDirs.length ? folderClassNames(path, splitDirs) : listImageFolder(path).classNames;
}
