/** The common dataset interface of IDX files and image folders, and its in-memory implementation. */
import { ShapeError, type SkippedFile } from '@d2v/core';

export type { SkippedFile };

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
  readonly skipped: SkippedFile[];
  /** Pixels HWC (uint8, a view: do not modify) and the label of sample i. */
  get(i: number): { pixels: Uint8Array; label: number };
}

/** All images in one Uint8Array [N, H, W, C]. */
export class InMemoryImageDataset implements ImageDataset {
  constructor(
    readonly pixels: Uint8Array,
    readonly labels: Uint8Array | Int32Array,
    readonly height: number,
    readonly width: number,
    readonly channels: number,
    readonly classNames: string[],
    readonly source: string,
    readonly skipped: SkippedFile[] = [],
  ) {
    const expected = labels.length * height * width * channels;
    if (pixels.length !== expected) {
      throw new ShapeError(`${source}: ${labels.length} images of ${height}x${width}x${channels} need ${expected} bytes, got ${pixels.length}`);
    }
  }

  get length(): number {
    return this.labels.length;
  }

  get numClasses(): number {
    return this.classNames.length;
  }

  get(i: number): { pixels: Uint8Array; label: number } {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`${this.source}: image index ${i} outside [0, ${this.length})`);
    const n = this.height * this.width * this.channels;
    return { pixels: this.pixels.subarray(i * n, (i + 1) * n), label: this.labels[i]! };
  }

  /** The first `perClass` samples of each class, in order (for few-label fine-tuning). */
  subsetPerClass(perClass: number): InMemoryImageDataset {
    const seen = new Map<number, number>();
    const keep: number[] = [];
    for (let i = 0; i < this.length; i++) {
      const l = this.labels[i]!;
      const k = seen.get(l) ?? 0;
      if (k < perClass) {
        seen.set(l, k + 1);
        keep.push(i);
      }
    }
    return this.select(keep, `${this.source} (${perClass}/class)`);
  }

  /** A copy holding the given samples, in the given order. */
  select(indices: number[], source = `${this.source} (${indices.length} selected)`): InMemoryImageDataset {
    const n = this.height * this.width * this.channels;
    const px = new Uint8Array(indices.length * n);
    indices.forEach((s, j) => px.set(this.get(s).pixels, j * n));
    return new InMemoryImageDataset(px, Int32Array.from(indices, (s) => this.labels[s]!), this.height, this.width, this.channels, this.classNames, source, this.skipped);
  }
}

/**
 * Converts HWC uint8 pixels between 1 (grey), 3 (RGB) and, on input only, 2 (grey + alpha) and
 * 4 (RGBA) channels. Alpha is dropped (like PIL's convert); RGB -> grey uses ITU-R 601 luma.
 */
export function convertChannels(src: Uint8Array, pixels: number, from: number, to: 1 | 3): Uint8Array {
  if (from === to) return src;
  if (from < 1 || from > 4) throw new ShapeError(`cannot convert images with ${from} channels`);
  const out = new Uint8Array(pixels * to);
  const colour = from >= 3;
  for (let p = 0; p < pixels; p++) {
    const s = p * from;
    if (to === 1) {
      out[p] = colour ? Math.round(0.299 * src[s]! + 0.587 * src[s + 1]! + 0.114 * src[s + 2]!) : src[s]!;
    } else if (colour) {
      out[p * 3] = src[s]!;
      out[p * 3 + 1] = src[s + 1]!;
      out[p * 3 + 2] = src[s + 2]!;
    } else {
      out[p * 3] = out[p * 3 + 1] = out[p * 3 + 2] = src[s]!;
    }
  }
  return out;
}
