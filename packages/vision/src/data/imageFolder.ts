/**
 * torchvision's ImageFolder convention: root/<class>/<image>. Images are
 * decoded with sharp, converted to the configured channel count and resized,
 * and cached in one Uint8Array (small-image datasets fit in memory).
 */
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import sharp from 'sharp';
import { DataError } from '@d2v/core';
import { InMemoryImageDataset } from './dataset.js';

export const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp']);

export interface ImageFolderOptions {
  /** Square side every image is resized to (default: the first image's size). */
  size?: number;
  /** 1 = grey, 3 = RGB (default 3). */
  channels?: 1 | 3;
  /** Skip and count unreadable images instead of failing. */
  skipBad?: boolean;
  /** Images decoded at once. */
  concurrency?: number;
}

export async function decodeImage(file: string, size: number | undefined, channels: 1 | 3): Promise<{ data: Uint8Array; width: number; height: number }> {
  let img = sharp(file, { failOn: 'error' }).removeAlpha();
  img = channels === 1 ? img.toColourspace('b-w') : img.toColourspace('srgb');
  if (size) img = img.resize(size, size, { fit: 'cover' });
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== channels) {
    // sharp keeps 3 bands for some grey inputs: take the first band or expand grey to RGB.
    const out = new Uint8Array(info.width * info.height * channels);
    for (let p = 0; p < info.width * info.height; p++)
      for (let c = 0; c < channels; c++) out[p * channels + c] = data[p * info.channels + Math.min(c, info.channels - 1)]!;
    return { data: out, width: info.width, height: info.height };
  }
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

export async function loadImageFolder(root: string, opts: ImageFolderOptions = {}): Promise<InMemoryImageDataset> {
  const channels = opts.channels ?? 3;
  const entries = readdirSync(root);
  const classes = entries.filter((e) => statSync(join(root, e)).isDirectory()).sort();
  if (classes.length === 0) {
    const loose = entries.filter((e) => IMAGE_EXTENSIONS.has(extname(e).toLowerCase()));
    throw new DataError(
      root,
      loose.length
        ? `has ${loose.length} images but no class folders: labels come from folder names (root/<class>/<image>)`
        : 'is empty: expected class folders root/<class>/<image>',
    );
  }
  const files: { file: string; label: number }[] = [];
  classes.forEach((c, label) => {
    const imgs = readdirSync(join(root, c))
      .filter((f) => IMAGE_EXTENSIONS.has(extname(f).toLowerCase()))
      .sort();
    if (!imgs.length) throw new DataError(join(root, c), `class folder '${c}' has no images (${[...IMAGE_EXTENSIONS].join(', ')})`);
    for (const f of imgs) files.push({ file: join(root, c, f), label });
  });

  let size = opts.size;
  const decoded: ({ data: Uint8Array; label: number } | undefined)[] = new Array(files.length);
  const skipped: { file: string; reason: string }[] = [];
  const conc = Math.max(1, opts.concurrency ?? 8);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      const { file, label } = files[i]!;
      try {
        const img = await decodeImage(file, size, channels);
        if (!size) {
          if (img.width !== img.height) throw new DataError(file, `is ${img.width}x${img.height}: set vision.imageSize to resize to a square`);
          size = img.width;
        }
        decoded[i] = { data: img.data, label };
      } catch (err) {
        const reason = err instanceof DataError ? err.message : `unreadable or corrupt image (${(err as Error).message})`;
        if (!opts.skipBad) throw err instanceof DataError ? err : new DataError(file, reason, { cause: err });
        skipped.push({ file, reason });
      }
    }
  };
  // The first image fixes the size when none is given, so decode it alone first.
  if (!size) await worker().catch((e) => Promise.reject(e));
  else await Promise.all(Array.from({ length: conc }, worker));
  const ok = decoded.filter((d): d is { data: Uint8Array; label: number } => !!d);
  if (!ok.length) throw new DataError(root, `no readable images (${skipped.length} skipped)`);
  const n = size! * size! * channels;
  const pixels = new Uint8Array(ok.length * n);
  ok.forEach((d, i) => pixels.set(d.data, i * n));
  return new InMemoryImageDataset(pixels, Int32Array.from(ok, (d) => d.label), size!, size!, channels, classes, root, skipped);
}
