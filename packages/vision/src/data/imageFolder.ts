/**
 * torchvision's ImageFolder convention: root/<class>/.../<image>. Class names
 * are the sorted folder names and give the label ids. Images are decoded with
 * sharp (bounded concurrency), converted to the configured channel count,
 * resized, and cached in one Uint8Array: this suits small-image datasets.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import sharp from 'sharp';
import { ConfigError, DataError } from '@d2v/core';
import { InMemoryImageDataset, convertChannels, type SkippedFile } from './memoryDataset.js';

export const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp']);

export interface ImageFolderOptions {
  /** Square side every image is resized to (centre crop of the resized short side). Default: the first image's size. */
  size?: number;
  /** 1 = grey, 3 = RGB (default 3). */
  channels?: 1 | 3;
  /** Skip and count unreadable images instead of failing. */
  skipBad?: boolean;
  /** Images decoded at once (default 4). */
  concurrency?: number;
  /** Fixed class list (label = index), e.g. shared by train and test folders; a folder not in it is an error. */
  classes?: string[];
}

export interface ImageFolderListing {
  root: string;
  classNames: string[];
  files: { file: string; label: number }[];
}

const isImage = (name: string) => IMAGE_EXTENSIONS.has(extname(name).toLowerCase());
// Hidden folders (.git, .ipynb_checkpoints) are never classes.
const isHidden = (name: string) => name.startsWith('.');

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Image files under a folder, recursively, sorted for a stable order. */
export function imagesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (isHidden(name)) continue;
    const path = join(dir, name);
    if (isDir(path)) out.push(...imagesUnder(path));
    else if (isImage(name)) out.push(path);
  }
  return out;
}

/** The class folders of a root that holds class folders directly (sorted), hidden ones excluded. */
export function classFolders(root: string): string[] {
  return readdirSync(root)
    .filter((e) => !isHidden(e) && isDir(join(root, e)))
    .sort();
}

/** Scans root/<class>/... without decoding anything. */
export function listImageFolder(root: string, classes?: string[]): ImageFolderListing {
  if (!existsSync(root)) throw new DataError(root, 'image folder does not exist');
  if (!isDir(root)) throw new DataError(root, 'is not a folder: expected root/<class>/<image>');
  const found = classFolders(root);
  if (found.length === 0) {
    const loose = readdirSync(root).filter(isImage);
    throw new DataError(
      root,
      loose.length > 0
        ? `has ${loose.length} images but no class folders: labels come from folder names (root/<class>/<image>)`
        : 'is empty: expected class folders root/<class>/<image>',
    );
  }
  const classNames = classes ?? found;
  const files: ImageFolderListing['files'] = [];
  for (const name of found) {
    const label = classNames.indexOf(name);
    if (label < 0) throw new DataError(join(root, name), `class folder '${name}' is not among the ${classNames.length} classes [${classNames.join(', ')}]`);
    const imgs = imagesUnder(join(root, name));
    if (imgs.length === 0) throw new DataError(join(root, name), `class folder '${name}' has no images (${[...IMAGE_EXTENSIONS].join(', ')})`);
    for (const file of imgs) files.push({ file, label });
  }
  return { root, classNames, files };
}

export interface DecodedImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Raw HWC uint8 pixels (e.g. from a tensor or a canvas). */
export interface RawImage {
  data: Uint8Array;
  height: number;
  width: number;
  channels: 1 | 2 | 3 | 4;
}

/** An image file, an encoded image in memory (PNG, JPEG, WebP bytes), or raw pixels. */
export type ImageSource = string | Uint8Array | RawImage;

/**
 * Decodes one image to HWC uint8 with `channels` channels; with `size`, resizes the short side to it
 * and centre-crops a square; with `height`/`width`, to exactly that box (same fit).
 */
export async function decodeImage(source: ImageSource, size: number | { height: number; width: number } | undefined, channels: 1 | 3): Promise<DecodedImage> {
  // failOn 'error' rejects truncated files; EXIF orientation is applied so images look as viewed.
  let img =
    typeof source === 'string' || source instanceof Uint8Array
      ? sharp(source, { failOn: 'error', autoOrient: true })
      : sharp(source.data, { raw: { width: source.width, height: source.height, channels: source.channels } });
  if (size !== undefined) {
    const box = typeof size === 'number' ? { height: size, width: size } : size;
    img = img.resize(box.width, box.height, { fit: 'cover' });
  }
  // sharp hands out sRGB (grey inputs as 3 equal bands), with or without alpha, at 8 bits.
  const { data, info } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.length);
  return { data: convertChannels(bytes, info.width * info.height, info.channels, channels), width: info.width, height: info.height };
}

function describeError(err: unknown): string {
  return `unreadable or corrupt image (${(err as Error).message})`;
}

export async function loadImageFolder(root: string, opts: ImageFolderOptions = {}): Promise<InMemoryImageDataset> {
  const channels = opts.channels ?? 3;
  if (channels !== 1 && channels !== 3) throw new ConfigError(`image channels must be 1 or 3, got ${String(channels)}`, 'channels');
  if (opts.size !== undefined && !(Number.isInteger(opts.size) && opts.size > 0)) throw new ConfigError(`image size must be a positive integer, got ${opts.size}`, 'size');
  const { classNames, files } = listImageFolder(root, opts.classes);
  const skipped: SkippedFile[] = [];
  const decoded: (Uint8Array | undefined)[] = new Array(files.length);

  const decodeOne = async (i: number, box: { height: number; width: number } | undefined): Promise<DecodedImage | undefined> => {
    const { file } = files[i]!;
    try {
      return await decodeImage(file, box, channels);
    } catch (err) {
      if (!opts.skipBad) throw new DataError(file, describeError(err), { cause: err });
      skipped.push({ file, reason: describeError(err) });
      return undefined;
    }
  };

  // Without a size, the first readable image fixes it for all others.
  let box = opts.size ? { height: opts.size, width: opts.size } : undefined;
  let next = 0;
  while (!box && next < files.length) {
    const img = await decodeOne(next, undefined);
    if (img) {
      box = { height: img.height, width: img.width };
      decoded[next] = img.data;
    }
    next++;
  }

  let failed = false;
  const worker = async () => {
    while (!failed && next < files.length) {
      const i = next++;
      try {
        decoded[i] = (await decodeOne(i, box))?.data;
      } catch (err) {
        failed = true; // stop the other workers after the first error
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, worker));

  const kept = files.flatMap((f, i) => (decoded[i] ? [i] : []));
  if (kept.length === 0 || !box) {
    throw new DataError(root, `no readable images (${skipped.length} skipped, first: ${skipped[0] ? relative(root, skipped[0].file) : 'none'})`);
  }
  const n = box.height * box.width * channels;
  const pixels = new Uint8Array(kept.length * n);
  kept.forEach((i, j) => pixels.set(decoded[i]!, j * n));
  skipped.sort((a, b) => a.file.localeCompare(b.file));
  return new InMemoryImageDataset(pixels, Int32Array.from(kept, (i) => files[i]!.label), box.height, box.width, channels, classNames, root, skipped);
}
